"""A run's metrics.json: its identity, the task metric, per-item results and the judge's mean rating."""

import logging

import numpy as np

from .. import metrics
from ..evaluate import item_correctness
from ..io import read_jsonl, write_json

log = logging.getLogger(__name__)


def score_file(predictions_path, out_path, *, metric: str, identity: dict, judgments_path=None) -> dict:
    """metrics.json: the run's identity columns + the finetune family's metrics + each eval row's result
    (``item_ids``, ``item_correct``, for the statistics over items) (+ the judge's mean rating)."""
    records = read_jsonl(predictions_path)
    result = {**identity, "metric": metric, **metrics.score(records, metric),
              **item_correctness(records, metric, path=predictions_path)}
    result["n_distinct_demos"] = len({d for r in records for d in r.get("demo_ids", [])})
    if judgments_path:
        ratings = [j["rating"] for j in read_jsonl(judgments_path)]
        parsed = [r for r in ratings if r is not None]
        result["judge_score"] = float(np.mean(parsed)) if parsed else None
        result["judge_n_unparsed"] = len(ratings) - len(parsed)
    write_json(out_path, result)
    log.info("%s: accuracy %.3f (%d/%d)", out_path, result["accuracy"], result["n_correct"], result["n_total"])
    return result
