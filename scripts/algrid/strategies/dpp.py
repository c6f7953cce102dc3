"""DPP demonstrations (Ye et al. 2023; OpenICL's DPPRetriever): k-DPP MAP over relevance x similarity."""

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import register
from algrid.strategies._common import CHUNK_ELEMENTS, PerQueryRanked, top_per_query, unit


@register
class DPP(PerQueryRanked):
    """Per query: its ``candidates`` most cosine-similar unselected items (TopK), then the k of them that
    greedy MAP inference picks for the DPP kernel ``L_ij = r_i s_ij r_j``, ordered by relevance.

    As OpenICL: ``s_ij = (1 + cos(i, j)) / 2`` (non-negative), ``r_i = exp((q_i - max q) / (2 scale_factor))``
    with ``q_i = (1 + cos(query, i)) / 2``, and the fast greedy MAP of Chen et al. (2018), each step adding
    the item of largest marginal gain of log det L_S. A small ``scale_factor`` weighs relevance, a large one
    diversity. As one set: queries take turns adding their next item not picked yet, until k items.
    """

    name = "dpp"
    defaults = {"candidates": 30, "scale_factor": 0.1}

    def check(self, params):
        n, scale = params["candidates"], params["scale_factor"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"strategies.{self.name}.candidates", f"must be an integer >= 1, got {n!r}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ConfigError(f"strategies.{self.name}.scale_factor", f"must be a number > 0, got {scale!r}")

    def _ranked(self, k, pool, candidates, seed, params):
        x = unit(pool.embeddings)
        queries = unit(pool.query_embeddings)
        width = min(max(k, params["candidates"]), len(candidates))
        step = max(1, CHUNK_ELEMENTS // max(1, len(candidates)))
        blocks = (queries[s:s + step] @ x[candidates].T for s in range(0, len(queries), step))
        near, _ = top_per_query(blocks, candidates, width, seed)
        ranked, relevance = [], []
        for query, items in zip(queries, near):
            rel, kernel = dpp_kernel(query, x[items], float(params["scale_factor"]))
            picks = np.array(greedy_map(kernel, k))
            cos = x[items[picks]] @ query
            order = np.argsort(-rel[picks], kind="stable")
            ranked.append(items[picks[order]])
            relevance.append(cos[order].astype(np.float64))
        return np.array(ranked), np.array(relevance)


def dpp_kernel(query: np.ndarray, items: np.ndarray, scale_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """OpenICL's kernel on unit rows: (relevance r, L = r_i s_ij r_j), both float64."""
    items = np.asarray(items, dtype=np.float64)
    rel = (items @ np.asarray(query, dtype=np.float64) + 1.0) / 2.0
    rel = np.exp((rel - rel.max()) / (2.0 * scale_factor))
    sim = (items @ items.T + 1.0) / 2.0
    return rel, rel[None, :] * sim * rel[:, None]


def greedy_map(kernel: np.ndarray, k: int, eps: float = 1e-10) -> list[int]:
    """Fast greedy MAP inference for a DPP (Chen, Zhang & Zhou 2018): k items, each maximising the gain in
    log det of the kernel on the picks, by incremental Cholesky. Unlike OpenICL's ``fast_map_dpp`` a picked
    item is never picked again: once the kernel's rank is spent (every gain below ``eps`` times the largest
    diagonal entry, where the reference stops early) the rest are the unpicked items of largest diagonal
    (relevance), ties to the earlier item."""
    n = len(kernel)
    cis = np.zeros((k, n))
    diag = np.diag(kernel).astype(np.float64)
    gains = diag.copy()
    taken = np.zeros(n, dtype=bool)
    floor = eps * max(float(diag.max()), np.finfo(np.float64).tiny)
    picks = []
    for step in range(k):
        free = np.where(taken, -np.inf, gains)
        pick = int(np.argmax(free))
        if free[pick] <= floor:
            rest = np.flatnonzero(~taken)
            picks += [int(i) for i in rest[np.argsort(-diag[rest], kind="stable")][:k - step]]
            break
        picks.append(pick)
        taken[pick] = True
        e = (kernel[pick] - cis[:step, pick] @ cis[:step]) / np.sqrt(gains[pick])
        cis[step] = e
        gains = gains - e ** 2
    return picks
