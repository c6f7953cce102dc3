from algrid.strategies import Strategy, register


@register
class All(Strategy):
    """No selection: the unselected pool in its order. With the budget equal to the pool's size (checked before
    any job), one round trains on the whole train split, as seed 003's presets do."""

    name = "all"

    def _pick(self, k, pool, candidates, seed, params):
        return candidates[:k], {"order": "pool"}
