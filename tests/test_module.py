"""algrid as a Snakemake module of a researcher's own workflow (what `snakedeploy deploy-workflow` writes, with a
local path for the snakefile), run from a scratch directory: the user's config/config.yaml over algrid's tasks and
defaults, a task registered there (the user's own data file), a rule of the user's reading algrid's output; a dry
run, then the smallest grid built."""

import json
import os
import subprocess

import pandas as pd
import pytest
import yaml

from algrid.planning import read_module_configfiles
from conftest import DATA_ROOT, REPO, SNAKEMAKE, planned_jobs

pytestmark = pytest.mark.workflow
USER_SNAKEFILE = """configfile: "config/config.yaml"


module algrid:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from algrid


rule best_strategy:  # the user's own rule, on algrid's output
    input:
        rules.aggregate.output.csv,
    output:
        "results/mine/best.json",
    log:
        "results/logs/best_strategy.log",
    run:
        import pandas as pd

        frame = pd.read_csv(input[0])
        best = frame[frame.strategy != "base"].sort_values("accuracy").iloc[-1]
        pd.Series({{"strategy": best.strategy, "accuracy": best.accuracy, "tasks": config["finetune"]["tasks"]}}).to_json(
            output[0]
        )


rule mine:
    default_target: True
    input:
        rules.all.input,
        rules.best_strategy.output,
"""
FIELDS = {"input": "question", "target": "answer"}
SUMS = {"path": "data/sums.jsonl", "fields": FIELDS, "sample": "first"}
USER_CONFIG = {
    "data_root": str(DATA_ROOT),  # algrid's own tasks read it; the user's task reads its file under the workdir
    "tasks": {"my-sums": {"family": "math", "metric": "numeric", "splits": {
        "fewshot": {**SUMS, "limit": 2}, "pool": {**SUMS, "skip": 2, "limit": 12}, "eval": {**SUMS, "skip": 14}}}},
    "finetune": {"tasks": ["my-sums"], "eval_tasks": ["my-sums"], "models": ["smollm2-135m"], "presets": ["tiny"],
                 "strategies": ["random"], "budgets": [4], "rounds": [1], "seeds": [0]},
    "presets": {"tiny": {"epochs": 1, "batch_size": 2, "max_length": 192, "fewshot_k": 1, "max_new_tokens": 8,
                         "eval_batch_size": 4}},
}
RUN = "results/finetune/my-sums/smollm2-135m/tiny/random/b4-m1/seed0/round1"


def user_workflow(path, model_dir=None):
    """The researcher's directory: their Snakefile using algrid as a module, their config, their data."""
    (path / "config").mkdir(parents=True)
    (path / "data").mkdir()
    (path / "Snakefile").write_text(USER_SNAKEFILE.format(snakefile=REPO / "Snakefile"))
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(USER_CONFIG))
    rows = [{"question": f"What is {a} + {b}?", "answer": str(a + b)} for a, b in zip(range(10, 28), range(31, 49))]
    (path / "data" / "sums.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if model_dir is not None:  # the prepared SmolLM2 (conftest), instead of converting it again
        (path / "results" / "models").mkdir(parents=True)
        (path / "results" / "models" / "smollm2-135m").symlink_to(model_dir)
    return path


def run(wd, *args, check=True):
    """`snakemake` as the user runs it: in their directory, no -s, -d or --configfile."""
    env = {k: v for k, v in os.environ.items() if k != "ALGRID_DATA_ROOT"}  # data_root from the user's config
    proc = subprocess.run([str(SNAKEMAKE), *args], cwd=wd, capture_output=True, text=True,
                          env={**env, "HF_HUB_OFFLINE": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def test_dry_run_plans_the_users_grid_and_rule(tmp_path):
    wd = user_workflow(tmp_path / "mine")
    jobs = planned_jobs(run(wd, "-n"))
    assert jobs["train_adapter"] == 1 and jobs["predict_base"] == 1 and jobs["prepare_model"] == 1
    assert jobs["best_strategy"] == 1 and jobs["mine"] == 1 and "all" not in jobs
    assert "icl_predict" not in jobs and not (wd / "results").exists()


def test_the_users_keys_win_and_the_command_line_wins_over_them(tmp_path):
    wd = user_workflow(tmp_path / "mine")
    (wd / "more.yaml").write_text(yaml.safe_dump({"finetune": {"budgets": [4, 6]}}))
    jobs = planned_jobs(run(wd, "-n", "--configfile", "more.yaml"))
    assert jobs["train_adapter"] == 2  # --configfile over the user's config


def test_module_config_goes_over_algrids_tasks_and_defaults():
    class Workflow:
        configfiles = []

    config = {"presets": {"tiny": {"max_new_tokens": 8}}, "tasks": {"my-sums": USER_CONFIG["tasks"]["my-sums"]}}
    user = config
    read_module_configfiles(Workflow, config, [REPO / "config/tasks.yaml", REPO / "config/defaults.yaml"])
    assert config is user  # in place: the user's own rules see the resolved config
    assert config["presets"]["tiny"]["max_new_tokens"] == 8 and config["presets"]["tiny"]["lora_r"] == 8
    assert {"my-sums", "two-digit-addition", "gsm8k"} <= set(config["tasks"])
    assert "finetune" in config and "strategies" not in config["finetune"]  # the grid is the user's, not config.yaml


def test_a_bad_user_config_is_one_algrid_line(tmp_path):
    wd = user_workflow(tmp_path / "mine")
    proc = run(wd, "-n", "--config", "finetune={strategies: [randon]}", check=False)
    assert proc.returncode != 0 and "algrid: " in proc.stderr and "random" in proc.stderr


def test_builds_the_smallest_grid_as_a_module(tmp_path, model_dir):
    wd = user_workflow(tmp_path / "mine", model_dir)
    run(wd, "-c2")
    frame = pd.read_csv(wd / "results/final_metrics.csv")
    assert set(frame.strategy) == {"base", "random"} and set(frame.eval_task) == {"my-sums"}
    assert (frame.n_total == 4).all()
    best = json.loads((wd / "results/mine/best.json").read_text())
    assert best["strategy"] == "random" and best["tasks"] == ["my-sums"]
    assert (wd / RUN / "adapter/adapter_model.safetensors").is_file()
    assert (wd / "results/final_metrics.html").is_file() and not (REPO / "results" / "mine").exists()
    assert planned_jobs(run(wd, "-n")) == {}
    run(wd, "--report", "report.html")
    assert (wd / "report.html").stat().st_size > 10_000
