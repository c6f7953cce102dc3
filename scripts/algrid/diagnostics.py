"""Diagnostics of a selection: diversity, coverage of the pool, overlap, length and answer mix."""

from collections import Counter
from itertools import combinations

import numpy as np

from algrid.strategies._common import max_similarity, unit


def selection_diagnostics(embeddings: np.ndarray, picked, previous, lengths=None, answers=None) -> dict:
    """Describe the new ``picked`` pool indices, given the indices ``previous`` rounds selected.

    ``lengths`` (input length of every pool item) and ``answers`` (the model's answer or the
    label of every pool item) are optional. Distances are cosine distances (1 - cos).
    Keys: n_selected, n_cumulative, mean_pairwise_cosine_distance (new picks) and
    mean_pairwise_cosine_distance_cumulative (previous + new), coverage (mean over all pool
    items of the distance to the nearest item of the cumulative selection; lower is better),
    overlap_with_previous and overlap_with_previous_fraction (picks already in previous:
    should be 0), length_mean, length_median and length_mean_pool, answer_counts (top 10)
    and answer_entropy (entropy of the picks' answers divided by log of the number of
    distinct answers in the pool: 1 = as even as possible).
    """
    x = unit(embeddings)
    picked = np.asarray(picked, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    cumulative = np.union1d(previous, picked)
    overlap = int(np.isin(picked, previous).sum())
    out = {
        "n_selected": len(picked),
        "n_cumulative": len(cumulative),
        "mean_pairwise_cosine_distance": mean_pairwise_cosine_distance(x[picked]),
        "mean_pairwise_cosine_distance_cumulative": mean_pairwise_cosine_distance(x[cumulative]),
        "coverage": coverage(x, cumulative),
        "overlap_with_previous": overlap,
        "overlap_with_previous_fraction": overlap / len(picked) if len(picked) else 0.0,
    }
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.float64)
        out["length_mean"] = float(lengths[picked].mean()) if len(picked) else None
        out["length_median"] = float(np.median(lengths[picked])) if len(picked) else None
        out["length_mean_pool"] = float(lengths.mean())
    if answers is not None:
        counts = Counter(str(answers[i]) for i in picked)
        out["answer_counts"] = dict(counts.most_common(10))
        out["answer_entropy"] = normalised_entropy(counts, len({str(a) for a in answers}))
    return out


def mean_pairwise_cosine_distance(x: np.ndarray) -> float | None:
    """Mean of 1 - cos over distinct pairs of unit rows, in O(n d): sum_{i != j} x_i.x_j
    = |sum_i x_i|^2 - sum_i |x_i|^2. None for fewer than two rows."""
    n = len(x)
    if n < 2:
        return None
    x = x.astype(np.float64)
    total = x.sum(axis=0)
    cross = total @ total - np.einsum("ij,ij->", x, x)
    return float(1.0 - cross / (n * (n - 1)))


def coverage(x: np.ndarray, chosen: np.ndarray) -> float | None:
    """Mean over all rows of ``x`` of the cosine distance to the nearest chosen row (chunked)."""
    if len(chosen) == 0:
        return None
    return float(np.mean(np.maximum(1.0 - max_similarity(x, x[chosen]), 0.0), dtype=np.float64))


def normalised_entropy(counts: Counter, n_values: int) -> float | None:
    total = sum(counts.values())
    if total == 0:
        return None
    if n_values < 2:
        return 0.0
    p = np.array(list(counts.values()), dtype=np.float64) / total
    return float(-(p * np.log(p)).sum() / np.log(n_values))


def jaccard(a, b) -> float:
    """|a & b| / |a | b| of two index collections (1.0 for two empty ones)."""
    a, b = set(map(int, a)), set(map(int, b))
    return len(a & b) / len(a | b) if a | b else 1.0


def pairwise_jaccard(selections: dict) -> list[dict]:
    """One row per pair of named selections (names sorted): a, b, n_a, n_b, intersection, jaccard."""
    rows = []
    for a, b in combinations(sorted(selections), 2):
        sa, sb = set(map(int, selections[a])), set(map(int, selections[b]))
        rows.append({"a": a, "b": b, "n_a": len(sa), "n_b": len(sb),
                     "intersection": len(sa & sb), "jaccard": jaccard(sa, sb)})
    return rows
