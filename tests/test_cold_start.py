"""Cold start of round 1 (finetune.cold_start): stratified as small-text's stratified initialisation on the same
labels and seed, random and kmeans as their strategies, the round-1 select job's inputs and the config check."""

import csv
import json

import numpy as np
import pytest
from small_text.data.sampling import stratified_sampling as small_text_stratified

from algrid import selection, strategies
from algrid.errors import ConfigError
from algrid.finetune import cold_start
from conftest import DATA_ROOT, load_common

common = load_common()


@pytest.mark.parametrize("counts,n", [([50, 30, 20], 10), ([90, 7, 3], 10), ([5, 5, 1, 1], 7), ([40, 1], 3),
                                      ([3, 3, 3], 9), ([12, 8], 5)])
@pytest.mark.parametrize("seed", [0, 7])
def test_stratified_equals_small_text(counts, n, seed):
    """small-text draws from numpy's global generator: seeded the same, both pick the same items in order."""
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    np.random.seed(seed)
    theirs = small_text_stratified(y, n_samples=n)
    ours = cold_start.stratified_sampling(y, n, np.random.RandomState(seed))
    assert list(ours) == list(theirs) and len(set(ours)) == n


def sst2_rows(n=300):
    """The first rows of the real SST-2 pool file, as prepared rows (label names, choices)."""
    with open(DATA_ROOT / "sst2/train.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    names = {"0": "negative", "1": "positive"}
    return [{"id": f"sst2-{i}", "input": r["sentence"], "target": names[r["label"]],
             "choices": ["negative", "positive"]} for i, r in enumerate(rows)]


def test_stratified_on_real_labels_keeps_the_pools_label_shares():
    rows = sst2_rows()
    pool = strategies.Pool(n=len(rows), selected=np.array([], dtype=np.int64))
    chosen = cold_start.pick("stratified", 20, pool, 3, rows=rows)
    positive = sum(r["target"] == "positive" for r in rows) / len(rows)
    counts = chosen.info["class_counts"]
    assert sum(counts.values()) == 20 and len(set(chosen.indices)) == 20
    assert abs(counts["label:positive"] - 20 * positive) <= 1  # floor of the share, one more at most
    assert chosen.indices == cold_start.pick("stratified", 20, pool, 3, rows=rows).indices  # seeded
    assert chosen.indices != cold_start.pick("stratified", 20, pool, 4, rows=rows).indices


def test_stratified_refuses_one_stratum():
    rows = [{"id": str(i), "input": f"{i}+1", "target": str(i + 1)} for i in range(30)]  # every answer a number
    pool = strategies.Pool(n=30, selected=np.array([], dtype=np.int64))
    with pytest.raises(ConfigError, match="finetune.cold_start"):
        cold_start.pick("stratified", 4, pool, 0, rows=rows)


def test_random_and_kmeans_are_their_strategies():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 16)) * 5
    x = np.concatenate([c + 0.1 * rng.standard_normal((20, 16)) for c in centers]).astype(np.float32)
    pool = strategies.Pool(n=60, selected=np.array([], dtype=np.int64), embeddings=x)
    rows = [{"id": str(i), "input": "x", "target": "y"} for i in range(60)]
    km = cold_start.pick("kmeans", 3, pool, 1, rows=rows, params={})
    assert sorted(i // 20 for i in km.indices) == [0, 1, 2]  # one item of each cluster
    assert km.indices == strategies.get("kmeans").select(3, pool, 1).indices and km.info["cold_start"] == "kmeans"
    rnd = cold_start.pick("random", 5, pool, 2, rows=rows)
    assert rnd.indices == strategies.get("random").select(5, pool, 2).indices
    assert cold_start.needs("kmeans") == {"embeddings"} and not cold_start.needs("stratified")


def test_select_round_records_the_cold_start(tmp_path):
    rows = sst2_rows(60)
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    record = selection.select_round({"pool": str(tmp_path / "pool.jsonl")}, tmp_path / "selected.json",
                                    strategy="entropy", k=6, seed=1001, params={}, round_=1,
                                    cold_start={"method": "stratified", "params": {}})
    assert record["cold_start"] == "stratified" and len(record["indices"]) == 6
    assert "scores_of_picks" not in record  # no base-model scores were read
    assert set(record["info"]["class_counts"]) == {"label:negative", "label:positive"}


def config(cold="kmeans", task="two-digit-addition"):
    return {"finetune": {"cold_start": cold, "embedder": "minilm-l6", "target_split": "dev", "eval_tasks": [task],
                         "tasks": [task]},
            "strategies": {"kmeans": {"minibatch_above": 100}}, "tasks": {task: {"metric": "numeric"}}}


def wildcards(strategy="entropy", round_=1, rounds=2):
    return {"task": "two-digit-addition", "model": "smollm2-135m", "preset": "tiny", "strategy": strategy,
            "budget": "4", "rounds": str(rounds), "seed": "0", "round": str(round_)}


class W(dict):
    __getattr__ = dict.__getitem__


def test_round_one_of_an_uncertainty_cell_reads_the_cold_starts_inputs():
    cfg = config()
    inputs = common.select_inputs(W(wildcards()), cfg)
    assert "scores" not in inputs and inputs["embeddings"] == "results/embeddings/two-digit-addition/minilm-l6.npy"
    assert common.cold_start(W(wildcards()), cfg) == {"method": "kmeans", "params": {"minibatch_above": 100}}
    for other in (wildcards(round_=2), wildcards(rounds=1), wildcards(strategy="random")):
        assert common.cold_start(W(other), cfg) is None  # later rounds, experimental design, no pool scores
    assert "scores" in common.select_inputs(W(wildcards(round_=2)), cfg)
    assert common.select_inputs(W(wildcards()), config("none"))["scores"].endswith("base.parquet")
    random = common.select_inputs(W(wildcards()), config("random"))
    assert set(random) == {"pool"}


def test_stratified_needs_a_task_with_labels():
    from algrid.config import check_cold_start

    with pytest.raises(ConfigError, match=r"finetune\.cold_start.*'two-digit-addition' has numeric answers"):
        check_cold_start(config("stratified"))
    labelled = config("stratified", "sst2")
    labelled["tasks"]["sst2"]["metric"] = "label"
    check_cold_start(labelled)
