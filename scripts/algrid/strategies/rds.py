"""RDS+ (Ivison et al. 2025): relevance to the target split by the model's own hidden states."""

from algrid.strategies import Strategy, register
from algrid.strategies._common import floats, round_robin, top_per_query, unit


@register
class Rds(Strategy):
    """Pool items most cosine-similar to the eval tasks' target rows, both embedded by the base model's final
    hidden states with position-weighted mean pooling (``algrid.finetune.features``). As RDS+ (and
    ``similarity``), the target rows take turns adding their most similar item not picked yet until k items;
    ties in a seeded random order. The embeddings come from the base model in every round (as RDS+)."""

    name = "rds"
    needs = frozenset({"features", "queries"})
    features = "rds"

    def _pick(self, k, pool, candidates, seed, params):
        items, queries = unit(pool.features)[candidates], unit(pool.query_features)
        ranked, relevance = top_per_query([queries @ items.T], candidates, k, seed)
        picks, sources, scores = round_robin(ranked, relevance, k)
        return picks, {"queries": sources, "similarity": floats(scores)}
