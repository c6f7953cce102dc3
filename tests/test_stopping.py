"""Stopping criteria (algrid.finetune.stopping) against small-text 1.4.1's own classes on the same inputs, and
the per-round table on constructed round files."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import cohen_kappa_score
from small_text.stopping_criteria import ClassificationChange, KappaAverage, OverallUncertainty

from algrid.finetune import stopping

C = 4


def prediction_rounds(seed=0, n=60, steps=9):
    """Answers that drift less round after round (the last ones equal), so that the criteria do stop."""
    rng = np.random.default_rng(seed)
    current = rng.integers(0, C, n)
    rounds = [current.copy()]
    for step in range(steps - 1):
        flips = rng.random(n) < max(0.0, 0.3 - 0.06 * step)
        current = np.where(flips, rng.integers(0, C, n), current)
        rounds.append(current.copy())
    return rounds


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kappa,window", [(0.99, 3), (0.8, 2), (0.5, 1)])
def test_kappa_average_equals_small_text(seed, kappa, window):
    rounds = prediction_rounds(seed)
    ours = stopping.kappa_average(rounds, kappa=kappa, window=window)
    theirs = KappaAverage(C, window_size=window, kappa=kappa)
    for step, predictions in zip(ours, rounds):
        assert theirs.stop(predictions=predictions) == step["stop"]
        if step["kappa"] is not None:
            assert step["kappa"] == pytest.approx(theirs.kappa_history[-1], abs=1e-12)
        if step["kappa_mean"] is not None:
            assert step["kappa_mean"] == pytest.approx(np.mean(theirs.kappa_history), abs=1e-12)
    assert any(s["stop"] for s in ours) or kappa == 0.99  # the drifting rounds settle


def test_kappa_of_constant_and_disjoint_answers_as_small_text():
    """Equal answers are 1.0 (no division by zero); two different constant answer sets are 0."""
    same, other = np.zeros(10, dtype=int), np.ones(10, dtype=int)
    theirs = KappaAverage(2, window_size=1)
    theirs.stop(predictions=same)
    assert theirs.stop(predictions=same) and stopping.cohen_kappa(same, same) == 1.0
    theirs.stop(predictions=other)
    assert theirs.kappa_history[-1] == stopping.cohen_kappa(same, other) == 0.0
    a, b = np.array(["12", "<unparsed>", "7", "7"]), np.array(["12", "13", "7", "12"])  # answer strings as classes
    assert stopping.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.2])
def test_classification_change_equals_small_text(threshold):
    rounds = prediction_rounds(3)
    rounds.append(rounds[-1].copy())
    theirs = ClassificationChange(C, threshold=threshold)
    ours = stopping.classification_change(rounds, threshold=threshold)
    assert [theirs.stop(predictions=p) for p in rounds] == [s["stop"] for s in ours]
    assert ours[-1]["changed"] == 0.0 and ours[-1]["stop"]


@pytest.mark.parametrize("seed", [0, 1])
def test_overall_uncertainty_equals_small_text(seed):
    """The same class distributions: small-text reads them, algrid their entropies in nats (as the pool scores
    hold them); equal decisions at thresholds just below and above algrid's value pin the value itself."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(C, 0.3), size=50)
    unlabeled = np.sort(rng.choice(50, size=30, replace=False))
    value = stopping.overall_uncertainty(entropy(proba, axis=1), C, unlabeled)["uncertainty"]
    for threshold in (0.05, value - 1e-9, value + 1e-9, 0.5, 0.9):
        if not 0 <= threshold < 1:
            continue
        theirs = OverallUncertainty(C, threshold=threshold).stop(proba=proba, indices_stopping=unlabeled)
        ours = stopping.overall_uncertainty(entropy(proba, axis=1), C, unlabeled, threshold=threshold)
        assert ours["stop"] == theirs and ours["uncertainty"] == pytest.approx(value)
    assert not stopping.overall_uncertainty(entropy(proba, axis=1), C, unlabeled, threshold=value)["stop"]


def test_diversity_change_waits_for_two_rounds():
    steps = stopping.diversity_change([None, 0.80, 0.70, 0.695], threshold=0.01)
    assert [s["diversity_change"] for s in steps][:2] == [None, None]
    assert steps[2]["diversity_change"] == pytest.approx(0.1) and not steps[2]["stop"]
    assert steps[3]["stop"]


def write_cell(tmp_path, rounds=5, n=30):
    """Round files of one cell: the pool, its answers per round (settling from round 2 on), diagnostics with a
    diversity that settles, metrics; the last round has no pool answers."""
    rows = [{"id": f"r{i}", "input": f"{i} + 1", "target": str(i + 1)} for i in range(n)]
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"vocab_size": 100}))
    rng = np.random.default_rng(0)
    answers = [[str(rng.integers(0, 3)) for _ in range(n)] for _ in range(3)]  # rounds 0, 1, 2 differ
    files, selected = [], []
    for r in range(rounds + 1):
        spec = {"n_labels": 2 * r, "scores": None, "diagnostics": None, "metrics": {}}
        if r < rounds:
            spec["scores"] = str(tmp_path / f"scores{r}.parquet")
            output = answers[min(r, 2)]
            pd.DataFrame({"id": [x["id"] for x in rows], "entropy": np.full(n, 2.0 / (r + 1)),
                          "output": [f"The answer is {a}." for a in output]}).to_parquet(spec["scores"])
        if r:
            selected += [2 * r - 2, 2 * r - 1]
            spec["diagnostics"] = str(tmp_path / f"diag{r}.json")
            (tmp_path / f"diag{r}.json").write_text(json.dumps(
                {"cumulative_indices": selected, "mean_pairwise_cosine_distance_cumulative": 0.5 + 0.1 / r ** 2}))
        for e in ("a", "b"):
            path = tmp_path / f"metrics{r}{e}.json"
            path.write_text(json.dumps({"accuracy": 0.1 * r + (0.1 if e == "b" else 0.0)}))
            spec["metrics"][e] = str(path)
        files.append(spec)
    keys = {"task": "t", "model": "m", "preset": "p", "strategy": "entropy", "budget": 2 * rounds,
            "rounds": rounds, "seed": 0}
    return {"keys": keys, "cold_start": "none", "kind": "numeric", "pool": str(pool), "model_dir": str(model),
            "rounds_files": files}


def test_stopping_table_per_round(tmp_path):
    cell = write_cell(tmp_path)
    frame = stopping.stopping_table([cell], tmp_path / "stopping.csv",
                                    params={"kappa_window": 2, "uncertainty": 0.1, "diversity": 0.01})
    frame = pd.read_csv(tmp_path / "stopping.csv").set_index("round")
    assert list(frame.index) == [0, 1, 2, 3, 4, 5] and list(frame.n_labels) == [0, 2, 4, 6, 8, 10]
    assert frame.loc[3, "accuracy_a"] == pytest.approx(0.3) and frame.loc[3, "accuracy"] == pytest.approx(0.35)
    # answers equal from round 2 on: kappa 1 at rounds 3 and 4, the window of two full at round 4
    assert frame.loc[3, "kappa"] == 1.0 and frame.loc[4, "kappa_mean"] == 1.0 and frame.kappa_average_stop[4]
    assert not frame.kappa_average_stop[3] and pd.isna(frame.kappa_average_stop[5])  # no answers of round 5
    assert frame.classification_change_stop[3] and frame.loc[3, "changed"] == 0.0
    # mean entropy 2/(r+1) over log(100): below 0.1 from round 4 on
    assert frame.loc[0, "uncertainty"] == pytest.approx(2 / np.log(100))
    assert list(frame.overall_uncertainty_stop[:5]) == [False, False, False, False, True]
    assert pd.isna(frame.loc[1, "diversity_change"]) and frame.diversity_change_stop[4]
    assert frame.loc[3, "stopped_by"] == "classification_change"
    # diversity 0.5 + 0.1 / r^2 changes by 0.0049 from round 3 to 4
    assert frame.loc[4, "stopped_by"] == "kappa_average;overall_uncertainty;diversity_change"
    assert frame.loc[[0, 1, 2, 5], "stopped_by"].isna().all()


def test_a_strategy_without_pool_answers_gets_only_diversity(tmp_path):
    cell = write_cell(tmp_path, rounds=3)
    cell["model_dir"] = None
    for spec in cell["rounds_files"]:
        spec["scores"] = None
    frame = stopping.stopping_table([cell], tmp_path / "stopping.csv", params={})
    assert frame.kappa.isna().all() and frame.uncertainty.isna().all() and frame.kappa_average_stop.isna().all()
    assert frame.diversity_change.notna().sum() == 2  # rounds 2 and 3
