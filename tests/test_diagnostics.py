import json
from itertools import combinations

import numpy as np
import pytest

from algrid.diagnostics import jaccard, pairwise_jaccard, selection_diagnostics


def unit_rows(n, d=6, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_mean_pairwise(x):
    return np.mean([1 - x[i] @ x[j] for i, j in combinations(range(len(x)), 2)])


def test_distances_and_coverage_match_brute_force():
    x = unit_rows(50)
    picked, previous = [4, 9, 17, 33], [1, 2]
    out = selection_diagnostics(x * 3.0, picked, previous)  # unnormalised input is normalised
    assert out["n_selected"] == 4 and out["n_cumulative"] == 6
    assert out["mean_pairwise_cosine_distance"] == pytest.approx(brute_mean_pairwise(x[picked]), abs=1e-6)
    both = sorted(picked + previous)
    assert out["mean_pairwise_cosine_distance_cumulative"] == pytest.approx(brute_mean_pairwise(x[both]), abs=1e-6)
    nearest = [min(1 - x[i] @ x[j] for j in both) for i in range(50)]
    assert out["coverage"] == pytest.approx(np.mean(nearest), abs=1e-6)
    assert out["overlap_with_previous"] == 0 and out["overlap_with_previous_fraction"] == 0.0
    json.dumps(out, allow_nan=False)


def test_coverage_is_zero_when_everything_is_selected_and_none_when_nothing_is():
    x = unit_rows(20)
    assert selection_diagnostics(x, range(10), range(10, 20))["coverage"] == pytest.approx(0.0, abs=1e-6)
    empty = selection_diagnostics(x, [], [])
    assert empty["coverage"] is None and empty["mean_pairwise_cosine_distance"] is None


def test_overlap_with_previous_is_counted():
    out = selection_diagnostics(unit_rows(10), [1, 2, 3, 4], [3, 4, 5])
    assert out["overlap_with_previous"] == 2 and out["overlap_with_previous_fraction"] == 0.5
    assert out["n_cumulative"] == 5


def test_lengths_and_answers():
    lengths = np.arange(10) * 10
    answers = ["a", "b", "a", "c", "a", "b", "d", "d", "d", "d"]
    out = selection_diagnostics(unit_rows(10), [0, 1, 2, 5], [], lengths=lengths, answers=answers)
    assert out["length_mean"] == 20.0 and out["length_median"] == 15.0 and out["length_mean_pool"] == 45.0
    assert out["answer_counts"] == {"a": 2, "b": 2}
    assert out["answer_entropy"] == pytest.approx(np.log(2) / np.log(4))
    even = selection_diagnostics(unit_rows(10), [0, 1, 3, 6], [], answers=answers)
    assert even["answer_entropy"] == pytest.approx(1.0)
    single = selection_diagnostics(unit_rows(10), [6, 7], [], answers=answers)
    assert single["answer_entropy"] == 0.0


def test_answer_counts_keep_the_ten_most_common():
    answers = [str(i % 12) for i in range(60)] + ["0"] * 5
    out = selection_diagnostics(unit_rows(65), range(65), [], answers=answers)
    assert len(out["answer_counts"]) == 10 and out["answer_counts"]["0"] == 10


def test_jaccard():
    assert jaccard([1, 2, 3], [2, 3, 4]) == 0.5
    assert jaccard([], []) == 1.0 and jaccard([1], []) == 0.0
    rows = pairwise_jaccard({"kcenter": [1, 2], "random": [2, 3], "entropy": [1, 2]})
    assert [(r["a"], r["b"]) for r in rows] == [("entropy", "kcenter"), ("entropy", "random"), ("kcenter", "random")]
    assert [r["jaccard"] for r in rows] == [1.0, 1 / 3, 1 / 3]
    assert rows[1]["intersection"] == 1 and rows[1]["n_a"] == 2
