"""Relevance to the evaluation queries by BM25 (Okapi) over the pool texts."""

import re

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._common import CHUNK_ELEMENTS, floats, round_robin, top_per_query


@register
class BM25(Strategy):
    """Pool items with the highest BM25 score for the query texts.

    Index: ``rank_bm25.BM25Okapi`` over the lowercased word tokens of every pool text
    (selected ones included, so idf does not change between rounds). Scores equal
    ``BM25Okapi.get_scores`` but are computed as one sparse product for many queries.
    Per-query and round-robin semantics as ``similarity``; ties in a seeded random order.
    """

    name = "bm25"
    needs = frozenset({"texts", "queries"})
    per_query = True
    defaults = {"k1": 1.5, "b": 0.75, "epsilon": 0.25}

    def _pick_per_query(self, k, pool, candidates, seed, params):
        return top_per_query(self._relevance(pool, candidates, params), candidates, k, seed)[0]

    def _pick(self, k, pool, candidates, seed, params):
        ranked, relevance = top_per_query(self._relevance(pool, candidates, params), candidates, k, seed)
        picks, queries, scores = round_robin(ranked, relevance, k)
        return picks, {"queries": queries, "bm25": floats(scores)}

    def check(self, params):
        for key in ("k1", "b", "epsilon"):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"strategies.{self.name}.{key}", f"must be a number >= 0, got {value!r}")

    def _relevance(self, pool, candidates, params):
        """Yield BM25 scores [queries, candidates] in chunks of queries."""
        weights, vocab = bm25_weights([tokenize(t) for t in pool.texts], **params)
        weights = weights[candidates].T.tocsr()
        step = max(1, CHUNK_ELEMENTS // max(1, len(candidates)))
        for start in range(0, len(pool.query_texts), step):
            queries = term_counts(pool.query_texts[start:start + step], vocab)
            yield (queries @ weights).toarray()


def tokenize(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def bm25_weights(docs: list[list[str]], k1: float, b: float, epsilon: float):
    """Sparse [docs, terms] matrix whose row-sum over a query's terms is the BM25Okapi score, and the vocabulary."""
    from rank_bm25 import BM25Okapi
    from scipy.sparse import csr_matrix

    if not any(docs):  # nothing to index: every score is 0
        return csr_matrix((len(docs), 0)), {}
    model = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)
    vocab = {term: j for j, term in enumerate(model.idf)}
    rows, cols, values = [], [], []
    for i, (freqs, length) in enumerate(zip(model.doc_freqs, model.doc_len)):
        norm = k1 * (1 - b + b * length / model.avgdl)
        for term, tf in freqs.items():
            rows.append(i)
            cols.append(vocab[term])
            values.append(model.idf[term] * tf * (k1 + 1) / (tf + norm))
    return csr_matrix((values, (rows, cols)), shape=(len(docs), len(vocab))), vocab


def term_counts(texts: list[str], vocab: dict):
    """[texts, terms] counts of each text's tokens (a repeated query word counts again)."""
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, text in enumerate(texts):
        for term in tokenize(text):
            if term in vocab:
                rows.append(i)
                cols.append(vocab[term])
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))
