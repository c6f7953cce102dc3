"""Bad input gives one clear line naming the config key or file:line, before any job where possible."""

import pytest
import yaml

from conftest import DEFAULT_GRID, TINY, snakemake, workdir


def dry_run_error(tmp_path, overrides: dict) -> str:
    wd = workdir(tmp_path / "wd")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(overrides))
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, bad), check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"finetune": {"strategies": ["random", "bogus"]}}, "config key 'strategies': unknown strategy 'bogus'"),
        ({"finetune": {"models": ["gpt-99"]}}, "config key 'finetune.models': unknown model 'gpt-99'"),
        ({"finetune": {"tasks": ["nope"]}}, "config key 'finetune.tasks': unknown task 'nope'"),
        ({"finetune": {"budgets": [500]}}, "config key 'finetune.budgets': budget 500 is larger than the pool"),
        ({"strategies": {"kcenter": {"start": "middle"}}}, "strategies.kcenter.start"),
        ({"finetune": {"rounds": [0]}}, "config key 'finetune.rounds.0': 0 is less than the minimum of 1"),
        ({"presets": {"tiny": {"lr": "fast"}}}, "config key 'presets.tiny.lr'"),
        ({"presets": {"tiny": {"safety_max_new_tokens": 64}}}, "config key 'presets.tiny.safety_max_new_tokens': unknown key"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, overrides, expected):
    assert expected in dry_run_error(tmp_path, overrides)


def test_missing_local_file_is_named(tmp_path):
    (tmp_path / "e.jsonl").write_text('{"input": "1+1?", "target": "2"}\n')
    task = {"family": "math", "metric": "numeric",
            "splits": {"pool": {"path": str(tmp_path / "missing.jsonl")}, "eval": {"path": str(tmp_path / "e.jsonl")}}}
    line = dry_run_error(tmp_path, {"tasks": {"local-math": task}, "finetune": {"tasks": ["local-math"]}})
    assert "tasks.local-math.splits.pool" in line and "missing.jsonl" in line


def test_malformed_row_names_file_and_line(tmp_path):
    wd = workdir(tmp_path / "wd")
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": \n')
    task = {"family": "math", "metric": "numeric",
            "splits": {"pool": {"path": str(pool), "fields": {"input": "question", "target": "answer"}},
                       "eval": {"path": str(pool), "fields": {"input": "question", "target": "answer"}}}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tasks": {"local-math": task}}))
    proc = snakemake(wd, "-c1", "results/data/local-math/pool.jsonl", configfiles=(DEFAULT_GRID, TINY, bad), check=False)
    assert proc.returncode != 0
    assert f"{pool}:2" in proc.stderr
    assert not (wd / "results/data/local-math/pool.jsonl").exists()


def test_relevance_strategies_need_the_target_split_declared(tmp_path):
    error = dry_run_error(tmp_path, {"finetune": {"strategies": ["random", "similarity"], "target_split": "holdout"}})
    assert "config key 'tasks.two-digit-addition.splits': no 'holdout' split" in error


def test_a_target_split_that_may_share_eval_rows_is_refused_before_any_job(tmp_path):
    # reasoning-gym's item i of seed s is item s + i of seed 0: seed 2001 repeats eval's (seed 2000) rows 1..4
    overrides = {"finetune": {"strategies": ["bm25"]},
                 "tasks": {"two-digit-addition": {"splits": {"dev": {"size": 5, "seed": 2001}}}}}
    error = dry_run_error(tmp_path, overrides)
    assert ("config key 'tasks.two-digit-addition.splits.dev': may share rows with "
            "tasks.two-digit-addition.splits.eval") in error


def test_the_eval_split_cannot_be_the_target_split(tmp_path):
    error = dry_run_error(tmp_path, {"finetune": {"strategies": ["bm25"], "target_split": "eval"}})
    assert "config key 'finetune.target_split': 'eval' cannot be the target split" in error


def test_safety_min_valid_is_a_share(tmp_path):
    assert "config key 'safety.min_valid': 1.5 is greater than the maximum of 1" in dry_run_error(
        tmp_path, {"safety": {"min_valid": 1.5}})


def test_bald_with_a_preset_without_lora_dropout_is_refused_at_parse_time(tmp_path):
    # the tiny preset's lora_dropout is 0: MC dropout over the adapter's dropout would have nothing to sample
    error = dry_run_error(tmp_path, {"finetune": {"strategies": ["random", "bald"]}})
    assert error.startswith("algrid: config key 'presets.tiny.lora_dropout': is 0, but finetune.strategies has bald")


@pytest.mark.parametrize("strategy", ["rds", "less"])
def test_model_feature_relevance_strategies_cannot_target_the_eval_split(tmp_path, strategy):
    error = dry_run_error(tmp_path, {"finetune": {"strategies": [strategy], "target_split": "eval"}})
    assert "config key 'finetune.target_split': 'eval' cannot be the target split" in error


@pytest.mark.parametrize("strategy", ["badge", "bald", "rds", "less"])
def test_model_feature_strategies_are_finetune_only(tmp_path, strategy):
    error = dry_run_error(tmp_path, {"icl": {"strategies": ["random", strategy]}})
    assert f"config key 'icl.strategies': '{strategy}' selects from a fine-tuned model's features" in error
    assert "finetune strategy" in error


@pytest.mark.parametrize("name", ["badge", "bald", "rds", "less", "balanced_random"])
def test_the_schema_describes_the_model_feature_strategies_parameters_and_defaults(name):
    from conftest import REPO
    from algrid import strategies

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())["properties"]["strategies"]
    described = schema["properties"][name]
    assert described["description"]
    assert {key: value["default"] for key, value in described["properties"].items()} == strategies.get(name).defaults
    assert all(value["description"] for value in described["properties"].values())


def test_a_pool_sample_below_the_shots_is_refused_before_any_job(tmp_path):
    error = dry_run_error(tmp_path, {"icl": {"shots": [2], "pool_sample": 1}})
    assert error == "algrid: config key 'icl.pool_sample': 1 candidates per run cannot give icl.shots' 2 demonstrations"
