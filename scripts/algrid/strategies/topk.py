"""TopK demonstrations (Liu et al. 2022; OpenICL's TopkRetriever), optionally diversified by MMR."""

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import register
from algrid.strategies._common import CHUNK_ELEMENTS, PerQueryRanked, top_per_query, unit


@register
class TopK(PerQueryRanked):
    """Per query, its k most cosine-similar unselected items, most similar first.

    ``diversity`` > 0 picks by maximal marginal relevance (Carbonell & Goldstein 1998) instead: each next
    item maximises ``(1 - diversity) * cos(query, item) - diversity * max cos(item, picked)``, so 0 is plain
    TopK and 1 ignores relevance after the first pick. As one set: queries take turns, each adding its next
    item not picked yet, until k items. Ties in a seeded random order.
    """

    name = "topk"
    defaults = {"diversity": 0.0}

    def check(self, params):
        value = params["diversity"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"strategies.{self.name}.diversity", f"must be a number in [0, 1], got {value!r}")

    def _ranked(self, k, pool, candidates, seed, params):
        items = unit(pool.embeddings)[candidates]
        queries = unit(pool.query_embeddings)
        if params["diversity"] == 0:
            step = max(1, CHUNK_ELEMENTS // max(1, len(candidates)))
            blocks = (queries[s:s + step] @ items.T for s in range(0, len(queries), step))
            return top_per_query(blocks, candidates, k, seed)
        perm = np.random.default_rng(seed).permutation(len(candidates))
        items = items[perm]
        ranked, relevance = [], []
        for query in queries:
            local = mmr(query @ items.T, items, k, float(params["diversity"]))
            ranked.append(candidates[perm[local]])
            relevance.append((query @ items[local].T).astype(np.float64))
        return np.array(ranked), np.array(relevance)


def mmr(relevance: np.ndarray, items: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Greedy maximal marginal relevance over unit rows ``items``; ties go to the earlier row."""
    redundancy = np.full(len(items), -np.inf, dtype=np.float64)
    taken = np.zeros(len(items), dtype=bool)
    picks = []
    for _ in range(k):
        gain = (1.0 - diversity) * relevance - diversity * np.where(np.isinf(redundancy), 0.0, redundancy)
        gain[taken] = -np.inf
        pick = int(np.argmax(gain))
        picks.append(pick)
        taken[pick] = True
        redundancy = np.maximum(redundancy, items @ items[pick])
    return np.array(picks, dtype=np.int64)
