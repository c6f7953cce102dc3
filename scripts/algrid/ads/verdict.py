"""The verdict of active data search: per method a mean score with its interval and the API cost, and each ADS
mode against each baseline as win / tie / loss per task; the score-vs-cost figure.

Per task (scores averaged over seeds) a method wins against a reference if it is better by more than
``tie_margin``, loses if it is worse by more, else ties. A method's score is the mean over tasks of each task's
mean over seeds and test items; its 95% interval is a percentile bootstrap over seeds and test items within each
task, the tasks held fixed (each task's seeds x items matrix resampled as ``algrid.stats.bootstrap_means`` does, the
resampled task means averaged), so one seed or one task still has an interval over its test items, and a single
task's interval is results/summary.csv's. The difference to a reference is resampled the same way, paired: the
same seeds and items of both methods.
"""

import logging

import numpy as np
import pandas as pd

from .. import stats
from ..errors import DataError
from ..io import atomic_path, read_json

log = logging.getLogger(__name__)

ADS_METHODS = ("ads_icl", "ads_lora")
CI_METHOD = "95% percentile bootstrap over seeds and test items, tasks fixed"
BASELINES = ("none", "random", "bm25")


def _matrix(frame: pd.DataFrame, method: str, values: str = "score") -> pd.DataFrame:
    """seeds x tasks of a method's score (or another per-run column)."""
    return frame[frame.strategy == method].pivot_table(index="seed", columns="task", values=values, aggfunc="mean")


def _items(frame: pd.DataFrame, method: str, column: str = "item_scores") -> dict[str, pd.DataFrame]:
    """task -> seeds x test items of a method's per-item values (NaN where an item has none, e.g. unparsed)."""
    out = {}
    for task, runs in frame[frame.strategy == method].groupby("task", sort=True):
        lengths = {len(v) for v in runs[column]}
        if len(lengths) != 1:
            raise DataError(f"ads {task}/{method}", f"{column} of its seeds cover different test rows ({lengths}); "
                            "rebuild its evaluations")
        out[task] = pd.DataFrame([[np.nan if x is None else x for x in v] for v in runs[column]],
                                 index=runs.seed.to_numpy()).groupby(level=0).mean()
    return out


def _draws(matrix: np.ndarray) -> np.ndarray:
    """The matrix's mean under each two-level resample; over the items that have a value where some have none."""
    have = ~np.isnan(matrix)
    if have.all():
        return stats.bootstrap_means(matrix)
    num, den = stats.bootstrap_means(np.where(have, matrix, 0.0)), stats.bootstrap_means(have.astype(float))
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def _mean_and_interval(mats: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """Mean over tasks of each task's mean, and its 95% interval with the tasks fixed (see the module docstring)."""
    mats = {t: m for t, m in mats.items() if m.size and not np.isnan(m).all()}
    if not mats:
        return float("nan"), float("nan"), float("nan")
    mean = float(np.mean([np.nanmean(m) for m in mats.values()]))
    draws = np.mean([_draws(m) for m in mats.values()], axis=0)
    lo, hi = np.nanquantile(draws, [0.025, 0.975])
    return mean, float(lo), float(hi)


def summarize(metric_files, summary_path, verdict_path, *, tie_margin: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame([read_json(p) for p in metric_files])
    if frame.empty:
        raise DataError("ads", "no ads metrics files to summarise")
    rows = []
    for (model, method), group in frame.groupby(["model", "strategy"], sort=True):
        mat = _matrix(group, method)
        mean, lo, hi = _mean_and_interval({t: m.to_numpy() for t, m in _items(group, method).items()})
        rows.append({"model": model, "strategy": method, "n_tasks": mat.shape[1], "n_seeds": mat.shape[0],
                     "score_mean": mean, "score_ci_low": lo, "score_ci_high": hi,
                     "api_cost_total": float(group.api_cost.sum()), "api_cost_mean": float(group.api_cost.mean()),
                     "api_calls_total": int(group.api_calls.sum()),
                     "ci_method": CI_METHOD})
        if "judge_item_ratings" in group and group.judge_item_ratings.notna().any():  # free-text tasks, ads.judge
            judged = _items(group[group.judge_item_ratings.notna()], method, "judge_item_ratings")
            mean, lo, hi = _mean_and_interval({t: m.to_numpy() for t, m in judged.items()})
            rows[-1].update(judge_rating_mean=mean, judge_rating_ci_low=lo, judge_rating_ci_high=hi,
                            judge_n_tasks=len(judged))
    summary = pd.DataFrame(rows)
    verdicts = []
    pairs = [(m, b) for m in ADS_METHODS for b in BASELINES] + [("ads_lora", "ads_icl")]
    for model, group in frame.groupby("model", sort=True):
        for method, reference in pairs:
            a, b = _matrix(group, method), _matrix(group, reference)
            if a.empty or b.empty:
                continue
            diff = (a - b).dropna(axis=0, how="all").dropna(axis=1, how="any")
            if diff.empty:
                continue
            per_task = diff.mean(axis=0)
            mine, other = _items(group, method), _items(group, reference)
            paired = {}
            for task in per_task.index:
                seeds = mine[task].index.intersection(other[task].index)
                paired[task] = mine[task].loc[seeds].to_numpy() - other[task].loc[seeds].to_numpy()
            diff_mean, lo, hi = _mean_and_interval(paired)
            verdicts.append({"model": model, "method": method, "reference": reference, "tie_margin": tie_margin,
                             "n_tasks": len(per_task), "n_seeds": diff.shape[0],
                             "wins": int((per_task > tie_margin).sum()), "ties": int((per_task.abs() <= tie_margin).sum()),
                             "losses": int((per_task < -tie_margin).sum()),
                             "wins_task_seed": int((diff > tie_margin).sum().sum()),
                             "ties_task_seed": int((diff.abs() <= tie_margin).sum().sum()),
                             "losses_task_seed": int((diff < -tie_margin).sum().sum()),
                             "diff_mean": diff_mean, "diff_ci_low": lo, "diff_ci_high": hi})
    verdict = pd.DataFrame(verdicts)
    for path, table in ((summary_path, summary), (verdict_path, verdict)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    log.info("%d methods, %d comparisons -> %s, %s", len(summary), len(verdict), summary_path, verdict_path)
    return summary, verdict


def plot_score_vs_cost(summary_path, out_path) -> None:
    """Mean test score (95% interval over seeds and test items, tasks fixed) against mean API cost per run, one point per method."""
    from ..plots import _plt, save

    plt = _plt()
    summary = pd.read_csv(summary_path)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    # methods at the same cost (the baselines at 0, both ads modes) are spread sideways so no interval hides another
    step = 0.02 * max(summary.api_cost_mean.max(), 1e-9)
    rank = summary.groupby(summary.api_cost_mean.round(9)).cumcount()
    size = summary.groupby(summary.api_cost_mean.round(9)).strategy.transform("size")
    for i, ((model, method), row) in enumerate(summary.set_index(["model", "strategy"]).iterrows()):
        err = [[max(row.score_mean - row.score_ci_low, 0)], [max(row.score_ci_high - row.score_mean, 0)]]
        x = row.api_cost_mean + step * (rank.iloc[i] - (size.iloc[i] - 1) / 2)
        ax.errorbar(x, row.score_mean, yerr=err, fmt="o", capsize=3,
                    label=f"{method} ({model}, {int(row.n_tasks)} tasks x {int(row.n_seeds)} seeds)")
    ax.set_xlabel("API cost per run (ads.cost units; baselines 0)")
    ax.set_ylabel("test score (accuracy / ROUGE-L)")
    ax.set_title("Active data search: score vs cost (equal costs offset sideways)", fontsize=9)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    save(fig, out_path)
