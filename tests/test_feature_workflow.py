"""The model-feature rules (rules/features.smk) through Snakemake for real, on a 12-row pool and 6 eval rows:
a one-round grid of badge, rds and balanced_random to final_metrics.csv (badge's gradient embeddings and rds's
hidden states under the base model), then, in the same directory, the two-round cells of badge and bald up to
their round-2 selections (badge's embeddings under round 1's adapter; bald samples its LoRA dropout: round 1 has
no adapter and picks at random). One budget of 2. less (a warm-up training and two more feature jobs) is left to
tests/test_finetune_features.py and the planning tests: it would double this test's time."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_GRID, TINY, planned_jobs, planned_outputs, snakemake, workdir

pytestmark = pytest.mark.workflow
BUDGET = 2
MODEL = "smollm2-local"
CELL = f"results/finetune/two-digit-addition/{MODEL}/tiny/{{strategy}}/b{BUDGET}-m{{rounds}}/seed0"
BASE = f"results/features/two-digit-addition/{MODEL}"
ONE_ROUND = ["badge", "rds", "balanced_random"]
TWO_ROUNDS = ["badge", "bald"]
FEATURE_FILES = {  # the feature files each selection reads: (strategy, rounds, round) -> files
    ("badge", 1, 1): [f"{BASE}/badge.npz"],
    ("rds", 1, 1): [f"{BASE}/rds.npz", f"{BASE}/rds.dev.npz"],
    ("balanced_random", 1, 1): [],
    ("badge", 2, 1): [f"{BASE}/badge.npz"],
    ("badge", 2, 2): [f"{CELL.format(strategy='badge', rounds=2)}/round2/features/badge.npz"],
    ("bald", 2, 1): [],  # no adapter yet, so no dropout to sample: a seeded random pick, no feature job
    ("bald", 2, 2): [f"{CELL.format(strategy='bald', rounds=2)}/round2/features/bald.npz"],
}


def grid(model_dir, strategies, rounds) -> dict:
    return {
        "models": {MODEL: {"source": {"type": "local", "path": str(model_dir)}, "dtype": "float32",
                           "quantization": "none"}},
        "tasks": {"two-digit-addition": {"splits": {"pool": {"size": 12}, "eval": {"size": 6}, "fewshot": {"size": 2},
                                                    "dev": {"size": 3, "seed": 4000}}}},
        "finetune": {"models": [MODEL], "strategies": strategies, "budgets": [BUDGET], "rounds": [rounds],
                     "seeds": [0], "target_split": "dev"},
        "presets": {"tiny": {"lora_dropout": 0.1, "max_new_tokens": 8}},  # bald needs dropout to sample
        "strategies": {"bald": {"passes": 3}},
    }


def configs(wd, name, content):
    path = wd / name
    path.write_text(yaml.safe_dump(content))
    return (DEFAULT_GRID, TINY, path)


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir):
    wd = workdir(tmp_path_factory.mktemp("features"))
    one = configs(wd, "one_round.yaml", grid(model_dir, ONE_ROUND, 1))
    plan = snakemake(wd, "-n", "results/final_metrics.csv", configfiles=one)
    snakemake(wd, "-c2", "results/final_metrics.csv", configfiles=one)
    two = configs(wd, "two_rounds.yaml", grid(model_dir, TWO_ROUNDS, 2))
    targets = [f"{CELL.format(strategy=s, rounds=2)}/round2/selected.json" for s in TWO_ROUNDS]
    plan_two = snakemake(wd, "-n", *targets, configfiles=two)
    snakemake(wd, "-c2", *targets, configfiles=two)
    return wd, planned_jobs(plan), planned_jobs(plan_two), set(planned_outputs(plan) + planned_outputs(plan_two))


def selection(wd, strategy, rounds, i) -> dict:
    return json.loads((wd / CELL.format(strategy=strategy, rounds=rounds) / f"round{i}/selected.json").read_text())


def test_feature_files_are_declared_outputs_that_exist(built):
    wd, one, two, outputs = built
    assert one["pool_features_base"] == 2  # badge's and rds's pool features under the base model, once each
    assert one["target_features_rds"] == 1 and "pool_features_round" not in one
    assert two["pool_features_round"] == 2 and "pool_features_base" not in two  # badge.npz is shared
    assert not {"less_warmup", "less_features_pool"} & (set(one) | set(two))  # only the rules a grid needs
    for files in FEATURE_FILES.values():
        for path in files:
            assert path in outputs, path
            with np.load(wd / path) as data:
                assert data["features"].shape[0] == len(data["ids"]) == (3 if path.endswith(".dev.npz") else 12)
                assert np.isfinite(data["features"]).all()
                assert json.loads(str(data["cost"]))["model_calls"] > 0


def test_each_selection_has_the_budget_of_distinct_pool_ids_and_its_cost(built):
    wd = built[0]
    pool = [json.loads(line)["id"] for line in (wd / "results/data/two-digit-addition/pool.jsonl").open()]
    for (strategy, rounds, i), files in FEATURE_FILES.items():
        record = selection(wd, strategy, rounds, i)
        assert len(record["ids"]) == BUDGET // rounds and set(record["ids"]) <= set(pool)
        if i == rounds:
            cumulative = record["cumulative_ids"]
            assert len(cumulative) == len(set(cumulative)) == BUDGET, (strategy, rounds)
        if not files:  # nothing computed by a model: no cost recorded
            assert "cost" not in record["params"], (strategy, rounds, i)
            continue
        cost = record["params"]["cost"]
        assert cost["model_calls"] > 0 and cost["seconds"] > 0, (strategy, rounds, i)
        assert len(cost["jobs"]) == len(files)
        assert cost["model_calls"] == sum(job["model_calls"] for job in cost["jobs"])
    assert selection(wd, "badge", 1, 1)["params"]["proj_dim"] == 16  # the resolved parameters, defaults included
    assert selection(wd, "bald", 2, 1)["info"]["round1"].startswith("random")
    bald = selection(wd, "bald", 2, 2)
    assert bald["params"]["passes"] == 3 and len(bald["info"]["mutual_information"]) == 1
    assert bald["params"]["cost"]["jobs"][0]["adapter"].endswith("round1/adapter")
    assert bald["params"]["cost"]["model_calls"] == 12 * (1 + 3)  # a greedy answer + 3 dropout passes per row
    assert selection(wd, "badge", 2, 2)["params"]["cost"]["jobs"][0]["adapter"].endswith("round1/adapter")


def test_final_metrics_has_rows_for_the_feature_strategies(built):
    wd = built[0]
    frame = pd.read_csv(wd / "results/final_metrics.csv")
    frame = frame[(frame.family == "finetune") & (frame.model == MODEL)]
    assert set(frame.strategy) == {"base", *ONE_ROUND}
    for strategy in ONE_ROUND:
        rows = frame[frame.strategy == strategy]
        assert list(rows["round"]) == [1] and list(rows.n_labels) == [BUDGET], strategy
        assert (rows.n_total == 6).all() and rows.accuracy.between(0, 1).all()
