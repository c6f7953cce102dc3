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


def aggregate(metric_files, csv_path, json_path, summary_path, *, safety: dict | None = None,
              expect: dict | None = None) -> pd.DataFrame:
    """``safety``: metrics file -> its run's safety metrics.json; ``expect``: what the config implies
    (algrid.finetune.grid.expectations): denominators to check, thresholds to mark."""
    frame = read_metrics(metric_files)
    frame = baselines.attach_safety(frame, safety or {})
    if expect:
        frame = baselines.check_denominators(frame, expect)
        frame = baselines.mark_thresholds(frame, expect.get("thresholds") or {},
                                          min_valid=expect.get("safety_min_valid"))
    cols = [c for c in FIRST if c in frame] + [c for c in frame if c not in FIRST]
    frame = frame[cols].sort_values([c for c in ("family", "task", "eval_task", "strategy", "rounds", "budget",
                                                 "shots", "seed", "round") if c in frame], na_position="first")
    summary = stats.summarise(frame)
    frame = stats.with_seed_statistics(frame.drop(columns=INTERNAL, errors="ignore"), summary)
    for path, table in ((csv_path, frame), (summary_path, summary)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    write_json(json_path, frame.astype(object).where(frame.notna(), None).to_dict("records"))
    log.info("%d rows, %d cells -> %s, %s", len(frame), len(summary), csv_path, summary_path)
    return frame
