"""k-means diversity: one representative per cluster of the unselected pool."""

import warnings

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._common import CHUNK_ELEMENTS, unit


@register
class KMeansStrategy(Strategy):
    """k-means with k clusters on the unit embeddings of the unselected items (seeded).

    Picks the unselected item nearest each centroid, largest clusters first; when two
    centroids share a nearest item, the later one takes its nearest free item. Pools of more
    than ``minibatch_above`` unselected items use MiniBatchKMeans.
    """

    name = "kmeans"
    needs = frozenset({"embeddings"})
    defaults = {"minibatch_above": 20000}

    def check(self, params):
        limit = params["minibatch_above"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"strategies.{self.name}.minibatch_above", f"must be an integer >= 0, got {limit!r}")

    def _pick(self, k, pool, candidates, seed, params):
        from sklearn.cluster import KMeans, MiniBatchKMeans  # heavy: imported when used, not at parse time
        from sklearn.exceptions import ConvergenceWarning

        limit = params["minibatch_above"]
        x = unit(pool.embeddings)[candidates]
        if len(candidates) > limit:
            model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, batch_size=4096)
        else:
            model = KMeans(n_clusters=k, random_state=seed, n_init=1)
        with warnings.catch_warnings():  # duplicate points: fewer distinct clusters than k
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = model.fit_predict(x)
        sizes = np.bincount(labels, minlength=k)
        order = np.argsort(-sizes, kind="stable")
        centroids = model.cluster_centers_[order].astype(np.float32)
        return candidates[nearest_distinct(x, centroids)], {"cluster_sizes": sizes[order].tolist()}


def nearest_distinct(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """For each centroid in order, the row of ``x`` nearest to it that no earlier centroid took."""
    taken = np.zeros(len(x), dtype=bool)
    picks = np.full(len(centroids), -1)
    sq_norms = np.einsum("ij,ij->i", x, x)
    pending = np.arange(len(centroids))
    while pending.size:
        step = max(1, CHUNK_ELEMENTS // len(x))
        for start in range(0, len(pending), step):
            rows = pending[start:start + step]
            dist = sq_norms - 2.0 * (centroids[rows] @ x.T)  # squared distance minus |c|^2
            dist[:, taken] = np.inf
            for row, item in zip(rows, dist.argmin(axis=1)):
                if not taken[item]:
                    picks[row], taken[item] = item, True
        pending = pending[picks[pending] < 0]
    return picks
