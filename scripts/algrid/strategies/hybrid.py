"""Uncertainty-filtered diversity: a diverse subset of the most uncertain items."""

import math

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Pool, Strategy, get, register
from algrid.strategies._common import LOW_IS_UNCERTAIN, floats, others, rank, score_column

DIVERSITY = ("kcenter", "kmeans")


@register
class Hybrid(Strategy):
    """Keep the most uncertain ``filter_fraction`` of the unselected pool by the column
    ``score`` (at least k items; ties in a seeded random order), then pick k of them with the
    ``diversity`` strategy (kcenter or kmeans, default parameters), which also sees the
    items selected before.
    """

    name = "hybrid"
    needs = frozenset({"scores", "embeddings"})
    defaults = {"filter_fraction": 0.5, "score": "entropy", "diversity": "kcenter"}

    def check(self, params):
        fraction, column, diversity = params["filter_fraction"], params["score"], params["diversity"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ConfigError(f"strategies.{self.name}.filter_fraction", f"must be in (0, 1], got {fraction!r}")
        if column not in LOW_IS_UNCERTAIN:
            raise ConfigError(f"strategies.{self.name}.score", f"must be one of {sorted(LOW_IS_UNCERTAIN)}")
        if diversity not in DIVERSITY:
            raise ConfigError(f"strategies.{self.name}.diversity", f"must be one of {list(DIVERSITY)}")

    def _pick(self, k, pool, candidates, seed, params):
        column = params["score"]
        values = score_column(pool, column, self.name)
        size = max(k, math.ceil(params["filter_fraction"] * len(candidates)))
        ranked = rank(values, candidates, seed, LOW_IS_UNCERTAIN[column])[:size]
        kept = np.sort(ranked)
        keep = np.concatenate([kept, others(candidates, pool.n)])
        inner = Pool(n=len(keep), selected=np.arange(len(kept), len(keep)),
                     embeddings=np.asarray(pool.embeddings)[keep])
        chosen = get(params["diversity"]).select(k, inner, seed)
        info = {"kept": int(size), "score_threshold": floats(values[ranked[-1:]])[0],
                "diversity_info": chosen.info}
        return keep[chosen.indices], info
