import numpy as np

from algrid.strategies import Strategy, register


@register
class Random(Strategy):
    """Uniform sample without replacement from the unselected pool."""

    name = "random"

    def _pick(self, k, pool, candidates, seed, params):
        return np.random.default_rng(seed).choice(candidates, size=k, replace=False), {}
