"""Demonstration-set search (DSPy's BootstrapFewShotWithRandomSearch): candidate sets scored on dev rows."""

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._model import cost


@register
class SetSearch(Strategy):
    """One set of k demonstrations: the best of ``n_random + n_bootstrap`` candidate sets on dev rows.

    Candidates, in order: ``n_random`` seeded random k-subsets of the pool (DSPy's labeled few-shot sets);
    then ``n_bootstrap`` bootstrapped sets: the model, shown the first random set (DSPy's default teacher),
    answers pool items in a seeded random order (k at a time, at most ``bootstrap_tries`` items); the items
    it answers right by the task's metric become the set, filled up with random items when fewer than k
    are (DSPy fills with labeled demonstrations too). Each candidate is scored by the task's own metric on
    the first ``dev_size`` rows of the task's dev split (``Scorer.correct``, as a test-time prediction),
    or, for a task without one, on ``dev_size`` seeded random pool rows held out from every candidate set.
    The best set is used (ties: the earlier candidate). Dev rows never overlap eval rows (the split rules
    drop eval rows from dev; the icl selection checks it again).

    On purpose unlike DSPy: a bootstrapped demonstration keeps its gold answer and rationale (DSPy keeps the
    teacher's own trace), k is fixed (DSPy draws the number of bootstrapped demonstrations), there is no
    zero-shot candidate (k shots are asked for), and bootstrapping asks k items at a time.
    """

    name = "set_search"
    needs = frozenset({"model"})
    defaults = {"n_random": 4, "n_bootstrap": 4, "dev_size": 32, "bootstrap_tries": 32}

    def check(self, params):
        for key, low in (("n_random", 1), ("n_bootstrap", 0), ("dev_size", 1), ("bootstrap_tries", 1)):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"strategies.{self.name}.{key}", f"must be an integer >= {low}, got {value!r}")

    def _pick(self, k, pool, candidates, seed, params):
        model, info = pool.model, {}
        rng = np.random.default_rng(seed)
        with cost(model, info):
            if model.n_dev:
                split, dev = "dev", list(range(min(params["dev_size"], model.n_dev)))
            else:
                held = min(params["dev_size"], len(candidates) - k)
                if held < 1:
                    raise ConfigError(f"strategies.{self.name}",
                                      f"needs dev rows: the task has no dev split and the pool has no rows "
                                      f"to hold out beside k={k} demonstrations ({len(candidates)} unselected)")
                split = "pool"
                dev = sorted(int(i) for i in rng.choice(candidates, held, replace=False))
                candidates = np.setdiff1d(candidates, dev)
            sets = [sorted(int(i) for i in rng.choice(candidates, k, replace=False)) for _ in range(params["n_random"])]
            kinds = ["random"] * len(sets)
            for _ in range(params["n_bootstrap"]):
                sets.append(bootstrap(model, candidates, k, sets[0], rng, params["bootstrap_tries"]))
                kinds.append("bootstrap")
            scores = [float(np.mean(model.correct(split, dev, s))) for s in sets]
            best = int(np.argmax(scores))  # ties: the earlier candidate
        return sets[best], {"dev_split": split, "n_dev": len(dev), "candidates": kinds, "dev_scores": scores,
                            "best": best, **info}


def bootstrap(model, candidates: np.ndarray, k: int, teacher: list[int], rng, tries: int) -> list[int]:
    """Pool items the model answers right with ``teacher`` shown, k at a time, filled up to k at random."""
    order = rng.permutation(np.setdiff1d(candidates, teacher))[:tries]
    kept = []
    for start in range(0, len(order), k):
        if len(kept) >= k:
            break
        batch = [int(i) for i in order[start:start + k]]
        kept += [i for i, ok in zip(batch, model.correct("pool", batch, teacher)) if ok]
    kept = kept[:k]
    rest = np.setdiff1d(candidates, kept)
    fill = rng.choice(rest, k - len(kept), replace=False) if len(kept) < k else []
    return kept + [int(i) for i in fill]
