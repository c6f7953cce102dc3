"""Relevance to the evaluation queries by embedding cosine similarity."""

import numpy as np

from algrid.strategies import Strategy, register
from algrid.strategies._common import CHUNK_ELEMENTS, floats, round_robin, top_per_query, unit


@register
class Similarity(Strategy):
    """Pool items most cosine-similar to the queries.

    Per query: its k most similar unselected items. As one set: queries take turns, each
    adding its most similar item not picked yet, until k items. Ties in a seeded random order.
    """

    name = "similarity"
    needs = frozenset({"embeddings", "queries"})
    per_query = True

    def _pick_per_query(self, k, pool, candidates, seed, params):
        return top_per_query(_relevance(pool, candidates), candidates, k, seed)[0]

    def _pick(self, k, pool, candidates, seed, params):
        ranked, relevance = top_per_query(_relevance(pool, candidates), candidates, k, seed)
        picks, queries, scores = round_robin(ranked, relevance, k)
        return picks, {"queries": queries, "similarity": floats(scores)}


def _relevance(pool, candidates):
    """Yield (query slice, cosine similarity [queries, candidates]) in chunks."""
    items = unit(pool.embeddings)[candidates]
    queries = unit(pool.query_embeddings)
    step = max(1, CHUNK_ELEMENTS // max(1, len(candidates)))
    for start in range(0, len(queries), step):
        yield queries[start:start + step] @ items.T
