from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class Entropy(ScoreRank):
    """Highest mean token entropy of the model's greedy answer first."""

    name = "entropy"
    column = "entropy"
    ascending = False
