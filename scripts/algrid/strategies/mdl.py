"""MDL demonstrations (Wu et al. 2023, "Self-adaptive in-context learning"; OpenICL's MDLRetriever)."""

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._common import CHUNK_ELEMENTS, round_robin, top_per_query, unit
from algrid.strategies._model import cost


@register
class MDL(Strategy):
    """Per query: candidate demonstration sets from its ``candidates`` most cosine-similar unselected items
    (the k most similar, then ``select_time - 1`` random k-subsets of them), each scored by the minimum
    description length of the query's answer: the model's distribution over the query's answer options
    with the set shown (``Scorer.option_nll``: exp(-NLL per answer token), normalised over the options);
    the set of lowest entropy is used. As one set: queries take turns adding their set's next item not
    picked yet, until k items. Tasks with answer options only (classification, multichoice).

    As OpenICL, the random subsets come from one legacy ``numpy.random.RandomState(seed)`` drawn query after
    query (``choice(near, k, replace=False)``), ties to the first set. On purpose unlike OpenICL: the NLL is
    of the answer tokens given prompt and set (the log-likelihoods algrid's loglik prediction compares), not
    of the query's text and answer together; similarity is cosine (OpenICL: inner product of its embeddings,
    the same on unit embeddings).
    """

    name = "mdl"
    needs = frozenset({"embeddings", "queries", "model"})
    per_query = True
    defaults = {"candidates": 30, "select_time": 5}

    def check(self, params):
        for key, low in (("candidates", 1), ("select_time", 1)):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"strategies.{self.name}.{key}", f"must be an integer >= {low}, got {value!r}")

    def _pick_per_query(self, k, pool, candidates, seed, params):
        return self._chosen(k, pool, candidates, seed, params)[0]

    def _pick(self, k, pool, candidates, seed, params):
        info = {}
        with cost(pool.model, info):
            sets, entropies = self._chosen(k, pool, candidates, seed, params)
        x, queries = unit(pool.embeddings), unit(pool.query_embeddings)
        relevance = np.array([x[s] @ q for s, q in zip(sets, queries)], dtype=np.float64)
        picks, sources, _ = round_robin(np.array(sets), relevance, k)
        return picks, {"queries": sources, "entropy": entropies, **info}

    def _chosen(self, k, pool, candidates, seed, params) -> tuple[list[list[int]], list[float]]:
        x, queries = unit(pool.embeddings), unit(pool.query_embeddings)
        width = min(max(k, params["candidates"]), len(candidates))
        step = max(1, CHUNK_ELEMENTS // max(1, len(candidates)))
        blocks = (queries[s:s + step] @ x[candidates].T for s in range(0, len(queries), step))
        near, _ = top_per_query(blocks, candidates, width, seed)
        rng = np.random.RandomState(seed)  # OpenICL's draws (np.random.seed, then np.random.choice)
        chosen, entropies = [], []
        for query, items in enumerate(near):
            sets = [[int(i) for i in items[:k]]]
            sets += [[int(i) for i in rng.choice(items, k, replace=False)] for _ in range(params["select_time"] - 1)]
            entropy = [answer_entropy(nll) for nll in pool.model.option_nll(query, sets)]
            best = int(np.argmin(entropy))  # ties: the first set
            chosen.append(sets[best])
            entropies.append(float(entropy[best]))
        return chosen, entropies


def answer_entropy(nll) -> float:
    """Entropy of the answer distribution exp(-nll) normalised over the options."""
    p = np.exp(-np.asarray(nll, dtype=np.float64))
    p = p / p.sum()
    return float(-(p * np.log(p)).sum())
