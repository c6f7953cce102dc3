"""The family's summary table (one row per task x model x strategy x shots) and its figure."""

import logging

from ..io import atomic_path

log = logging.getLogger(__name__)

SCORE_COLUMNS = ("accuracy", "macro_f1", "rouge_l", "judge_score")
SUMMARY_KEYS = ["family", "task", "model", "strategy", "shots", "eval_task", "metric"]


def _per_item(group, column: str):
    """The cell's per-item data for ``column`` from its metrics files' ``item_scores``, rows (seeds) aligned to
    the first file's ``item_ids``; None where any file lacks it (older metrics files, or unaligned judgments)."""
    import numpy as np

    rows, ref = [], None
    for item_ids, scores in zip(group["item_ids"] if "item_ids" in group else [None] * len(group),
                                group["item_scores"] if "item_scores" in group else [None] * len(group)):
        if not isinstance(scores, dict) or scores.get(column) is None or not isinstance(item_ids, list):
            return None
        value = scores[column]
        value = [value["truth"], value["pred"]] if column == "macro_f1" else [value]
        ids = [str(i) for i in item_ids]
        if ref is None:
            ref = ids
        elif ids != ref:
            if sorted(ids) != sorted(ref):
                return None
            where = {i: k for k, i in enumerate(ids)}
            value = [[v[where[i]] for i in ref] for v in value]
        rows.append(value)
    if column == "macro_f1":
        return np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=object)
    return np.array([[np.nan if v is None else v for v in r[0]] for r in rows], dtype=float)


def _score_interval(group, column: str) -> dict:
    """mean (over seeds of each run's score), std, the 95% interval and its n_items / n_seeds / method: the
    two-level bootstrap over seeds and items (``stats``) where the metrics files carry per-item scores (macro-F1
    recomputed on each resample; ROUGE-L and the judge's rating as means over items, the judge's over its
    parsed ratings), else a t-interval over seeds (older metrics files)."""
    import numpy as np

    from .. import metrics, stats

    values = group[column].dropna().to_numpy(dtype=float)
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    data = _per_item(group, column)
    if data is None:
        _, _, lo, hi = stats.t_interval(values)
        return {f"{column}_mean": mean, f"{column}_std": std, f"{column}_ci_low": lo, f"{column}_ci_high": hi,
                f"{column}_n_seeds": len(values), f"{column}_n_items": int(group["n_total"].min()),
                f"{column}_ci_method": stats.T_METHOD}
    if column == "macro_f1":
        lo, hi = stats.macro_f1_interval(*data, unparsed=metrics.UNPARSED)
        n_items = data[0].shape[1]
    elif column == "judge_score":
        parsed = ~np.isnan(data)
        lo, hi = stats.bootstrap_ratio_interval(data, parsed)
        n_items = int(parsed.any(axis=0).sum())
    else:
        lo, hi = stats.bootstrap_interval(data)
        n_items = data.shape[1]
    n_seeds = len(group)
    return {f"{column}_mean": mean, f"{column}_std": std, f"{column}_ci_low": lo, f"{column}_ci_high": hi,
            f"{column}_n_seeds": n_seeds, f"{column}_n_items": n_items,
            f"{column}_ci_method": stats.ci_method(n_seeds)}


def summarize(metric_files, out_path):
    """One row per task x model x strategy x shots: the accuracy's bootstrap interval over seeds and items and
    the paired comparison with ``random`` (``stats.summarise``), and for macro-F1, ROUGE-L and the judge's
    rating where the task has them the same two-level bootstrap over seeds and items (``_score_interval``),
    each with its n_seeds, n_items and ci_method."""
    import pandas as pd

    from .. import stats
    from ..aggregate import INTERNAL, read_metrics

    frame = read_metrics(metric_files)
    if "seed" in frame:  # each cell's seeds in results/summary.csv's order (paths sort seed10 before seed2)
        frame = frame.sort_values("seed", kind="stable")
    if frame.empty:
        summary = pd.DataFrame(columns=SUMMARY_KEYS + stats.STAT_COLUMNS)
    else:
        summary = stats.summarise(frame)
        keys = [k for k in stats.CELL if k in frame]
        extra = []
        for values, group in frame.groupby(keys, dropna=False, sort=True):
            row = dict(zip(keys, values))
            row["seeds"] = " ".join(str(s) for s in sorted(group["seed"]))
            row["n_total"] = int(group["n_total"].min())
            for column in SCORE_COLUMNS[1:]:
                if column in group and group[column].notna().any():
                    row.update(_score_interval(group[group[column].notna()], column))
            extra.append(row)
        frame = frame.drop(columns=INTERNAL, errors="ignore")
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
