"""All metrics files -> results/final_metrics.csv (+ .json): one row per cell x seed x round x eval task,
each carrying its cell's statistics over seeds and eval items; results/summary.csv: one row per cell.
Seed 003's runs also carry their safety rate, the denominators the config implies (checked) and pass/fail
against their preset's thresholds (algrid.finetune.baselines).

The per-item results in the metrics files (``item_ids``, ``item_correct``; ads runs' ``item_scores``) feed the
statistics or stay in the metrics files, out of the two tables."""

import logging

import pandas as pd

from . import stats
from .errors import DataError
from .finetune import baselines, lm_eval_tasks
from .io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

FIRST = ["family", "task", "model", "preset", "strategy", "adapter", "budget", "rounds", "shots", "seed", "round",
         "n_labels", "eval_task", "metric", "accuracy", "n_correct", "n_total", "n_expected", "n_unparsed",
         "safety_rate", "safety_ci_low", "safety_ci_high", "safety_n_safe", "safety_n_valid", "safety_n_invalid",
         "safety_n_empty", "safety_n_prompts", "safety_n_expected", "safety_rate_valid", "threshold_accuracy",
         "threshold_safety", "passed", "verdict"]
INTERNAL = [*stats.ITEM_COLUMNS, "item_scores", "source"]  # per-item lists (ads: item_scores) stay in metrics files


def read_metrics(metric_files) -> pd.DataFrame:
    """One row per metrics file, with its per-item lists and its path in ``source`` (for error messages)."""
    frame = pd.DataFrame([{**read_json(p), "source": str(p)} for p in metric_files])
    if frame.empty:
        return frame
    if "shots" not in frame:  # icl rows: demonstrations per prompt; finetune rows leave it empty
        frame["shots"] = None
    for col in ("budget", "rounds", "shots", "seed", "round", "n_labels"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")  # base-model rows have no seed: keep ints as ints
    return frame


ICL_TASK_METRIC = {"text": "rouge_l"}  # icl metric kind -> the column its task is scored by (else accuracy)


def own_metric(row) -> tuple[str, float, list | None] | None:
    """(name, run value, per-item values or None) of a metrics file's task metric where the file declares it
    (ads) or it is not exact-match accuracy (icl free text); None otherwise (the row's accuracy is its metric).

    ads files name it (``score_name``, ``score``, ``item_scores`` a list). icl files carry every metric of their
    kind (``algrid.icl.score``: ``item_scores`` a dict by column); their task metric is the one
    results/icl_summary.csv reports for it: ROUGE-L for a free-text task (``ICL_TASK_METRIC``; the judge's
    rating stays in its own columns), accuracy for classification, multichoice (macro-F1 beside it), math and
    BBH."""
    items = row.get("item_scores")
    if isinstance(row.get("score_name"), str) and pd.notna(row.get("score")):
        name, value = row["score_name"], row["score"]
        items = items if isinstance(items, list) else None
    elif row.get("family") == "icl" and row.get("metric") in ICL_TASK_METRIC:
        name = ICL_TASK_METRIC[row["metric"]]
        value = row.get(name)
        if value is None or pd.isna(value):
            return None
        items = items.get(name) if isinstance(items, dict) else None
    else:
        return None
    return name, float(value), items


def task_metric(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One metric per task: the ``metric`` column names it and the summary's mean and interval are over it.

    Where a row's task metric is not exact-match accuracy (``own_metric``: an ads or icl free-text task's
    ROUGE-L), the row gets ``metric`` = its name, and the returned second frame (the statistics' input) has
    ``accuracy`` / ``item_correct`` replaced by the run's value and its per-item values, so results/summary.csv's
    ``accuracy_mean`` and interval are the task's metric, by the same two-level bootstrap over seeds and items
    as results/ads/summary.csv and results/icl_summary.csv. Other rows are unchanged; in final_metrics.csv such
    a row keeps its exact-match ``accuracy`` next to its metric's own column. A row with per-item results but
    without its metric's per-item values (a stale file) is a data error: its interval would be exact match's."""
    own = {i: m for i, row in frame.iterrows() if (m := own_metric(row)) is not None}
    if not own:
        return frame, frame
    frame, values = frame.copy(), frame.copy()
    if "item_correct" in values:
        values["item_correct"] = values["item_correct"].astype(object)
    for i, (name, value, items) in own.items():
        frame.at[i, "metric"] = values.at[i, "metric"] = name
        values.at[i, "accuracy"] = value
        if items is not None:
            values.at[i, "item_correct"] = [float(v) for v in items]
        elif name != "accuracy" and isinstance(values.at[i, "item_ids"] if "item_ids" in values else None, list):
            raise DataError(frame.at[i, "source"], f"has per-item results but no per-item {name} (item_scores); "
                            "rescore it")
    return frame, values


def read_lm_eval_rows(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("budget", "rounds", "seed", "round", "n_labels", "n_total"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    return frame


def summarise(values: pd.DataFrame) -> pd.DataFrame:
    """stats.summarise of algrid's own rows; lm-eval rows (no per-item results) from lm-eval's stderr."""
    lm = lm_eval_tasks.is_lm_eval(values)
    if not lm.any():
        return stats.summarise(values)
    keys = stats._keys(values)
    parts = [stats.summarise(values[~lm])] if (~lm).any() else []
    parts.append(lm_eval_tasks.summarise(values[lm], keys, stats.STAT_COLUMNS))
    return pd.concat(parts, ignore_index=True).astype(values[keys].dtypes.to_dict())


def aggregate(metric_files, csv_path, json_path, summary_path, *, safety: dict | None = None,
              expect: dict | None = None, judge_validation=(), lm_eval: dict | None = None,
              lm_eval_metrics: dict | None = None) -> pd.DataFrame:
    """``safety``: metrics file -> its run's safety metrics.json; ``expect``: what the config implies
    (algrid.finetune.grid.expectations): denominators to check, thresholds to mark; ``judge_validation``: the
    validation.json of each judge behind the safety rates, whose agreement joins each rated row; ``lm_eval``:
    lm-eval results file -> the row keys it gives rows for, ``lm_eval_metrics`` the metrics kept per lm-eval task
    (algrid.finetune.lm_eval_tasks: rows with eval_task ``lm_eval:<task>``, their summary from lm-eval's stderr)."""
    frame = read_metrics(metric_files)
    frame = baselines.attach_safety(frame, safety or {})
    frame = baselines.attach_judge_agreement(frame, list(judge_validation))
    if expect:
        frame = baselines.check_denominators(frame, expect)
        frame = baselines.mark_thresholds(frame, expect.get("thresholds") or {},
                                          min_valid=expect.get("safety_min_valid"))
    extra = [r for path, ids in (lm_eval or {}).items() for r in lm_eval_tasks.rows(path, ids, lm_eval_metrics)]
    if extra:
        frame = pd.concat([frame, read_lm_eval_rows(extra)], ignore_index=True)
    cols = [c for c in FIRST if c in frame] + [c for c in frame if c not in FIRST]
    frame = frame[cols].sort_values([c for c in ("family", "task", "eval_task", "strategy", "rounds", "budget",
                                                 "shots", "seed", "round") if c in frame], na_position="first")
    frame, values = task_metric(frame)
    summary = summarise(values)
    frame = stats.with_seed_statistics(frame.drop(columns=INTERNAL, errors="ignore"), summary)
    for path, table in ((csv_path, frame), (summary_path, summary)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    write_json(json_path, frame.astype(object).where(frame.notna(), None).to_dict("records"))
    log.info("%d rows, %d cells -> %s, %s", len(frame), len(summary), csv_path, summary_path)
    return frame
