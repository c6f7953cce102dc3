from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class PerplexityLow(ScoreRank):
    """Lowest input perplexity first (Margatina et al. 2023: familiar inputs make good demonstrations)."""

    name = "perplexity_low"
    column = "perplexity"
    ascending = True
