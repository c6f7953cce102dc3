"""BADGE (Ash et al. 2020): k-means++ seeding on gradient embeddings of the model's own greedy answer."""

from algrid.strategies import Strategy, register
from algrid.strategies._common import check_int, floats, kmeans_pp


@register
class Badge(Strategy):
    """k-means++ seeding (first pick: the largest gradient norm; each next drawn with probability proportional
    to its squared distance to the nearest pick) over the unselected items' gradient embeddings: the output
    layer's gradient of the cross-entropy of the model's own greedy answer (``algrid.finetune.features``),
    under the base model in round 1 and round i-1's adapter in round i. As in BADGE, items selected in
    earlier rounds are not centers: the retrained model's gradients carry what they taught it.

    ``proj_dim`` rows of a seeded Gaussian sketch (``sketch_seed``) stand for the vocabulary side of the
    [vocab, hidden] gradient (BADGE uses it whole; a vocabulary of 49k makes that 28M numbers per item):
    squared distances are kept in expectation."""

    name = "badge"
    needs = frozenset({"features"})
    defaults = {"proj_dim": 16, "sketch_seed": 0}
    features = "badge"
    feature_params = ("proj_dim", "sketch_seed")

    def check(self, params):
        check_int(self.name, params, "proj_dim", 1)
        check_int(self.name, params, "sketch_seed", 0)

    def _pick(self, k, pool, candidates, seed, params):
        positions, d2 = kmeans_pp(pool.features[candidates], k, seed)
        return candidates[positions], {"squared_distances": floats(d2)}
