"""The safety family end to end on the real tiny model: a standalone run and a finetune round's adapter,
each answering a few AILuminate prompts judged by the packaged SmolLM2 and the refusal detector; config
errors and a missing adapter as one line naming the key."""

import re

import pytest
import yaml

from algrid.io import read_json, read_jsonl

from conftest import DEFAULT_GRID, TINY, load_common, planned_jobs, require_data, snakemake, workdir

SAFETY_TINY = {
    "safety": {"models": ["smollm2-135m"], "adapters": ["base"], "judges": ["smollm2-judge", "refusal"],
               "n_prompts": 3, "max_new_tokens": 12, "batch_size": 3,
               "reference": {"model": "smollm2-135m", "adapter": "base"}},
    "finetune": {"strategies": ["random"], "rounds": [1]},
}
ROUND = "results/finetune/two-digit-addition/smollm2-135m/tiny/random/b4-m1/seed0/round1"


def config_file(tmp_path, extra: dict):
    path = tmp_path / "safety.yaml"
    path.write_text(yaml.safe_dump(extra))
    return (DEFAULT_GRID, TINY, path)


def test_safety_runs_end_to_end(tmp_path):
    require_data()
    wd = workdir(tmp_path / "wd")
    configs = config_file(tmp_path, SAFETY_TINY)
    targets = ["results/safety/smollm2-135m/base/metrics.json", "results/safety_summary.csv",
               f"{ROUND}/safety/metrics.json"]
    snakemake(wd, "-c1", *targets, configfiles=configs)
    base = read_json(wd / "results/safety/smollm2-135m/base/metrics.json")
    assert base["family"] == "safety" and (base["model"], base["adapter"]) == ("smollm2-135m", "base")
    assert base["n_prompts"] == 3 == base["n_valid"] + base["n_invalid"] + base["n_empty"]
    assert base["ci_method"] == "wilson95" and base["safety_rate"] == base["n_safe"] / 3  # over all prompts
    assert len(base["item_ids"]) == len(base["item_safe"]) == 3
    assert sum(h["n"] for h in base["per_hazard"].values()) == 3
    assert base["judges"] == ["smollm2-judge", "refusal"] and base["grade"] in (None, "Poor", "Good", "Excellent")
    responses = read_jsonl(wd / "results/safety/smollm2-135m/base/responses.jsonl")
    assert [r["id"] for r in responses] == base["item_ids"] and all(r["response"] for r in responses)
    judged = read_jsonl(wd / "results/safety/smollm2-135m/base/judges/smollm2-judge.jsonl")
    assert all(j["raw"].startswith("The reply is") for j in judged)  # the judge's raw text is kept
    rnd = read_json(wd / f"{ROUND}/safety/metrics.json")
    assert (rnd["adapter"], rnd["round"], rnd["strategy"], rnd["n_prompts"]) == ("round", 1, "random", 3)
    assert rnd["item_ids"] == base["item_ids"]  # the same prompts for every run
    assert rnd["reference"] == "smollm2-135m/base"
    assert (wd / "results/benchmarks").is_dir() or (wd / f"{ROUND}/safety/benchmarks/respond.tsv").is_file()


def test_one_safety_length_for_every_run_and_the_judge_targets_plan(tmp_path):
    common = load_common()
    config = yaml.safe_load(open(DEFAULT_GRID))
    from algrid.safety.grid import safety_generation

    config["safety"] = {"max_new_tokens": 64, "batch_size": 2}
    trained = {"task": "t", "model": "m", "preset": "simple", "strategy": "random", "budget": "8", "rounds": "1",
               "seed": "0", "round": "1"}
    runs = [trained, {"model": "m", "preset": "strong"}, {"model": "m", "adapter": "seed003-strong"}]
    assert {safety_generation(w, config)["max_new_tokens"] for w in runs} == {64}
    assert common.default_targets({"safety": {"models": ["m"], "adapters": ["base"]}}) == [
        "results/safety_summary.csv", "results/judges/validation.csv", "results/plots/judge_validation.png"]
    jobs = planned_jobs(snakemake(workdir(tmp_path), "-n", "safety", "--quiet", "rules",
                                  configfiles=config_file(tmp_path, SAFETY_TINY)))
    assert jobs["validate_judge"] == 2 and jobs["safety_judge"] == 2 and jobs["safety_respond"] == 1


@pytest.mark.parametrize("extra, message", [
    ({"safety": {"judges": ["gpt-judge"]}}, "config key 'safety.judges': unknown judge 'gpt-judge'"),
    ({"judges": {"x": {"kind": "llm"}}}, "config key 'judges.x.model': a llm judge needs a model"),
    ({"judges": {"x": {"kind": "llm", "model": "smollm3"}}}, "'smollm3' is neither a models: id"),
    ({"safety": {"models": ["smollm2-135m"], "adapters": ["base", "other"]},  # the ids fit; the directory is checked
      "adapters": {"other": {"source": "/x", "model": "smollm2-135m"}}},
     "config key 'adapters.other.source': adapter directory '/x' does not exist"),
    ({"safety": {"adapters": ["base", "mine"]}, "adapters": {"mine": {"source": "/x", "model": "smollm2-135m"}}},
     "config key 'safety.adapters': adapter 'mine' is for model 'smollm2-135m'"),
    ({"safety": {"models": ["smollm2-135m"], "reference": {"model": "smollm2-135m", "adapter": "nope"}}},
     "config key 'safety.reference'"),
])
def test_bad_safety_config_is_one_line(tmp_path, extra, message):
    proc = snakemake(workdir(tmp_path), "-n", configfiles=config_file(tmp_path, extra), check=message is None)
    if message:
        assert proc.returncode != 0 and message in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_missing_adapter_is_one_line_naming_the_key(tmp_path):
    extra = {"adapters": {"gone": {"source": str(tmp_path / "nowhere"), "model": "smollm2-135m"}}}
    proc = snakemake(workdir(tmp_path / "wd"), "-c1", "results/adapters/gone", configfiles=config_file(tmp_path, extra),
                     check=False)
    assert proc.returncode != 0
    assert f"algrid: config key 'adapters.gone.source': adapter directory '{tmp_path}/nowhere' does not exist" \
        in proc.stderr


def test_only_model_judges_ask_for_a_gpu(tmp_path):
    """The refusal detector reads text: its judge and validation jobs ask for no GPU; the model judge's for one."""
    proc = snakemake(workdir(tmp_path / "wd"), "-n", "all", "safety", configfiles=config_file(tmp_path, SAFETY_TINY))
    text = proc.stdout + proc.stderr
    jobs = re.findall(r"^(?:local)?rule (\w+):\n((?:    .+\n)+)", text, re.M)
    gpus = {}
    for rule, body in jobs:
        judge = re.search(r"judge=([\w-]+)", body)
        if "judge" in rule and judge and rule != "icl_judge":
            gpus.setdefault((rule, judge[1]), set()).add(re.search(r"\bgpu=(\d+)", body)[1])
    assert gpus and all(v == ({"0"} if judge == "refusal" else {"1"}) for (_, judge), v in gpus.items()), gpus
    assert {rule for rule, _ in gpus} >= {"safety_judge", "validate_judge"}
