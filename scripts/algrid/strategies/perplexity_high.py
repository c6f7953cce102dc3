from algrid.strategies import register
from algrid.strategies._common import ScoreRank


@register
class PerplexityHigh(ScoreRank):
    """Highest input perplexity first (ActiveLLM's "uncertainty" strategy)."""

    name = "perplexity_high"
    column = "perplexity"
    ascending = False
