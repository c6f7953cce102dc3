from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class Margin(ScoreRank):
    """Lowest mean (top-1 - top-2) token probability margin first: small margin = uncertain."""

    name = "margin"
    column = "margin"
    ascending = True
