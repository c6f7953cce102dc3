"""finetune.lm_eval: lm-evaluation-harness tasks as an evaluation of every adapter, end to end through Snakemake on
the tiny grid (one strategy, one round) with SmolLM2 and a local-file lm-eval task (a task YAML whose dataset is a
local json file, so nothing is fetched): lm-eval's results json is a declared output of one job per adapter and
per base model, its metric and stderr join final_metrics.csv and summary.csv, the numbers equal a direct
lm_eval.simple_evaluate call on the same adapter, and bad input stops with one line naming the key."""

import json

import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_GRID, REPO, TINY, planned_jobs, snakemake, workdir

pytestmark = pytest.mark.workflow
TASK = "algrid_addition"
LIMIT = 4
# two-digit additions as lm-eval multiple choice (log-likelihood of each answer after "Q: ... A:")
ROWS = [{"question": f"Calculate {a} + {b}.", "choices": [str(a + b + d) for d in offsets], "label": offsets.index(0)}
        for a, b, offsets in [(12, 30, (0, 10, -10)), (25, 14, (-10, 0, 10)), (40, 41, (-10, 10, 0)),
                              (11, 11, (0, -1, 1)), (33, 20, (-10, 0, 10)), (47, 22, (0, 1, -1))]]


def task_dir(root):
    """A directory with one lm-eval task YAML whose dataset is a local json file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "rows.json").write_text(json.dumps(ROWS))
    (root / f"{TASK}.yaml").write_text(yaml.safe_dump({
        "task": TASK, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(root / "rows.json")}},
        "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "Q: {{question}}\nA:",
        "doc_to_choice": "{{choices}}", "doc_to_target": "label",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0}}))
    return root


def grid(wd, model_dir, **lm_eval) -> list:
    """The tiny grid, cut to one strategy and one round, SmolLM2 from the prepared test copy, and lm_eval."""
    path = wd / "lm_eval.yaml"
    path.write_text(yaml.safe_dump({
        "models": {"smollm2-135m": {"source": {"type": "local", "path": str(model_dir)}}},
        "finetune": {"strategies": ["random"], "rounds": [1],
                     "lm_eval": {"tasks": [TASK], "include_path": str(wd / "lm_tasks"), "limit": LIMIT,
                                 "batch_size": 2, **lm_eval}}}))
    return [DEFAULT_GRID, TINY, path]


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir, data_root):
    wd = workdir(tmp_path_factory.mktemp("lm-eval"))
    task_dir(wd / "lm_tasks")
    configs = grid(wd, model_dir)
    plan = planned_jobs(snakemake(wd, "-n", configfiles=configs))
    snakemake(wd, "-c2", configfiles=configs)
    return wd, plan, configs


ROUND = "results/finetune/two-digit-addition/smollm2-135m/tiny/random/b4-m1/seed0/round1"
BASE = "results/lm-eval/base/smollm2-135m"


def test_one_lm_eval_job_per_adapter_and_base_model(built):
    wd, plan, _ = built
    assert plan["lm_eval_round"] == 1 and plan["lm_eval_base"] == 1 and "lm_eval_adapter" not in plan
    assert plan["train_adapter"] == 1 and plan["predict_round"] == 1
    for path in (f"{ROUND}/lm-eval/results.json", f"{BASE}/results.json"):
        results = json.loads((wd / path).read_text())
        assert results["results"][TASK]["alias"] == TASK
        assert results["n-samples"][TASK] == {"original": len(ROWS), "effective": LIMIT}
        assert results["config"]["model"] == "hf" and results["config"]["limit"] == LIMIT
        assert results["lm_eval_version"] == "0.4.13" and results["versions"][TASK] == 1.0
        assert results["algrid"]["versions"]["peft"] and results["algrid"]["device"] == "cpu"
        assert results["configs"][TASK]["dataset_kwargs"]["data_files"]["test"].endswith("rows.json")
    adapter = json.loads((wd / ROUND / "lm-eval/results.json").read_text())["config"]["model_args"]["peft"]
    assert adapter.endswith(f"{ROUND}/adapter")
    assert "peft" not in json.loads((wd / BASE / "results.json").read_text())["config"]["model_args"]


def test_metric_and_stderr_join_final_metrics_summary_and_report(built):
    wd, _, _ = built
    frame = pd.read_csv(wd / "results/final_metrics.csv")
    lm = frame[frame.eval_task == f"lm_eval:{TASK}"]
    assert set(lm.metric) == {"acc,none", "acc_norm,none"}
    assert set(lm.strategy) == {"base", "random"} and len(lm) == 4
    assert (lm.n_total == LIMIT).all() and lm.score.between(0, 1).all() and (lm.score_stderr > 0).all()
    own = frame[frame.eval_task == "two-digit-addition"]
    assert set(own.strategy) == {"base", "random"}  # beside algrid's own evaluation
    for path, strategy in ((f"{ROUND}/lm-eval/results.json", "random"), (f"{BASE}/results.json", "base")):
        entry = json.loads((wd / path).read_text())["results"][TASK]
        row = lm[(lm.strategy == strategy) & (lm.metric == "acc,none")].iloc[0]
        assert row.score == entry["acc,none"] and row.score_stderr == entry["acc_stderr,none"]
        assert row.lm_eval_file == path
    summary = pd.read_csv(wd / "results/summary.csv")
    cells = summary[summary.eval_task == f"lm_eval:{TASK}"]
    assert len(cells) == 4 and (cells.n_seeds == 1).all() and (cells.n_items == LIMIT).all()
    merged = cells.merge(lm[["strategy", "metric", "score", "score_stderr"]], on=["strategy", "metric"])
    assert (merged.accuracy_mean == merged.score).all() and (merged.stderr == merged.score_stderr).all()
    assert (merged.accuracy_ci_low < merged.score).all() and (merged.score < merged.accuracy_ci_high).all()
    assert (merged.accuracy_ci_low >= 0).all() and (merged.accuracy_ci_high <= 1).all()
    assert cells.ci_method.str.startswith("lm-eval stderr").all()
    html = (wd / "results/final_metrics.html").read_text()
    assert f"lm_eval:{TASK}" in html and "acc_norm,none" in html
    assert (wd / "results/plots/learning_curve.png").stat().st_size > 10_000


def test_numbers_equal_a_direct_simple_evaluate_on_the_same_adapter(built, model_dir):
    import lm_eval
    from lm_eval.tasks import TaskManager

    wd, _, _ = built
    direct = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(wd / "results/models/smollm2-135m"), "dtype": "float32",
                                "device": "cpu", "peft": str(wd / ROUND / "adapter")},
        tasks=[TASK], limit=LIMIT, batch_size=2, log_samples=False,
        task_manager=TaskManager(include_path=str(wd / "lm_tasks"), include_defaults=False))
    ours = json.loads((wd / ROUND / "lm-eval/results.json").read_text())["results"][TASK]
    theirs = direct["results"][TASK]
    for key in ("acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-12), key
    frame = pd.read_csv(wd / "results/final_metrics.csv")
    row = frame[(frame.eval_task == f"lm_eval:{TASK}") & (frame.strategy == "random") & (frame.metric == "acc,none")]
    assert row.score.item() == pytest.approx(theirs["acc,none"], abs=1e-12)


def test_metrics_to_keep_reach_only_the_aggregate_job(built, model_dir):
    """finetune.lm_eval.metrics picks what joins final_metrics; no lm-eval job reruns for it. A metric the task
    does not produce stops the aggregate job with one line naming the key."""
    wd, _, configs = built
    keep = grid(wd, model_dir, metrics={TASK: ["acc"]})
    jobs = planned_jobs(snakemake(wd, "-n", configfiles=keep))
    assert "lm_eval_round" not in jobs and "lm_eval_base" not in jobs and jobs["aggregate"] == 1
    grid(wd, model_dir, metrics={TASK: ["f1"]})
    proc = snakemake(wd, "-c1", "results/final_metrics.csv", configfiles=keep, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    line = (f"config key 'finetune.lm_eval.metrics.{TASK}': lm-eval task '{TASK}' produces no metric 'f1' "
            "(it reports: acc,none, acc_norm,none)")
    assert [x for x in proc.stderr.splitlines() if x.startswith("algrid:")] == [f"algrid: {line}"]
    assert (wd / "results/logs/aggregate.log").read_text().strip().splitlines()[-1].endswith(line)
    grid(wd, model_dir)  # the fixture's grid again, for whatever runs after this test
    snakemake(wd, "-c1", "results/final_metrics.csv", configfiles=configs)


def test_no_lm_eval_tasks_plans_exactly_as_before(tmp_path):
    wd = workdir(tmp_path / "wd")
    default = planned_jobs(snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY)))
    assert not {r for r in default if r.startswith("lm_eval")}
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({"finetune": {"lm_eval": {"tasks": [], "include_path": "nowhere"}}}))
    assert planned_jobs(snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, off))) == default


def bad_line(tmp_path, lm_eval: dict) -> str:
    wd = workdir(tmp_path / "wd")
    task_dir(wd / "lm_tasks")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"finetune": {"lm_eval": {"include_path": str(wd / "lm_tasks"), **lm_eval}}}))
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, bad), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("lm_eval, expected", [
    ({"tasks": ["algrid_adition"]}, "algrid: config key 'finetune.lm_eval.tasks': unknown lm-eval task "
                                    f"'algrid_adition' (did you mean '{TASK}'?)"),
    ({"tasks": [TASK, "mmlu_nonexistent_subject"]}, "algrid: config key 'finetune.lm_eval.tasks': unknown lm-eval "
                                                    "task 'mmlu_nonexistent_subject'"),
    ({"tasks": [TASK], "metrics": {"gsm8k": ["acc"]}}, "algrid: config key 'finetune.lm_eval.metrics.gsm8k': 'gsm8k' "
                                                       f"is not one of finetune.lm_eval.tasks ({TASK})"),
    ({"tasks": [TASK], "include_path": "no/such/dir"}, "algrid: config key 'finetune.lm_eval.include_path': "
                                                       "'no/such/dir' does not exist"),
    ({"tasks": [TASK], "limit": 2.5}, "algrid: config key 'finetune.lm_eval.limit': 2.5"),
    ({"tasks": [TASK], "shots": 5}, "algrid: config key 'finetune.lm_eval.shots'"),
])
def test_bad_input_is_one_line_naming_the_key_before_any_job(tmp_path, lm_eval, expected):
    assert bad_line(tmp_path, lm_eval).startswith(expected)


def test_the_paper_configs_plan_mmlu_without_the_network(tmp_path):
    """ed_vs_al.yaml and qlora_gsm8k.yaml name lm-eval's Hub task mmlu: they plan offline (HF_HUB_OFFLINE, no
    internet here; task names come from lm-eval's installed registry) one job per base model, final-round adapter
    and published adapter."""
    for name, expected in (("ed_vs_al", {"lm_eval_base": 1, "lm_eval_round": 7 * 2 * 3 * 3}),
                           ("qlora_gsm8k", {"lm_eval_base": 1, "lm_eval_round": 3, "lm_eval_adapter": 3})):
        path = REPO / "config" / "experiments" / f"{name}.yaml"
        assert yaml.safe_load(path.read_text())["finetune"]["lm_eval"]["tasks"] == ["mmlu"]
        jobs = planned_jobs(snakemake(workdir(tmp_path / name), "-n", "--quiet", "rules", configfiles=(path,)))
        assert {r: n for r, n in jobs.items() if r.startswith("lm_eval")} == expected, name


def test_an_unknown_task_at_the_job_start_is_one_config_error(tmp_path, model_dir):
    """Where Snakemake runs without lm-eval (no parse-time check), the job checks with lm-eval's TaskManager."""
    from algrid.errors import ConfigError
    from algrid.finetune import lm_eval_run

    with pytest.raises(ConfigError, match=r"^config key 'finetune.lm_eval.tasks': unknown lm-eval task 'nope_task'"):
        lm_eval_run.evaluate(model_dir, None, tmp_path / "results.json", {"tasks": ["nope_task"],
                             "include_path": [str(task_dir(tmp_path / "t"))]}, {"dtype": "float32"})
    assert not (tmp_path / "results.json").exists()


def test_which_runs_an_lm_eval_grid_evaluates():
    """The base model once per model (rows per preset), each cell's final round (rounds: all, every round), each
    evaluated adapter once (rows per preset it is evaluated with); nothing without tasks."""
    from algrid.finetune import lm_eval_tasks

    config = {"finetune": {"tasks": ["t"], "models": ["m"], "presets": ["p", "q"], "strategies": ["random"],
                           "budgets": [5], "rounds": [1, 2], "seeds": [0], "adapters": {"a": ["p", "q"]},
                           "lm_eval": {"tasks": ["mmlu"]}},
              "adapters": {"a": {"source": "x", "model": "m"}}}
    ids = lm_eval_tasks.result_identities(config)
    rounds = sorted(p for p in ids if p.startswith("results/finetune/"))
    assert rounds == [f"results/finetune/t/m/{p}/random/b5-m{m}/seed0/round{m}/lm-eval/results.json"
                      for p in ("p", "q") for m in (1, 2)]
    assert [i["preset"] for i in ids["results/lm-eval/base/m/results.json"]] == ["p", "q"]
    assert [(i["strategy"], i["adapter"], i["preset"]) for i in ids["results/lm-eval/adapters/a/results.json"]] == [
        ("adapter", "a", "p"), ("adapter", "a", "q")]
    assert ids["results/finetune/t/m/p/random/b5-m2/seed0/round2/lm-eval/results.json"][0]["n_labels"] == 5
    config["finetune"]["lm_eval"]["rounds"] = "all"
    every = lm_eval_tasks.result_identities(config)
    first = every["results/finetune/t/m/p/random/b5-m2/seed0/round1/lm-eval/results.json"][0]
    assert len(every) == len(ids) + 2 and (first["round"], first["n_labels"]) == (1, 3)
    config["finetune"]["lm_eval"]["tasks"] = []
    assert lm_eval_tasks.result_identities(config) == {} and lm_eval_tasks.include_files(config) == []


def test_a_cell_over_seeds_gets_a_t_interval_and_the_stderr_of_its_mean(tmp_path):
    import math

    import pandas as pd

    from algrid import stats
    from algrid.finetune import lm_eval_tasks

    frames = []
    for seed, (acc, err) in enumerate([(0.5, 0.1), (0.7, 0.2)]):
        path = tmp_path / f"s{seed}.json"
        path.write_text(json.dumps({"results": {"mmlu": {"alias": "mmlu", "acc,none": acc, "acc_stderr,none": err}},
                                    "group_subtasks": {"mmlu": ["mmlu_a", "mmlu_b"]},
                                    "n-samples": {"mmlu_a": {"original": 9, "effective": 9},
                                                  "mmlu_b": {"original": 5, "effective": 5}},
                                    "n-shot": {"mmlu": 5}, "config": {"limit": None}, "algrid": {"tasks": ["mmlu"]}}))
        identity = {"family": "finetune", "task": "t", "model": "m", "preset": "p", "strategy": "random", "budget": 4,
                    "rounds": 1, "seed": seed, "round": 1, "n_labels": 4}
        frames += lm_eval_tasks.rows(path, [identity], {"mmlu": ["acc"]})
    frame = pd.DataFrame(frames).assign(accuracy=lambda f: f.score)
    assert list(frame.n_total) == [14, 14] and list(frame.num_fewshot) == [5, 5]
    summary = lm_eval_tasks.summarise(frame, stats._keys(frame), stats.STAT_COLUMNS)
    row = summary.iloc[0]
    mean, _, low, high = stats.t_interval([0.5, 0.7])
    assert (row.n_seeds, row.n_items, row.accuracy_mean) == (2, 14, pytest.approx(0.6))
    assert (row.accuracy_ci_low, row.accuracy_ci_high) == (pytest.approx(low), pytest.approx(high))
    assert row.stderr == pytest.approx(math.sqrt((0.1**2 + 0.2**2) / 2) / math.sqrt(2))
    assert row.ci_method == stats.T_METHOD


def test_an_edited_task_file_reruns_the_lm_eval_jobs_only(built):
    """The files under include_path (the task YAML and its local dataset) are inputs of every lm-eval job."""
    wd, _, configs = built
    rows = wd / "lm_tasks" / "rows.json"
    text = rows.read_text()
    try:
        rows.write_text(json.dumps(ROWS[::-1]))
        jobs = planned_jobs(snakemake(wd, "-n", configfiles=configs))
        assert jobs["lm_eval_round"] == jobs["lm_eval_base"] == 1 and "predict_round" not in jobs
    finally:
        rows.write_text(text)
