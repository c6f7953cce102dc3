"""The family's summary table (one row per task x model x strategy x shots) and its figure."""

import logging

from ..io import atomic_path

log = logging.getLogger(__name__)

SCORE_COLUMNS = ("accuracy", "macro_f1", "rouge_l", "judge_score")
SUMMARY_KEYS = ["family", "task", "model", "strategy", "shots", "eval_task", "metric"]


def summarize(metric_files, out_path):
    """One row per task x model x strategy x shots: the accuracy's bootstrap interval over seeds and items and
    the paired comparison with ``random`` (``stats.summarise``), and a t-interval over seeds of macro-F1,
    ROUGE-L and the judge's rating where the task has them (``seed_ci_method``)."""
    import pandas as pd

    from .. import stats
    from ..aggregate import INTERNAL, read_metrics

    frame = read_metrics(metric_files)
    if frame.empty:
        summary = pd.DataFrame(columns=SUMMARY_KEYS + stats.STAT_COLUMNS)
    else:
        summary = stats.summarise(frame)
        frame = frame.drop(columns=INTERNAL, errors="ignore")
        keys = [k for k in stats.CELL if k in frame]
        extra = []
        for values, group in frame.groupby(keys, dropna=False, sort=True):
            row = dict(zip(keys, values))
            row["seeds"] = " ".join(str(s) for s in sorted(group["seed"]))
            row["n_total"] = int(group["n_total"].min())
            for column in SCORE_COLUMNS[1:]:
                if column in group and group[column].notna().any():
                    mean, std, lo, hi = stats.t_interval(group[column].dropna())
                    row.update({f"{column}_mean": mean, f"{column}_std": std, f"{column}_ci_low": lo,
                                f"{column}_ci_high": hi, "seed_ci_method": stats.T_METHOD})
            extra.append(row)
        summary = summary.merge(pd.DataFrame(extra), on=keys, how="left")
    with atomic_path(out_path) as tmp:
        summary.to_csv(tmp, index=False)
    log.info("%d cells over %d metrics files -> %s", len(summary), len(frame), out_path)
    return summary


def plot_summary(summary_path, out_path) -> None:
    """Accuracy of each (model, shots, strategy) cell with its 95% bootstrap interval over seeds and eval items
    (``plots.icl_figure``): one panel per task."""
    import pandas as pd

    from ..plots import icl_figure, save

    save(icl_figure(pd.read_csv(summary_path)), out_path)
