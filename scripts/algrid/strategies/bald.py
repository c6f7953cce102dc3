"""BALD (Houlsby et al. 2011) with MC dropout (Gal et al. 2017) over the LoRA adapter's dropout."""

import numpy as np

from algrid.strategies import Strategy, register
from algrid.strategies._common import check_int, floats, rank


@register
class Bald(Strategy):
    """Highest mutual information between the answer tokens and the adapter's dropout mask first: ``passes``
    dropout samples of round i-1's adapter (``algrid.finetune.features``), ties in a seeded random order.

    Round 1 has no adapter, hence no dropout to sample (a fresh LoRA adapter adds zero whatever it drops):
    round 1 is a seeded uniform random pick (as ``random``), and the workflow computes no features for it.
    A preset whose ``lora_dropout`` is 0 has nothing to sample either: a config error at parse time."""

    name = "bald"
    needs = frozenset()  # features from round 2 on (the workflow declares them); none in round 1
    defaults = {"passes": 8, "seed": 0}
    features = "bald"
    feature_params = ("passes", "seed")
    first_round_features = False

    def check(self, params):
        check_int(self.name, params, "passes", 2)
        check_int(self.name, params, "seed", 0)

    def _pick(self, k, pool, candidates, seed, params):
        if pool.features is None:
            picks = np.random.default_rng(seed).choice(candidates, size=k, replace=False)
            return picks, {"round1": "random: no adapter yet, so no dropout to sample"}
        mi = np.asarray(pool.features, dtype=np.float64)[:, 0]
        picks = rank(mi, candidates, seed, ascending=False)[:k]
        return picks, {"mutual_information": floats(mi[picks])}
