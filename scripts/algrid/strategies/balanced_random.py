"""Random picks balanced over the pool's labels or answer kinds."""

from algrid.strategies import Strategy, register
from algrid.strategies._common import balanced_picks, others


@register
class BalancedRandom(Strategy):
    """Seeded random picks, stratified: each pick comes from the stratum (``_common.answer_strata``: the label
    of a classification or multichoice row, else its answer kind) with the fewest items selected so far,
    earlier rounds included, so the cumulative selection is as even over strata as the pool allows. A task
    with one stratum (every answer a number) gets plain random picks. It reads the pool's labels: a
    stratified baseline, not a label-blind active learner."""

    name = "balanced_random"
    needs = frozenset({"labels"})

    def _pick(self, k, pool, candidates, seed, params):
        picks, sources = balanced_picks(pool.labels, candidates, k, seed, others(candidates, pool.n))
        counts = {s: sources.count(s) for s in sorted(set(sources))}
        return picks, {"strata": sources, "stratum_counts": counts}
