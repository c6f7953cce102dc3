"""Label savings at matched accuracy: what fraction of ``random``'s labels a strategy needs to reach ``random``'s
accuracy, and the accuracy difference at equal labels and at equal compute -> results/savings.csv.

A *family* is (pool task, model, preset, strategy, rounds); its learning curve, per eval task, is the accuracy
after the final round at each of the family's budgets (x = budget = labels used, y = mean over seeds and eval
items). The reference is ``random``'s family with the same task, model, preset and rounds. Only families with
at least two budgets get rows: one per eval task and per budget B of ``random``.

Labels needed (``labels_needed``, ``label_ratio`` = labels_needed / B)
    The smallest budget at which the strategy's curve, linear between measured budgets, reaches random's
    accuracy at B (>=; a tie counts as reached). Nothing is extrapolated: a curve whose smallest budget already
    reaches the target gives that budget (``outcome`` "at most the smallest budget": the true need may be lower);
    a curve that reaches it at no measured budget gives "not reached" (NaN labels and ratio). ``random`` against
    itself gives B (ratio 1) where its curve rises up to B, less where an earlier budget was already as good.

Accuracy difference at equal labels (``diff_equal_labels``)
    strategy - random at budget B (both measured at B): summary.csv's ``diff_vs_random`` of the final round.

Accuracy difference at equal compute (``diff_equal_compute``)
    The strategy's accuracy at random's model-job seconds per run at B (results/compute/cells.csv,
    ``model_s_per_run``: the run's own model-loading jobs over all its rounds, mean over seeds), linear in
    seconds between the strategy's (seconds, accuracy) points sorted by seconds, minus random's accuracy at B.
    NaN where random's seconds lie outside the strategy's measured range (never extrapolated) or are missing.

Intervals (95%)
    The summary's two-level bootstrap (``stats.bootstrap_means``): every cell of the strategy's and random's
    curves is taken on their common seeds and the same eval items, so each of the 2000 resamples draws the same
    seeds and items for every budget of both curves (paired), and the quantity is recomputed from the resampled
    curves. Seconds are fixed (not resampled). "Not reached" is an outcome of its own: in a resample it counts
    as a need larger than any budget (+inf), so a percentile interval bound is ``inf`` where at least that share of
    resamples does not reach; ``not_reached_share`` is the fraction of resamples that do not reach.
"""

import logging

import numpy as np
import pandas as pd

from .. import stats
from ..aggregate import read_metrics
from ..io import write_csv

log = logging.getLogger(__name__)

FAMILY = ["task", "model", "preset", "strategy", "rounds"]
KEYS = FAMILY + ["eval_task", "metric", "budget"]
REACHED, AT_SMALLEST, NOT_REACHED = "reached", "at most the smallest budget", "not reached"
TOL = 1e-9  # accuracies closer than this count as equal (a tie reaches)
COLUMNS = KEYS + ["budgets", "n_seeds", "n_items", "random_accuracy", "accuracy", "outcome", "labels_needed",
                  "labels_needed_ci_low", "labels_needed_ci_high", "label_ratio", "label_ratio_ci_low",
                  "label_ratio_ci_high", "not_reached_share", "diff_equal_labels", "diff_equal_labels_ci_low",
                  "diff_equal_labels_ci_high", "random_model_s", "accuracy_equal_compute", "diff_equal_compute",
                  "diff_equal_compute_ci_low", "diff_equal_compute_ci_high", "ci_method"]


# ----------------------------------------------------------------------------- curves


def labels_needed(budgets, curve, target) -> np.ndarray:
    """The smallest budget at which a curve, linear between its measured budgets, reaches ``target`` (>=, within
    ``TOL``); +inf where no measured budget reaches it. ``budgets`` ascending (K,); ``curve`` (K,) or (K, R)
    (R resampled curves), ``target`` a number or (R,). Returns a float, or (R,)."""
    b = np.asarray(budgets, dtype=float)
    a = np.asarray(curve, dtype=float)
    single = a.ndim == 1
    a = a.reshape(len(b), -1)
    t = np.broadcast_to(np.asarray(target, dtype=float), (a.shape[1],))
    if len(b) == 0 or np.any(np.diff(b) <= 0):
        raise ValueError(f"budgets must be ascending and distinct, got {list(b)}")
    hit = a >= t - TOL
    k = hit.argmax(axis=0)  # the first budget that reaches
    before = np.maximum(k - 1, 0)
    cols = np.arange(a.shape[1])
    lo, hi = a[before, cols], a[k, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(k > 0, np.clip((t - lo) / (hi - lo), 0.0, 1.0), 0.0)  # earlier points lie below the target
    need = np.where(hit.any(axis=0), b[before] + frac * (b[k] - b[before]), np.inf)
    return float(need[0]) if single else need


def outcome(budgets, curve, target) -> str:
    """"reached", "at most the smallest budget" (its first point already reaches: the need may be lower) or
    "not reached" (no measured budget reaches the target)."""
    need = labels_needed(budgets, curve, target)
    if np.isinf(need):
        return NOT_REACHED
    return AT_SMALLEST if need == float(budgets[0]) and curve[0] > target + TOL else REACHED


def value_at(x, curve, at) -> np.ndarray:
    """A curve linear between its points (x ascending after sorting; (K,) or (K, R)) at ``at``; NaN outside
    [min x, max x] (never extrapolated)."""
    x = np.asarray(x, dtype=float)
    a = np.asarray(curve, dtype=float)
    single = a.ndim == 1
    a = a.reshape(len(x), -1)
    order = np.argsort(x, kind="stable")
    x, a = x[order], a[order]
    if len(x) == 0 or not np.isfinite(at) or at < x[0] - TOL or at > x[-1] + TOL:
        out = np.full(a.shape[1], np.nan)
    else:
        j = int(np.clip(np.searchsorted(x, at, side="right") - 1, 0, max(len(x) - 2, 0)))
        if len(x) == 1 or x[j + 1] == x[j]:
            out = a[j].copy()
        else:
            w = np.clip((at - x[j]) / (x[j + 1] - x[j]), 0.0, 1.0)
            out = a[j] + w * (a[j + 1] - a[j])
    return float(out[0]) if single else out


def percentile_interval(values) -> tuple[float, float]:
    """95% percentile interval (numpy's linear quantile, as the summary's) of resampled values where +inf ranks
    above every finite value: a bound is inf when an order statistic it depends on is inf."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        return np.nan, np.nan
    bounds = []
    for q in ((1 - stats.CONFIDENCE) / 2, (1 + stats.CONFIDENCE) / 2):
        h = (v.size - 1) * q
        lo, hi = int(np.floor(h)), int(np.ceil(h))
        inf = np.isinf(v[hi]) or np.isinf(v[lo])
        bounds.append(float(np.inf) if inf else float(v[lo] + (h - lo) * (v[hi] - v[lo])))
    return bounds[0], bounds[1]


# ----------------------------------------------------------------------------- one family


def family_rows(key: dict, mine: dict, random: dict, seconds: dict | None = None, random_seconds: dict | None = None,
                *, ci_method: str = "") -> list[dict]:
    """Rows of one family and eval task. ``mine`` / ``random``: budget -> (point accuracy, resampled accuracies
    (R,) or None), the resamples drawn jointly for every budget of both; ``seconds`` / ``random_seconds``:
    budget -> model-job seconds per run. No rows with fewer than two budgets of the strategy."""
    if len(mine) < 2 or not random:
        return []
    budgets = sorted(mine)
    point = np.array([mine[b][0] for b in budgets])
    boot = None if any(mine[b][1] is None for b in budgets) else np.vstack([mine[b][1] for b in budgets])
    seconds, random_seconds = seconds or {}, random_seconds or {}
    have_s = all(np.isfinite(seconds.get(b, np.nan)) for b in budgets)
    rows = []
    for B in sorted(random):
        target, target_boot = random[B]
        has_boot = boot is not None and target_boot is not None
        need = labels_needed(budgets, point, target)
        row = {**key, "budget": int(B), "budgets": ";".join(str(int(b)) for b in budgets),
               "random_accuracy": target, "accuracy": mine[B][0] if B in mine else np.nan,
               "outcome": outcome(budgets, point, target),
               "labels_needed": need if np.isfinite(need) else np.nan,
               "label_ratio": need / B if np.isfinite(need) else np.nan, "ci_method": ci_method}
        if has_boot:
            needs = labels_needed(budgets, boot, target_boot)
            row["labels_needed_ci_low"], row["labels_needed_ci_high"] = percentile_interval(needs)
            row["label_ratio_ci_low"], row["label_ratio_ci_high"] = percentile_interval(needs / B)
            row["not_reached_share"] = float(np.mean(np.isinf(needs)))
        if B in mine:
            row["diff_equal_labels"] = mine[B][0] - target
            if has_boot and mine[B][1] is not None:
                row["diff_equal_labels_ci_low"], row["diff_equal_labels_ci_high"] = percentile_interval(
                    mine[B][1] - target_boot)
        at = random_seconds.get(B, np.nan)
        row["random_model_s"] = at
        if have_s and np.isfinite(at):
            x = [seconds[b] for b in budgets]
            row["accuracy_equal_compute"] = value_at(x, point, at)
            row["diff_equal_compute"] = row["accuracy_equal_compute"] - target
            if has_boot and np.isfinite(row["diff_equal_compute"]):
                row["diff_equal_compute_ci_low"], row["diff_equal_compute_ci_high"] = percentile_interval(
                    value_at(x, boot, at) - target_boot)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the table


def _final_rounds(frame: pd.DataFrame) -> pd.DataFrame:
    """Finetune runs' final-round rows (the accuracy after all of a cell's labels)."""
    if frame.empty or "family" not in frame:
        return frame.iloc[0:0]
    ft = frame[(frame.family == "finetune") & (frame.strategy != "base") & frame.budget.notna()
               & frame.rounds.notna() & (frame["round"] == frame["rounds"])]
    if "adapter" in ft:
        ft = ft[ft.adapter.isna()]
    return ft


def _seconds(cells: pd.DataFrame) -> dict:
    """(task, model, preset, strategy, rounds) -> {budget: model-job seconds per run}."""
    out: dict = {}
    for row in cells.itertuples(index=False):
        out.setdefault((row.task, row.model, row.preset, row.strategy, int(row.rounds)), {})[int(row.budget)] = float(
            row.model_s_per_run)
    return out


def savings(frame: pd.DataFrame, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """results/savings.csv from one row per metrics file (``aggregate.read_metrics``) and compute per cell
    (``compute.cell_compute``; None or empty: no equal-compute columns). See the module doc."""
    ft = _final_rounds(frame)
    seconds = _seconds(cells) if cells is not None and len(cells) else {}
    rows = []
    for (task, model, preset, rounds, eval_task, metric), group in ft.groupby(
            ["task", "model", "preset", "rounds", "eval_task", "metric"], sort=True):
        rounds = int(rounds)
        by_strategy = {s: g for s, g in group.groupby("strategy", sort=True)}
        if "random" not in by_strategy:
            log.warning("%s/%s/%s, %d rounds, eval %s: no random family to compare with", task, model, preset, rounds,
                        eval_task)
            continue
        random_cells = {int(b): g for b, g in by_strategy["random"].groupby("budget")}
        for strategy, g in by_strategy.items():
            cells_here = {int(b): c for b, c in g.groupby("budget")}
            if len(cells_here) < 2:
                continue
            order = [("s", b) for b in sorted(cells_here)] + [("r", b) for b in sorted(random_cells)]
            groups = [cells_here[b] if who == "s" else random_cells[b] for who, b in order]
            joint = stats.joint_matrices(groups)
            if joint is not None:
                common, matrices = joint
                values = {o: (float(m.mean()), stats.bootstrap_means(m)) for o, m in zip(order, matrices)}
                n_seeds, n_items = len(common), matrices[0].shape[1]
                method = stats.ci_method(n_seeds) + "; curves resampled jointly, paired with random"
            else:
                values = {o: (float(c["accuracy"].astype(float).mean()), None) for o, c in zip(order, groups)}
                n_seeds, n_items, method = int(min(len(c) for c in groups)), np.nan, "no per-item data: no interval"
            key = {"task": task, "model": model, "preset": preset, "strategy": strategy, "rounds": rounds,
                   "eval_task": eval_task, "metric": metric, "n_seeds": n_seeds, "n_items": n_items}
            rows += family_rows(key, {b: values[("s", b)] for b in cells_here},
                                {b: values[("r", b)] for b in random_cells},
                                seconds.get((task, model, preset, strategy, rounds)),
                                seconds.get((task, model, preset, "random", rounds)), ci_method=method)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["task", "model", "preset", "eval_task", "strategy", "rounds", "budget"],
                             kind="stable").reset_index(drop=True)


def write_savings(metric_files, cells_csv, out_csv, out_png) -> pd.DataFrame:
    from ..plots import save
    from .savings_plots import savings_figure

    table = savings(read_metrics(metric_files), pd.read_csv(cells_csv))
    write_csv(out_csv, table)
    save(savings_figure(table), out_png)
    log.info("%d rows (%d not reached) -> %s", len(table), int((table.outcome == NOT_REACHED).sum()), out_csv)
    return table
