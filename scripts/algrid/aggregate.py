"""All metrics files -> results/final_metrics.csv (+ .json): one row per cell x seed x round x eval task,
each carrying its cell's statistics over seeds and eval items; results/summary.csv: one row per cell.
Seed 003's runs also carry their safety rate, the denominators the config implies (checked) and pass/fail
against their preset's thresholds (algrid.finetune.baselines).

The per-item results in the metrics files (``item_ids``, ``item_correct``; ads runs' ``item_scores``) feed the
statistics or stay in the metrics files, out of the two tables."""

import logging

import pandas as pd

from . import stats
from .finetune import baselines
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


def task_metric(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One metric per task: the ``metric`` column names it and the summary's mean and interval are over it.

    ads metrics files carry the task's own metric as ``score_name`` (ROUGE-L for a free-text task, accuracy
    otherwise), its per-run value as ``score`` and the per-item values as ``item_scores`` (what
    results/ads/summary.csv is computed from). Their rows get ``metric`` = ``score_name``; the returned second
    frame (the statistics' input) has ``accuracy`` / ``item_correct`` replaced by ``score`` / ``item_scores`` for
    them, so results/summary.csv's ``accuracy_mean`` and interval are the task's metric (as in
    results/ads/summary.csv), by the same two-level bootstrap over seeds and items. Other rows are unchanged;
    in final_metrics.csv an ads row keeps its exact-match ``accuracy`` next to ``score``."""
    if "score_name" not in frame:
        return frame, frame
    frame = frame.copy()
    ads = frame["score_name"].notna() & frame["score"].notna()
    if not ads.any():
        return frame, frame
    frame.loc[ads, "metric"] = frame.loc[ads, "score_name"]
    values = frame.copy()
    values.loc[ads, "accuracy"] = values.loc[ads, "score"].astype(float)
    if "item_scores" in values and "item_correct" in values:
        lists = ads & values["item_scores"].map(lambda v: isinstance(v, list))
        values["item_correct"] = values["item_correct"].astype(object)
        for i in values.index[lists]:
            values.at[i, "item_correct"] = [float(v) for v in values.at[i, "item_scores"]]
    return frame, values


def aggregate(metric_files, csv_path, json_path, summary_path, *, safety: dict | None = None,
              expect: dict | None = None, judge_validation=()) -> pd.DataFrame:
    """``safety``: metrics file -> its run's safety metrics.json; ``expect``: what the config implies
    (algrid.finetune.grid.expectations): denominators to check, thresholds to mark; ``judge_validation``: the
    validation.json of each judge behind the safety rates, whose agreement joins each rated row."""
    frame = read_metrics(metric_files)
    frame = baselines.attach_safety(frame, safety or {})
    frame = baselines.attach_judge_agreement(frame, list(judge_validation))
    if expect:
        frame = baselines.check_denominators(frame, expect)
        frame = baselines.mark_thresholds(frame, expect.get("thresholds") or {},
                                          min_valid=expect.get("safety_min_valid"))
    cols = [c for c in FIRST if c in frame] + [c for c in frame if c not in FIRST]
    frame = frame[cols].sort_values([c for c in ("family", "task", "eval_task", "strategy", "rounds", "budget",
                                                 "shots", "seed", "round") if c in frame], na_position="first")
    frame, values = task_metric(frame)
    summary = stats.summarise(values)
    frame = stats.with_seed_statistics(frame.drop(columns=INTERNAL, errors="ignore"), summary)
    for path, table in ((csv_path, frame), (summary_path, summary)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    write_json(json_path, frame.astype(object).where(frame.notna(), None).to_dict("records"))
    log.info("%d rows, %d cells -> %s, %s", len(frame), len(summary), csv_path, summary_path)
    return frame
