"""Round 1 without the base model's guess (``finetune.cold_start``): how a multi-round cell of a strategy that
reads pool scores picks its first round, as small-text's initialisations do (``small_text.initialization``).

- ``none``: the strategy itself on the base model's pool scores (seeds 001/002: the initial model selects).
- ``random``: the ``random`` strategy (random_initialization, seeded).
- ``kmeans``: the ``kmeans`` strategy, the pool item nearest each of k centroids of the pool embeddings.
- ``stratified``: random_initialization_stratified: each stratum of the pool (``strategies._common.answer_strata``,
  as balanced_random: the label of a classification, multichoice or BBH row, else its answer kind) gets its
  share of the k picks, at least one each where k allows; small-text's ``stratified_sampling`` step for step, on
  a seeded generator rather than the global one. It reads the pool's labels, as a simulated annotator's initial
  set does; tasks whose answers are numbers or free text (metric numeric, text) have one stratum and are refused.

One-round cells (experimental design) keep the strategy's own pick: a cold start would make them the cold-start
method itself.
"""

import numpy as np

from algrid import strategies
from algrid.errors import ConfigError
from algrid.strategies._common import answer_strata

METHODS = ("none", "random", "stratified", "kmeans")


def needs(method: str) -> frozenset:
    """The pool inputs a cold start reads (the pool rows themselves always)."""
    return frozenset() if method == "stratified" else strategies.get(method).needs


def strata_codes(rows: list[dict]) -> tuple[np.ndarray, list[str]]:
    """Each row's stratum (``answer_strata``) as an integer (strata sorted by name) and the strata names."""
    names = answer_strata(rows)
    classes, codes = np.unique(np.array(names, dtype=object), return_inverse=True)
    return codes.astype(np.int64), [str(c) for c in classes]


def stratified_sampling(y: np.ndarray, n_samples: int, rng: np.random.RandomState,
                        enforce_min_occurrence: bool = True) -> np.ndarray:
    """small_text.data.sampling.stratified_sampling with ``rng`` for ``np.random``: per class its floored share
    of ``n_samples``, one more each (then taken back round robin from classes above one) where a class would
    get none and there are more samples than classes, the remainder drawn class by class in proportion to
    what is left, then each class's items drawn at random and the whole permuted."""
    y = np.asarray(y, dtype=np.int64)
    if n_samples > len(y):
        raise ValueError(f"{n_samples} samples from {len(y)} items")
    num_classes = int(y.max()) + 1
    counts = np.bincount(y, minlength=num_classes)
    per_class = np.floor(counts * (float(n_samples) / counts.sum())).astype(int)
    if enforce_min_occurrence and per_class.min() == 0:
        if n_samples > num_classes and np.unique(y).shape[0] == num_classes:
            per_class += 1
            excess = per_class.sum() - n_samples
            class_indices = np.arange(num_classes)[per_class > 1]
            position = 0
            for _ in range(excess):
                while per_class[class_indices[position]] <= 1:
                    position = (position + 1) % class_indices.shape[0]
                per_class[class_indices[position]] -= 1
                class_indices = np.arange(num_classes)[per_class > 1]
    remainder = n_samples - per_class.sum()
    for i in range(num_classes):
        if per_class[i] > counts[i]:
            remainder += per_class[i] - counts[i]
            per_class[i] = counts[i]
    if remainder != 0:
        left = counts - per_class
        for _ in range(remainder):
            choice = rng.choice(np.arange(num_classes), size=1, replace=False, p=left.astype(float) / left.sum())
            per_class[choice[0]] += 1
            left[choice[0]] -= 1
    indices = []
    for i in range(num_classes):
        if per_class[i] > 0:
            indices += rng.choice(np.flatnonzero(y == i), size=per_class[i], replace=False).tolist()
    return rng.permutation(indices)


def pick(method: str, k: int, pool: "strategies.Pool", seed: int, *, rows: list[dict],
         params: dict | None = None) -> "strategies.Selection":
    """Round 1's k picks by a cold start (``params``: the random or kmeans strategy's parameters)."""
    if method in ("random", "kmeans"):
        chosen = strategies.get(method).select(k, pool, seed, **(params or {}))
        return strategies.Selection(chosen.indices, {**chosen.info, "cold_start": method})
    if method != "stratified":
        raise ValueError(f"unknown cold start '{method}'; known: {METHODS}")
    if len(pool.selected):
        raise ValueError("a cold start picks round 1, before anything is selected")
    y, classes = strata_codes(rows)
    if len(classes) < 2:
        raise ConfigError("finetune.cold_start", f"'stratified' needs labels or answer kinds, but every pool row is "
                          f"of one stratum ({classes[0]}); use random or kmeans")
    picks = [int(i) for i in stratified_sampling(y, k, np.random.RandomState(seed))]
    counts = {classes[c]: int(n) for c, n in enumerate(np.bincount(y[picks], minlength=len(classes))) if n}
    info = {"strategy": "stratified", "cold_start": method, "seed": seed, "k": k, "pool_size": pool.n,
            "previously_selected": 0, "class_counts": counts}
    return strategies.Selection(picks, info)
