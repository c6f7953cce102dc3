"""Statistics of a grid cell over its seeds and its eval items, and a paired comparison with ``random``.

Every metrics file carries ``item_ids`` and ``item_correct`` (0/1 per eval row). The eval rows of a cell are
the same for every seed (the same eval split), so a cell is a seeds x items matrix of 0/1, and two strategies
of the same cell keys pair item by item on their common seeds.

Accuracy interval
    A two-level percentile bootstrap (``bootstrap_interval``): each resample draws the seeds with replacement
    and the items with replacement (one item draw for every seed, since the items are shared) and takes the
    mean over the drawn seeds x items. With one seed it is an item bootstrap. The random generator is seeded
    from the matrix's shape only, so reruns (and the same cell in another grid) give identical numbers.

Comparison with ``random``
    d[s, i] = correct_x[s, i] - correct_random[s, i] on the common seeds and items: the mean difference, its
    interval by the same bootstrap, and a two-sided p value of a paired sign-flip permutation test over items
    (``sign_flip_p``): each item's seed-averaged difference keeps or flips its sign. The test is exact when at
    most ``EXACT_MAX`` items differ, otherwise seeded Monte Carlo with p = (1 + #extreme) / (1 + B). p is never 0.

Metrics files without per-item data (written before they carried it) still get an accuracy interval: each
seed's items are resampled on their own from its count of correct answers; they get no paired test.
"""

import functools

import numpy as np
import pandas as pd

from .errors import DataError

CONFIDENCE = 0.95
RESAMPLES = 2000
PERMUTATIONS = 9999
EXACT_MAX = 16
RNG_SEED = 20240117
ITEM_COLUMNS = ("item_ids", "item_correct")
CELL = ["family", "task", "model", "preset", "strategy", "adapter", "budget", "rounds", "shots", "round", "n_labels",
        "eval_task", "metric"]
STAT_COLUMNS = ["n_seeds", "n_items", "accuracy_mean", "accuracy_std", "accuracy_ci_low", "accuracy_ci_high",
                "diff_vs_random", "diff_ci_low", "diff_ci_high", "p_vs_random", "ci_method"]
T_METHOD = f"t-interval over seeds, {round(CONFIDENCE * 100)}%"
_CHUNK = 4_000_000  # resample entries (resamples x items) held at once


def ci_method(n_seeds: int, *, per_item: bool = True) -> str:
    level = f"{round(CONFIDENCE * 100)}%, {RESAMPLES} resamples"
    if not per_item:
        return f"bootstrap over seeds and items (no per-item data: items resampled per seed), {level}"
    if n_seeds == 1:
        return f"bootstrap over items (1 run), {level}"
    return f"bootstrap over seeds and items, {level}"


# ----------------------------------------------------------------------------- building blocks


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """(mean, sample std, lo, hi): a t-distribution interval of the mean over seeds.

    With one value the std is 0 and the interval is the value itself.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return mean, 0.0, mean, mean
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1)) * std / np.sqrt(x.size)
    return mean, std, mean - half, mean + half


@functools.lru_cache(maxsize=16)
def _resamples(n_seeds: int, n_items: int, resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw counts of the seeds, (B, S), and of the items, (I, B), from a generator seeded by the shape alone."""
    rng = np.random.default_rng([RNG_SEED, n_seeds, n_items, resamples])
    seeds = np.ones((resamples, 1)) if n_seeds == 1 else rng.multinomial(n_seeds, [1 / n_seeds] * n_seeds,
                                                                         size=resamples).astype(float)
    items = np.empty((n_items, resamples), dtype=np.float32)
    step = max(1, _CHUNK // max(n_items, 1))
    for start in range(0, resamples, step):
        stop = min(start + step, resamples)
        draws = rng.integers(0, n_items, size=(stop - start, n_items))
        offsets = np.arange(stop - start)[:, None] * n_items
        items[:, start:stop] = np.bincount((draws + offsets).ravel(), minlength=(stop - start) * n_items).reshape(
            stop - start, n_items).T
    return seeds, items


def bootstrap_means(matrix) -> np.ndarray:
    """The mean of a seeds x items matrix under each two-level resample (seeds and items with replacement,
    one item draw shared by every seed)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"bootstrap needs a non-empty seeds x items matrix, got shape {m.shape}")
    seeds, items = _resamples(m.shape[0], m.shape[1], RESAMPLES)
    per_seed = (m.astype(np.float32) @ items).astype(float)  # (S, B): each seed's sum over the drawn items
    return (seeds * per_seed.T).sum(axis=1) / (m.shape[0] * m.shape[1])


def bootstrap_interval(matrix) -> tuple[float, float]:
    """95% percentile interval of the mean of a seeds x items matrix (see ``bootstrap_means``)."""
    lo, hi = np.quantile(bootstrap_means(matrix), [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(lo), float(hi)


def bootstrap_ratio_interval(values, weights) -> tuple[float, float]:
    """95% percentile interval of sum(values) / sum(weights) of two seeds x items matrices under the two-level
    resample of ``bootstrap_means`` (the same draws, as the shapes are equal): a mean over the items that have
    a value (weights 0/1, values 0 where there is none), e.g. the judge's rating over parsed ratings."""
    v, w = np.nan_to_num(np.asarray(values, dtype=float)), np.asarray(weights, dtype=float)
    num, den = bootstrap_means(v * w), bootstrap_means(w)
    keep = den > 0
    lo, hi = np.quantile(num[keep] / den[keep], [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(lo), float(hi)


def macro_f1_resamples(truth, preds, *, unparsed: str | None = None) -> np.ndarray:
    """Macro-F1 under each two-level resample of ``bootstrap_means``: ``truth`` and ``preds`` are seeds x items
    class names; each resample draws seeds and items with replacement (one item draw shared by every seed),
    recomputes each drawn seed's macro-F1 on its drawn items (as ``metrics.score``: the classes seen in the
    resample's truth or predictions, less ``unparsed``; F1 0 where undefined) and averages over the drawn seeds."""
    t, p = np.asarray(truth, dtype=object), np.asarray(preds, dtype=object)
    if t.shape != p.shape or t.ndim != 2 or t.size == 0:
        raise ValueError(f"macro-F1 bootstrap needs equal non-empty seeds x items matrices, got {t.shape}, {p.shape}")
    n_seeds, n_items = t.shape
    seeds, items = _resamples(n_seeds, n_items, RESAMPLES)  # (B, S), (I, B)
    classes = sorted({str(c) for c in np.concatenate([t.ravel(), p.ravel()])} - {unparsed})
    f1 = np.zeros((n_seeds, RESAMPLES))
    for s in range(n_seeds):
        ts, ps = t[s].astype(str), p[s].astype(str)
        is_t = np.stack([ts == c for c in classes]).astype(np.float32)  # (C, I)
        is_p = np.stack([ps == c for c in classes]).astype(np.float32)
        tp, n_t, n_p = ((is_t * is_p) @ items, is_t @ items, is_p @ items)  # (C, B) counts in each resample
        denom = n_t + n_p  # 2 TP + FP + FN
        per_class = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
        present = (denom > 0).sum(axis=0)
        f1[s] = np.divide(per_class.sum(axis=0), present, out=np.zeros(RESAMPLES, dtype=np.float32),
                          where=present > 0)
    return (seeds * f1.T).sum(axis=1) / n_seeds


def macro_f1_interval(truth, preds, *, unparsed: str | None = None) -> tuple[float, float]:
    """95% percentile interval of macro-F1 (see ``macro_f1_resamples``)."""
    boot = macro_f1_resamples(truth, preds, unparsed=unparsed)
    lo, hi = np.quantile(boot, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(lo), float(hi)


def count_interval(n_correct, n_total) -> tuple[float, float]:
    """Interval from per-seed counts only: seeds with replacement, each drawn seed's items resampled on their
    own (a binomial draw). For metrics files without per-item data."""
    k, n = np.asarray(n_correct, dtype=float), np.asarray(n_total, dtype=float)
    rng = np.random.default_rng([RNG_SEED, len(n), RESAMPLES, 1])
    seeds = np.ones((RESAMPLES, 1)) if len(n) == 1 else rng.multinomial(len(n), [1 / len(n)] * len(n),
                                                                        size=RESAMPLES)
    acc = rng.binomial(n.astype(int), k / n, size=(RESAMPLES, len(n))) / n
    lo, hi = np.quantile((seeds * acc).sum(axis=1) / len(n), [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(lo), float(hi)


@functools.lru_cache(maxsize=64)
def _exact_signs(n: int) -> np.ndarray:
    """Every one of the 2^n sign patterns, (2^n, n)."""
    bits = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
    return 1.0 - 2.0 * bits


def _sign_chunks(n: int, permutations: int):
    """``permutations`` random sign patterns over n items, in blocks of rows, from a generator seeded by the
    shape alone (the same patterns whether or not they are cached)."""
    rng = np.random.default_rng([RNG_SEED, n, permutations, 2])
    step = max(1, _CHUNK // max(n, 1))
    for start in range(0, permutations, step):
        yield rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(min(step, permutations - start), n))


@functools.lru_cache(maxsize=8)
def _random_signs(n: int, permutations: int) -> np.ndarray:
    return np.vstack(list(_sign_chunks(n, permutations)))


def sign_flip_p(diffs, *, permutations: int = PERMUTATIONS, exact_max: int = EXACT_MAX) -> float:
    """Two-sided p value of a paired sign-flip permutation test of mean(diffs) = 0.

    ``diffs`` are per-item differences (averaged over seeds). Items with difference 0 do not change the
    statistic under a flip and are left out. Exact over all 2^k patterns of the k non-zero items when
    k <= ``exact_max``, else ``permutations`` seeded random patterns with p = (1 + #extreme) / (1 + B).
    """
    d = np.asarray(diffs, dtype=float)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return 1.0
    observed = abs(nonzero.sum())
    if nonzero.size <= exact_max:
        flipped = np.abs(_exact_signs(nonzero.size) @ nonzero)
        return float(np.mean(flipped >= observed - 1e-9 * max(1.0, observed)))
    # all items (a zero does not move the sum): one sign matrix per eval set size, cached unless it is large
    chunks = [_random_signs(d.size, permutations)] if d.size * permutations <= 5 * _CHUNK else _sign_chunks(
        d.size, permutations)
    d32, cut = d.astype(np.float32), observed - 1e-4 * max(1.0, observed)
    extreme = sum(int(np.sum(np.abs(signs @ d32) >= cut)) for signs in chunks)
    return (1 + extreme) / (1 + permutations)


def paired_comparison(mine, other) -> tuple[float, float, float, float]:
    """(mean difference, ci_low, ci_high, p) of two seeds x items 0/1 matrices paired row by row, item by item."""
    a, b = np.asarray(mine, dtype=float), np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired matrices differ in shape: {a.shape} and {b.shape}")
    d = a - b
    lo, hi = bootstrap_interval(d)
    return float(d.mean()), lo, hi, sign_flip_p(d.mean(axis=0))


# ----------------------------------------------------------------------------- cells


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in CELL if c in frame]


def _plain(value):
    return None if pd.isna(value) else value


class _Cell:
    """The rows of one cell: their seeds and, where the files carry them, a seeds x items matrix."""

    def __init__(self, group: pd.DataFrame):
        self.group = group
        self.sources = [str(s) for s in group["source"]] if "source" in group else [f"row {i}" for i in group.index]
        self.seeds = [_plain(s) for s in group["seed"]] if "seed" in group else [None] * len(group)
        self.ids, self.matrix = self._items()

    def _items(self):
        if "item_ids" not in self.group:
            return None, None
        has = [isinstance(v, (list, tuple, np.ndarray)) for v in self.group["item_ids"]]
        if not any(has):
            return None, None
        if not all(has):
            missing, present = (self.sources[has.index(False)], self.sources[has.index(True)])
            raise DataError(missing, f"has no per-item results (item_ids) but {present} of the same cell has; "
                            "rescore it")
        ids, rows = None, []
        for source, item_ids, correct in zip(self.sources, self.group["item_ids"], self.group["item_correct"]):
            item_ids, correct = [str(i) for i in item_ids], np.asarray(correct, dtype=float)
            if len(item_ids) != len(correct) or len(set(item_ids)) != len(item_ids):
                raise DataError(source, f"{len(item_ids)} item_ids ({len(set(item_ids))} distinct) for "
                                f"{len(correct)} item_correct values; rescore it")
            if ids is None:
                ids, first = item_ids, source
            elif item_ids != ids:
                correct = _align(item_ids, correct, ids, source, first)
            rows.append(correct)
        return ids, np.vstack(rows)

    def pair_with(self, other: "_Cell"):
        """Both cells' matrices on their common seeds, items in this cell's order; None if nothing pairs."""
        common = [s for s in self.seeds if s is not None and s in other.seeds]
        if not common or self.matrix is None or other.matrix is None:
            return None
        theirs = other.matrix
        if other.ids != self.ids:
            theirs = np.vstack([_align(other.ids, row, self.ids, other.sources[0], self.sources[0])
                                for row in other.matrix])
        mine = self.matrix[[self.seeds.index(s) for s in common]]
        return mine, theirs[[other.seeds.index(s) for s in common]]


def joint_matrices(groups) -> tuple[list, list[np.ndarray]] | None:
    """Several cells' seeds x items matrices on the seeds common to all of them, items in the first cell's order
    (every cell must be scored on the same eval items), so that ``bootstrap_means`` resamples them jointly: the
    same seeds and items in every resample, as the summary pairs a strategy with ``random``. ``groups``: one frame
    per cell as ``summarise`` reads them. (common seeds, matrices); None where a cell has no per-item data or no
    seed is common to all."""
    cells = [_Cell(g) for g in groups]
    if not cells or any(c.matrix is None for c in cells):
        return None
    common = [s for s in cells[0].seeds if s is not None and all(s in c.seeds for c in cells[1:])]
    if not common:
        return None
    first = cells[0]
    matrices = []
    for cell in cells:
        m = cell.matrix
        if cell.ids != first.ids:
            m = np.vstack([_align(cell.ids, row, first.ids, cell.sources[0], first.sources[0]) for row in m])
        matrices.append(m[[cell.seeds.index(s) for s in common]])
    return common, matrices


def _align(ids: list[str], values: np.ndarray, reference: list[str], source, reference_source) -> np.ndarray:
    """``values`` (indexed like ``ids``) reordered to ``reference``; the two id sets must be equal."""
    if set(ids) != set(reference):
        only_here, only_there = sorted(set(ids) - set(reference)), sorted(set(reference) - set(ids))
        example = (f"'{only_here[0]}' only in {source}" if only_here else f"'{only_there[0]}' only in "
                   f"{reference_source}")
        raise DataError(source, f"its eval items differ from those of {reference_source} ({len(ids)} vs "
                        f"{len(reference)} items; {example}): seeds and strategies of a cell must be scored on "
                        "the same eval rows; rebuild both")
    where = {i: k for k, i in enumerate(ids)}
    return values[[where[i] for i in reference]]


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (all seeds together): ``STAT_COLUMNS`` after the cell's keys (see the module doc).

    ``frame`` has one row per metrics file: the cell keys, ``seed``, ``accuracy``, ``n_correct``, ``n_total``
    and, for per-item statistics, ``item_ids``, ``item_correct`` (lists) and ``source`` (the file, for errors).
    """
    keys = _keys(frame)
    cells = {}
    for values, group in frame.groupby(keys, dropna=False, sort=True):
        cells[tuple(_plain(v) for v in values)] = _Cell(group)
    strategy_at = keys.index("strategy") if "strategy" in keys else None
    rows = []
    for key, cell in cells.items():
        acc = cell.group["accuracy"].to_numpy(dtype=float)
        row = dict(zip(keys, key))
        row.update(n_seeds=len(acc), accuracy_mean=float(acc.mean()),
                   accuracy_std=float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                   diff_vs_random=None, diff_ci_low=None, diff_ci_high=None, p_vs_random=None)
        if cell.matrix is not None:
            row["n_items"] = cell.matrix.shape[1]
            row["accuracy_ci_low"], row["accuracy_ci_high"] = bootstrap_interval(cell.matrix)
            row["ci_method"] = ci_method(len(acc))
        else:
            row["n_items"] = int(cell.group["n_total"].min())
            row["accuracy_ci_low"], row["accuracy_ci_high"] = count_interval(cell.group["n_correct"],
                                                                             cell.group["n_total"])
            row["ci_method"] = ci_method(len(acc), per_item=False)
        if strategy_at is not None and key[strategy_at] not in ("random", "base"):
            random = cells.get(key[:strategy_at] + ("random",) + key[strategy_at + 1:])
            pair = cell.pair_with(random) if random is not None else None
            if pair is not None:
                row["diff_vs_random"], row["diff_ci_low"], row["diff_ci_high"], row["p_vs_random"] = (
                    paired_comparison(*pair))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=keys + STAT_COLUMNS)
    for column in ("diff_vs_random", "diff_ci_low", "diff_ci_high", "p_vs_random"):
        summary[column] = summary[column].astype(float)
    return summary.astype(frame[keys].dtypes.to_dict())


def with_seed_statistics(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Every per-seed row also carries its cell's statistics."""
    keys = _keys(frame)
    return frame.merge(summary, on=keys, how="left")
