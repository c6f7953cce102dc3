"""LESS (Xia et al. 2024): LoRA gradient features, cosine to the target split's gradients."""

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._common import check_int, floats, rank, unit


@register
class Less(Strategy):
    """Highest LESS score first: for each eval task, the mean cosine between the item's projected LoRA gradient
    and those of the task's target rows; the item's score is its largest over eval tasks (LESS's max over
    target tasks). Ties in a seeded random order.

    The gradients are taken under a warm-up adapter: the preset's LoRA trained ``warmup_epochs`` epochs on a
    seeded random ``warmup_fraction`` of the pool (``seed``), as the paper (5%, 4 epochs); projected by a
    seeded count sketch to ``proj_dim`` (``sketch_seed``). Where algrid differs from the paper on purpose:
    SGD gradients for the pool rows too (the paper preconditions them with the warm-up's Adam state), one
    checkpoint (the warm-up's last; the paper sums over its epoch checkpoints weighted by learning rate),
    a sparse projection instead of TRAK's dense one. The scores are the same in every round (one warm-up);
    each round takes the next best."""

    name = "less"
    needs = frozenset({"features", "queries"})
    defaults = {"proj_dim": 8192, "sketch_seed": 0, "warmup_fraction": 0.05, "warmup_epochs": 4, "seed": 0}
    features = "less"
    feature_params = ("proj_dim", "sketch_seed", "warmup_fraction", "warmup_epochs", "seed")
    warmup_params = ("warmup_fraction", "warmup_epochs", "seed")

    def check(self, params):
        for key in ("proj_dim", "warmup_epochs"):
            check_int(self.name, params, key, 1)
        for key in ("sketch_seed", "seed"):
            check_int(self.name, params, key, 0)
        fraction = params["warmup_fraction"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ConfigError(f"strategies.{self.name}.warmup_fraction", f"must be in (0, 1], got {fraction!r}")

    def _pick(self, k, pool, candidates, seed, params):
        scores = less_scores(pool.features, pool.query_features, pool.query_groups)
        picks = rank(scores, candidates, seed, ascending=False)[:k]
        return picks, {"scores": floats(scores[picks])}


def less_scores(features, query_features, groups) -> np.ndarray:
    """max over eval tasks j of mean over j's target rows of cos(item gradient, target gradient)."""
    items, queries = unit(features), unit(query_features)
    groups = np.zeros(len(queries), dtype=np.int64) if groups is None else np.asarray(groups)
    means = np.stack([queries[groups == j].mean(axis=0) for j in np.unique(groups)])
    return (items @ means.T).max(axis=1).astype(np.float64)
