from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class MaxEntropy(ScoreRank):
    """Highest maximum token entropy of the greedy answer first."""

    name = "max_entropy"
    column = "max_entropy"
    ascending = False
