"""Predictions -> one metrics file that also names its grid cell (the row of final_metrics.csv) and keeps each
eval row's result (``item_ids``, ``item_correct``) for the statistics over items."""

import logging

from . import metrics
from .errors import DataError
from .io import read_jsonl, write_json

log = logging.getLogger(__name__)


def item_correctness(records: list[dict], metric: str, *, path="predictions") -> dict:
    """{item_ids, item_correct}: each record's eval row id and 0/1, scored as ``metrics.score`` scores it."""
    ids = [r.get("id") for r in records]
    if any(i is None for i in ids) or len(set(ids)) != len(ids):
        raise DataError(path, "every prediction needs a distinct eval row 'id'; rebuild it")
    return {"item_ids": [str(i) for i in ids],
            "item_correct": [int(metrics.is_correct(r["pred"], str(r["target"]), metric)) for r in records]}


def score_file(predictions_path, out_path, *, metric: str, identity: dict) -> dict:
    records = read_jsonl(predictions_path)
    result = {**identity, "metric": metric, **metrics.score(records, metric),
              **item_correctness(records, metric, path=predictions_path)}
    write_json(out_path, result)
    log.info("%s: accuracy %.3f (%d/%d)", out_path, result["accuracy"], result["n_correct"], result["n_total"])
    return result
