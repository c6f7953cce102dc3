"""A run's metrics.json: its identity, the task metric, per-item results and the judge's mean rating."""

import logging

import numpy as np

from .. import metrics
from ..evaluate import item_correctness
from ..io import read_jsonl, write_json

log = logging.getLogger(__name__)


def item_scores(records: list[dict], metric: str, ratings=None) -> dict:
    """Per eval row (in ``item_ids`` order), what the summary's bootstrap over items needs beyond 0/1 correctness:
    ``macro_f1``: {truth, pred}, each row's class names as ``metrics.score`` counts them (macro-F1 is recomputed
    on each resample); ``rouge_l``: each row's ROUGE-L F; ``judge_score``: each row's rating (None: unparsed)."""
    out = {}
    if metric in ("label", "choice"):
        out["macro_f1"] = {"truth": [metrics.class_name(str(r["target"]), metric) for r in records],
                           "pred": [metrics.class_name(r["pred"], metric) for r in records]}
    if metric == "text":
        out["rouge_l"] = [metrics.score([r], metric)["rouge_l"] for r in records]
    if ratings is not None:
        out["judge_score"] = list(ratings)
    return out


def score_file(predictions_path, out_path, *, metric: str, identity: dict, judgments_path=None) -> dict:
    """metrics.json: the run's identity columns + the finetune family's metrics + each eval row's result
    (``item_ids``, ``item_correct``, and ``item_scores`` (see ``item_scores``), for the statistics over items)
    (+ the judge's mean rating)."""
    records = read_jsonl(predictions_path)
    result = {**identity, "metric": metric, **metrics.score(records, metric),
              **item_correctness(records, metric, path=predictions_path)}
    result["n_distinct_demos"] = len({d for r in records for d in r.get("demo_ids", [])})
    ratings = None
    if judgments_path:
        judgments = read_jsonl(judgments_path)
        ratings = [j["rating"] for j in judgments]
        parsed = [r for r in ratings if r is not None]
        result["judge_score"] = float(np.mean(parsed)) if parsed else None
        result["judge_n_unparsed"] = len(ratings) - len(parsed)
        if [str(j.get("id")) for j in judgments] != result["item_ids"]:
            ratings = None  # judged rows do not line up with the eval rows: no per-item ratings
    result["item_scores"] = item_scores(records, metric, ratings)
    write_json(out_path, result)
    log.info("%s: accuracy %.3f (%d/%d)", out_path, result["accuracy"], result["n_correct"], result["n_total"])
    return result
