"""The workflow's pure helpers: budget split, grid expansion, input functions."""

import pytest
from snakemake.iocontainers import Wildcards

from algrid.errors import ConfigError
from conftest import load_common

common = load_common()


@pytest.mark.parametrize(
    "budget, rounds, sizes",
    [(16, 1, [16]), (16, 2, [8, 8]), (10, 3, [4, 3, 3]), (5, 4, [2, 1, 1, 1]), (2, 4, [1, 1, 0, 0])],
)
def test_round_sizes_split_the_budget_remainder_first(budget, rounds, sizes):
    assert common.round_sizes(budget, rounds) == sizes
    assert sum(sizes) == budget


def test_rounds_below_one_is_a_config_error():
    with pytest.raises(ConfigError, match="finetune.rounds"):
        common.round_sizes(4, 0)


def wildcards(**values):
    w = Wildcards(fromdict={k: str(v) for k, v in values.items()})
    return w


CELL = dict(task="t", model="m", preset="p", budget=8, rounds=2, seed=3)
CONFIG = {"finetune": {"embedder": "e", "eval_tasks": ["x", "y"], "target_split": "dev"},
          "presets": {"p": {"retrain": "scratch"}}}


def test_round_one_scores_come_from_the_base_model_later_rounds_from_the_adapter():
    first = common.select_inputs(wildcards(**CELL, strategy="entropy", round=1), CONFIG)
    assert first["scores"] == "results/scores/t/m/base.parquet" and "previous" not in first
    second = common.select_inputs(wildcards(**CELL, strategy="entropy", round=2), CONFIG)
    assert second["scores"].endswith("p/entropy/b8-m2/seed3/round2/scores.parquet")
    assert second["previous"].endswith("round1/selected.json")


def test_strategies_depend_only_on_what_they_use():
    rnd = common.select_inputs(wildcards(**CELL, strategy="random", round=1), CONFIG)
    assert set(rnd) == {"pool"}
    kc = common.select_inputs(wildcards(**CELL, strategy="kcenter", round=1), CONFIG)
    assert set(kc) == {"pool", "embeddings"}
    sim = common.select_inputs(wildcards(**CELL, strategy="similarity", round=1), CONFIG)
    # relevance strategies read the eval tasks' target split, never their eval rows
    assert sim["queries"] == ["results/data/x/dev.jsonl", "results/data/y/dev.jsonl"]
    assert sim["query_embeddings"] == ["results/embeddings/x/e.dev.npy", "results/embeddings/y/e.dev.npy"]
    bm25 = common.select_inputs(wildcards(**CELL, strategy="bm25", round=1), CONFIG)
    assert set(bm25) == {"pool", "queries"} and not any("eval" in q for q in bm25["queries"])


def test_continue_training_starts_from_the_previous_adapter():
    config = {**CONFIG, "presets": {"p": {"retrain": "continue"}}}
    w = wildcards(**CELL, strategy="random", round=2)
    assert common.train_inputs(w, config)["init_adapter"].endswith("round1/adapter")
    assert "init_adapter" not in common.train_inputs(w, CONFIG)


def test_metric_files_cover_every_round_and_the_base_model():
    config = {"finetune": {"tasks": ["t"], "eval_tasks": ["x"], "models": ["m"], "presets": ["p"],
                           "strategies": ["random"], "budgets": [4], "rounds": [1, 3], "seeds": [0, 1]}}
    files = common.finetune_metric_files(config)
    assert len(files) == 2 * (1 + 3) + 1
    assert "results/base/m/p/metrics/x.json" in files


def test_cell_identity_counts_labels_used_so_far():
    row = common.cell_identity(wildcards(**CELL, strategy="random", round=2, eval_task="x"))
    assert row["n_labels"] == 8 and row["round"] == 2 and row["strategy"] == "random"


def test_each_split_excludes_the_rows_of_the_splits_before_it():
    config = {"tasks": {"t": {"family": "math", "splits": {"pool": {"path": "p.jsonl"}, "eval": {"path": "e.jsonl"},
                                                          "dev": {"path": "d.jsonl"}}}}}
    split = lambda s: common.split_inputs(wildcards(task="t", split=s), config)["exclude"]  # noqa: E731
    assert split("fewshot") == []
    assert split("pool") == ["results/data/t/fewshot.jsonl"]
    assert split("eval") == ["results/data/t/fewshot.jsonl", "results/data/t/pool.jsonl"]
    assert split("dev") == ["results/data/t/fewshot.jsonl", "results/data/t/pool.jsonl", "results/data/t/eval.jsonl"]
