"""All metrics files -> results/final_metrics.csv (+ .json): one row per cell x seed x round x eval task,
each carrying its cell's statistics over seeds and eval items; results/summary.csv: one row per cell.

The per-item results in the metrics files (``item_ids``, ``item_correct``) feed the statistics and stay out
of the two tables."""

import logging

import pandas as pd

from . import stats
from .io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

FIRST = ["family", "task", "model", "preset", "strategy", "budget", "rounds", "shots", "seed", "round", "n_labels",
         "eval_task", "metric", "accuracy", "n_correct", "n_total", "n_unparsed"]
INTERNAL = [*stats.ITEM_COLUMNS, "source"]


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


def aggregate(metric_files, csv_path, json_path, summary_path) -> pd.DataFrame:
    frame = read_metrics(metric_files)
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
