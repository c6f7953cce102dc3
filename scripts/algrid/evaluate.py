"""Predictions -> one metrics file that also names its grid cell (the row of final_metrics.csv)."""

import logging

from . import metrics
from .io import read_jsonl, write_json

log = logging.getLogger(__name__)


def score_file(predictions_path, out_path, *, metric: str, identity: dict) -> dict:
    records = read_jsonl(predictions_path)
    result = {**identity, "metric": metric, **metrics.score(records, metric)}
    write_json(out_path, result)
    log.info("%s: accuracy %.3f (%d/%d)", out_path, result["accuracy"], result["n_correct"], result["n_total"])
    return result
