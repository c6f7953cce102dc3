"""The verdict of active data search: per method a mean score with its interval and the API cost, and each ADS
mode against each baseline as win / tie / loss per task; the score-vs-cost figure.

Per task (scores averaged over seeds) a method wins against a reference if it is better by more than
``tie_margin``, loses if it is worse by more, else ties; the mean score difference has a 95% two-level
bootstrap interval over seeds and tasks (``algrid.stats.bootstrap_interval`` on the seeds x tasks matrix).
"""

import logging

import pandas as pd

from .. import stats
from ..errors import DataError
from ..io import atomic_path, read_json

log = logging.getLogger(__name__)

ADS_METHODS = ("ads_icl", "ads_lora")
BASELINES = ("none", "random", "bm25")


def _matrix(frame: pd.DataFrame, method: str, values: str = "score") -> pd.DataFrame:
    """seeds x tasks of a method's score (or another per-run column)."""
    return frame[frame.strategy == method].pivot_table(index="seed", columns="task", values=values, aggfunc="mean")


def _interval(matrix: pd.DataFrame) -> tuple[float, float]:
    m = matrix.dropna(axis=0, how="any").dropna(axis=1, how="any")
    return stats.bootstrap_interval(m.to_numpy()) if m.size else (float("nan"), float("nan"))


def summarize(metric_files, summary_path, verdict_path, *, tie_margin: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame([read_json(p) for p in metric_files])
    if frame.empty:
        raise DataError("ads", "no ads metrics files to summarise")
    rows = []
    for (model, method), group in frame.groupby(["model", "strategy"], sort=True):
        mat = _matrix(group, method)
        lo, hi = _interval(mat)
        rows.append({"model": model, "strategy": method, "n_tasks": mat.shape[1], "n_seeds": mat.shape[0],
                     "score_mean": float(group.score.mean()), "score_ci_low": lo, "score_ci_high": hi,
                     "api_cost_total": float(group.api_cost.sum()), "api_cost_mean": float(group.api_cost.mean()),
                     "api_calls_total": int(group.api_calls.sum()),
                     "ci_method": "95% percentile bootstrap over seeds and tasks"})
        if "judge_rating" in group and group.judge_rating.notna().any():  # free-text tasks with ads.judge
            judged = _matrix(group, method, "judge_rating")
            lo, hi = _interval(judged)
            rows[-1].update(judge_rating_mean=float(group.judge_rating.mean()), judge_rating_ci_low=lo,
                            judge_rating_ci_high=hi, judge_n_tasks=judged.shape[1])
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
            lo, hi = _interval(diff)
            verdicts.append({"model": model, "method": method, "reference": reference, "tie_margin": tie_margin,
                             "n_tasks": len(per_task), "n_seeds": diff.shape[0],
                             "wins": int((per_task > tie_margin).sum()), "ties": int((per_task.abs() <= tie_margin).sum()),
                             "losses": int((per_task < -tie_margin).sum()),
                             "wins_task_seed": int((diff > tie_margin).sum().sum()),
                             "ties_task_seed": int((diff.abs() <= tie_margin).sum().sum()),
                             "losses_task_seed": int((diff < -tie_margin).sum().sum()),
                             "diff_mean": float(diff.to_numpy().mean()), "diff_ci_low": lo, "diff_ci_high": hi})
    verdict = pd.DataFrame(verdicts)
    for path, table in ((summary_path, summary), (verdict_path, verdict)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    log.info("%d methods, %d comparisons -> %s, %s", len(summary), len(verdict), summary_path, verdict_path)
    return summary, verdict


def plot_score_vs_cost(summary_path, out_path) -> None:
    """Mean test score (95% interval over seeds and tasks) against mean API cost per run, one point per method."""
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
