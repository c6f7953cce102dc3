"""Every experiment config plans exactly the models and tasks it declares: nothing of the default grid leaks in."""

import re

import pytest
import yaml

from conftest import REPO, planned_jobs, snakemake, workdir

EXPERIMENTS = sorted((REPO / "config" / "experiments").glob("*.yaml"))


def declared(config: dict) -> tuple[set, set]:
    ft, icl = config.get("finetune") or {}, config.get("icl") or {}
    models = set(ft.get("models", [])) | (set(icl.get("models", [])) if icl.get("tasks") else set())
    if icl.get("judge") and icl.get("tasks"):
        models.add(icl["judge"])
    tasks = set(ft.get("tasks", [])) | set(ft.get("eval_tasks", [])) | set(icl.get("tasks", []))
    safety = config.get("safety") or {}
    models |= set(safety.get("models", []))  # the safety family's default target
    if safety:  # its judges' models (registry ids; a Hugging Face id is loaded by the judge job itself)
        defaults = yaml.safe_load((REPO / "config" / "defaults.yaml").read_text())
        registry = {**defaults["judges"], **(config.get("judges") or {})}
        known = {**defaults["models"], **(config.get("models") or {})}
        judges = safety.get("judges", defaults["safety"]["judges"])
        models |= {registry[j]["model"] for j in judges if registry[j].get("model") in known}
    ads = config.get("ads") or {}
    models |= set(ads.get("models", [])) | ({ads["optimizer"]} if ads.get("optimizer") else set())
    tasks |= set(ads.get("tasks", []))
    return models, tasks


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_an_experiment_config_plans_what_it_declares(tmp_path, path):
    models, tasks = declared(yaml.safe_load(path.read_text()))
    assert tasks or models, f"{path.name} declares no tasks and no models"
    proc = snakemake(workdir(tmp_path), "-n", configfiles=(path,))
    text = proc.stdout + proc.stderr
    planned_models = set(re.findall(r"results/models/([a-z0-9-]+)", text))
    planned_tasks = set(re.findall(r"results/data/([a-z0-9-]+)/", text))
    assert planned_models == models
    assert planned_tasks == tasks


def test_the_default_grid_is_only_planned_without_a_configfile(tmp_path):
    wd = workdir(tmp_path)
    default = snakemake(wd, "-n", configfiles=())
    grid = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert all(f"results/data/{t}/" in default.stdout for t in grid["finetune"]["tasks"])
    icl_only = snakemake(wd, "-n", configfiles=(REPO / "config/experiments/icl_cpu.yaml",))
    assert "results/finetune/" not in icl_only.stdout + icl_only.stderr


def test_one_prediction_job_and_one_scoring_job_per_adapter_cover_every_eval_task(tmp_path):
    path = REPO / "config/experiments/ed_vs_al.yaml"
    ft = yaml.safe_load(path.read_text())["finetune"]
    jobs = planned_jobs(snakemake(workdir(tmp_path), "-n", "--quiet", "rules", configfiles=(path,)))
    adapters = len(ft["strategies"]) * len(ft["budgets"]) * sum(ft["rounds"]) * len(ft["seeds"])
    assert jobs["train_adapter"] == jobs["predict_round"] == adapters == 294  # was 294 x 8 eval tasks = 2,352
    assert jobs["score_round"] == adapters and len(ft["eval_tasks"]) == 8  # was one scoring job per eval task
    cells = adapters // sum(ft["rounds"]) * len(ft["rounds"])  # finetune.lm_eval (MMLU): each final-round adapter
    assert jobs["lm_eval_round"] == cells == 126 and jobs["lm_eval_base"] == 1
    assert jobs["predict_base"] == jobs["score_base"] == 1 and sum(jobs.values()) == 1608 + 127  # was 3,671; +2: label_savings, stopping_criteria


def test_a_working_directory_elsewhere_needs_no_config_there(tmp_path):
    """`-d <dir>` without config/ in it: the registry, defaults and default grid come from the workflow's own
    directory, with and without --configfile (Snakemake would skip the missing files silently)."""
    bare = tmp_path / "bare"
    bare.mkdir()
    default = planned_jobs(snakemake(bare, "-n", configfiles=()))
    assert default == planned_jobs(snakemake(workdir(tmp_path / "linked"), "-n", configfiles=()))
    assert default["train_adapter"] > 0
    ads_cpu = planned_jobs(snakemake(bare, "-n", configfiles=(REPO / "config" / "experiments" / "ads_cpu.yaml",)))
    assert ads_cpu["ads_iteration"] == 3 * 2 * 2  # tasks x seeds x iterations
