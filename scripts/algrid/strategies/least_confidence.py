from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class LeastConfidence(ScoreRank):
    """Highest 1 - mean token probability of the greedy answer first."""

    name = "least_confidence"
    column = "least_confidence"
    ascending = False
