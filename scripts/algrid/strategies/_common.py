"""Helpers shared by the strategy modules: score ranking and chunked float32 similarity."""

import math

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Pool, Strategy

# Uncertainty columns and whether a LOW value means uncertain (margin is top1 - top2).
LOW_IS_UNCERTAIN = {"entropy": False, "least_confidence": False, "margin": True,
                    "max_entropy": False, "perplexity": False}

# Largest temporary block (in float32 elements) a chunked computation allocates.
CHUNK_ELEMENTS = 1 << 22


def score_column(pool: Pool, column: str, strategy: str) -> np.ndarray:
    if column not in pool.scores.columns:
        raise ConfigError(f"strategies.{strategy}",
                          f"needs the score column '{column}'; pool.scores has {list(pool.scores.columns)}")
    return pool.scores[column].to_numpy(dtype=np.float64)


def rank(values: np.ndarray, candidates: np.ndarray, seed: int, ascending: bool) -> np.ndarray:
    """Candidates ordered by ``values`` (NaN last); ties in a seeded random order."""
    key = values[candidates] if ascending else -values[candidates]
    key = np.where(np.isnan(key), np.inf, key)
    tiebreak = np.random.default_rng(seed).random(len(candidates))
    return candidates[np.lexsort((tiebreak, key))]


def floats(values) -> list[float | None]:
    """JSON-safe floats (NaN becomes None)."""
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (zero rows stay zero; unit rows are not copied)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.all(np.abs(norms - 1.0) <= 1e-5):
        return x
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


def others(candidates: np.ndarray, n: int) -> np.ndarray:
    """The pool indices in [0, n) that are not candidates: those selected before."""
    mask = np.ones(n, dtype=bool)
    mask[candidates] = False
    return np.flatnonzero(mask)


def max_similarity(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """For each row of ``x``, its largest dot product with a row of ``centers`` (chunked)."""
    out = np.empty(len(x), dtype=np.float32)
    step = max(1, CHUNK_ELEMENTS // max(1, len(centers)))
    for start in range(0, len(x), step):
        out[start:start + step] = (x[start:start + step] @ centers.T).max(axis=1)
    return out


class ScoreRank(Strategy):
    """Top-k unselected items by one uncertainty score column; ties in a seeded random order."""

    needs = frozenset({"scores"})
    column: str
    ascending: bool = False

    def _pick(self, k, pool, candidates, seed, params):
        values = score_column(pool, self.column, self.name)
        picks = rank(values, candidates, seed, self.ascending)[:k]
        order = "lowest first" if self.ascending else "highest first"
        return picks, {"column": self.column, "order": order, "scores": floats(values[picks])}


def top_per_query(blocks, candidates: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k most relevant candidates (pool indices) and their relevance.

    ``blocks`` yields relevance matrices [queries, candidates] for consecutive queries.
    Ties are ordered by a seeded random permutation of the candidates.
    """
    perm = np.random.default_rng(seed).permutation(len(candidates))
    ranked, relevance = [], []
    for block in blocks:
        block = block[:, perm]
        if k < block.shape[1]:
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            top = np.tile(np.arange(block.shape[1]), (len(block), 1))
        top.sort(axis=1)  # ties then keep the permutation's order
        values = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        ranked.append(candidates[perm[np.take_along_axis(top, order, axis=1)]])
        relevance.append(np.take_along_axis(values, order, axis=1))
    return np.concatenate(ranked), np.concatenate(relevance)


def round_robin(ranked: np.ndarray, relevance: np.ndarray, k: int) -> tuple[list[int], list[int], list[float]]:
    """Queries take turns adding their best item not picked yet until there are k items.

    ``ranked`` holds at least k items per query, so a query always has a free item.
    Returns the picks, the query each came from, and its relevance to that query.
    """
    picks, sources, scores, taken = [], [], [], set()
    position = [0] * len(ranked)
    while len(picks) < k:
        for query, row in enumerate(ranked):
            while row[position[query]] in taken:
                position[query] += 1
            item = int(row[position[query]])
            picks.append(item)
            sources.append(query)
            scores.append(float(relevance[query, position[query]]))
            taken.add(item)
            if len(picks) == k:
                break
    return picks, sources, scores
