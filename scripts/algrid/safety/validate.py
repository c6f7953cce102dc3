"""How far to trust a judge: its verdicts on PyRIT's human-labelled sets, next to PyRIT's published figures.

Sets (``pyrit_scorer_evals/``): ``objective/*.csv`` (one set, all files: human_score 1 = the objective was
achieved = an unsafe response; every judge is scored, positive class = unsafe) and ``refusal_scorer/refusal.csv``
and ``refusal_extra.csv`` (human_score 1 = a refusal; scored for judges that detect refusals: the refusal
detector, and guards whose format reports one). Metrics are over the judge's valid answers; invalid answers are
counted, and ``accuracy_strict`` counts them as wrong. Accuracy, precision and recall carry Wilson 95% intervals,
F1 and Cohen's kappa percentile intervals of 2,000 bootstrap resamples of the items (seeded).
"""

import csv
import json
import logging
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import write_json
from . import judges, judging
from .rates import wilson

log = logging.getLogger(__name__)

RESAMPLES = 2000
SETS = {  # set name -> (files under the PyRIT folder, published metrics file, what a positive label is)
    "objective": ("objective/*.csv", "objective/objective_achieved_metrics.jsonl", "unsafe"),
    "refusal": ("refusal_scorer/refusal.csv", "refusal_scorer/refusal_metrics.jsonl", "refusal"),
    "refusal_extra": ("refusal_scorer/refusal_extra.csv", None, "refusal"),
}


def read_labelled(path) -> list[dict]:
    """Rows {objective, response, label, harm_category, file} of one PyRIT csv ('#' lines are comments)."""
    with open(path, newline="", encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    rows = []
    for i, r in enumerate(csv.DictReader(lines)):
        if r.get("human_score") not in ("0", "1"):
            raise DataError(path, f"row {i + 1}: human_score {r.get('human_score')!r} is not 0 or 1")
        rows.append({"objective": r["objective"], "response": r["assistant_response"], "label": int(r["human_score"]),
                     "harm_category": r.get("harm_category"), "file": Path(path).name})
    return rows


def load_set(root, name: str) -> list[dict]:
    pattern = SETS[name][0]
    files = sorted(Path(root).glob(pattern))
    if not files:
        raise DataError(Path(root) / pattern, "PyRIT human-labelled set not found (config key safety.pyrit_root)")
    return [r for f in files for r in read_labelled(f)]


def _scorer_name(entry: dict) -> str:
    """A published scorer's composition, e.g. 'TrueFalseInverterScorer(SelfAskRefusalScorer[gpt-4o])'."""
    children = entry.get("children") or {}
    target = (children.get("prompt_target") or {}).get("model_name")
    inner = [_scorer_name(s) for s in children.get("sub_scorers", [])]
    name = entry["class_name"] + (f"[{target}]" if target else "")
    return name + (f"({', '.join(inner)})" if inner else "")


def published(root, name: str, n_items: int, files: list[str]) -> list[dict]:
    """PyRIT's own scorers' published figures for a set; ``same_set`` where they were measured on these rows."""
    path = SETS[name][1]
    if path is None or not (Path(root) / path).is_file():
        return []
    out = []
    for line in (Path(root) / path).read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        m = entry["metrics"]
        out.append({"scorer": _scorer_name(entry), "pyrit_version": entry.get("pyrit_version"),
                    "dataset": m["dataset_name"], "n": m["num_responses"], "trials": m.get("num_scorer_trials"),
                    "accuracy": m["accuracy"], "accuracy_se": m.get("accuracy_standard_error"),
                    "precision": m.get("precision"), "recall": m.get("recall"), "f1": m.get("f1_score"),
                    "same_set": m["num_responses"] == n_items and _dataset_files(m["dataset_name"]) == sorted(files)})
    return out


def _dataset_files(name: str) -> list[str]:
    """'bias.csv_hate_speech.csv' -> ['bias.csv', 'hate_speech.csv']."""
    return sorted(part.removesuffix(".csv") + ".csv" for part in name.split(".csv_"))


def _f1(tp, fp, fn) -> float:
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0


def _kappa(tp, fp, fn, tn) -> float:
    n = tp + fp + fn + tn
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return 0.0 if pe == 1 else (po - pe) / (1 - pe)


def _confusion(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, int]:
    return (int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum()),
            int((~pred & ~truth).sum()))


def agreement(predictions: list, labels: list[int]) -> dict:
    """Agreement of binary predictions (None = invalid) with human labels (1 = positive)."""
    n = len(labels)
    keep = [i for i, p in enumerate(predictions) if p is not None]
    pred = np.array([bool(predictions[i]) for i in keep], dtype=bool)
    truth = np.array([bool(labels[i]) for i in keep], dtype=bool)
    tp, fp, fn, tn = _confusion(pred, truth)
    m = len(keep)
    out = {"n": n, "n_valid": m, "n_invalid": n - m, "n_positive": int(sum(labels)),
           "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}
    for name, k, d in (("accuracy", tp + tn, m), ("precision", tp, tp + fp), ("recall", tp, tp + fn),
                       ("accuracy_strict", tp + tn, n)):
        lo, hi = wilson(k, d)
        out[name] = {"value": k / d if d else None, "ci_low": lo, "ci_high": hi, "k": k, "of": d}
    rng = np.random.default_rng(0)
    boots = {"f1": [], "kappa": []}
    for _ in range(RESAMPLES if m else 0):
        idx = rng.integers(0, m, m)
        c = _confusion(pred[idx], truth[idx])
        boots["f1"].append(_f1(*c[:3]))
        boots["kappa"].append(_kappa(*c))
    for name, value in (("f1", _f1(tp, fp, fn) if m else None), ("kappa", _kappa(tp, fp, fn, tn) if m else None)):
        lo, hi = (np.quantile(boots[name], [0.025, 0.975]).tolist() if m else (None, None))
        out[name] = {"value": value, "ci_low": lo, "ci_high": hi}
    out["ci_method"] = "wilson95 (accuracy, precision, recall); bootstrap95 over items, 2000 resamples (f1, kappa)"
    return out


def scores_refusal(spec: dict) -> bool:
    return spec["kind"] == "refusal" or (spec["kind"] == "guard" and spec.get("format", "qwen3guard") == "qwen3guard")


def subsample(rows: list[dict], limit: int | None, seed: int = 0) -> list[dict]:
    """At most ``limit`` rows, seeded, each label in proportion (rows keep their file order)."""
    if not limit or limit >= len(rows):
        return rows
    rng = np.random.default_rng(seed)
    keep = []
    for label in (0, 1):
        idx = [i for i, r in enumerate(rows) if r["label"] == label]
        k = round(limit * len(idx) / len(rows))
        keep += rng.choice(idx, size=min(k, len(idx)), replace=False).tolist()
    return [rows[i] for i in sorted(keep)]


def validate_judge(root, out_path, *, judge: str, spec: dict, model_ref=None, guidelines=None,
                   load: dict | None = None, limit: int | None = None) -> dict:
    """validation.json: per PyRIT set, the judge's agreement with the human labels and PyRIT's published
    figures; the judge's raw answers are kept per item."""
    text = Path(guidelines).read_text() if guidelines else None
    limit = None if spec["kind"] == "refusal" else limit  # the phrase detector costs nothing: every item
    model = None
    if spec["kind"] != "refusal":
        model = judging.load_judge_model(model_ref, f"judges.{judge}.model", load or {})
    report = {"judge": judge, "kind": spec["kind"], "model": spec.get("model"), "limit": limit, "sets": {}}
    for name, (_, _, positive) in SETS.items():
        if positive == "refusal" and not scores_refusal(spec):
            report["sets"][name] = {"scored": False, "why": f"a {spec['kind']} judge gives no refusal label"}
            continue
        all_rows = load_set(root, name)
        rows = subsample(all_rows, limit)
        results = judging.judge_pairs(spec, [r["objective"] for r in rows], [r["response"] for r in rows],
                                     key=f"judges.{judge}", guidelines=text, model=model)
        if positive == "unsafe":
            predictions = [None if r["verdict"] is None else r["verdict"] == judges.UNSAFE for r in results]
        else:
            predictions = [r["refusal"] for r in results]
        files = sorted({r["file"] for r in rows})
        scores = agreement(predictions, [r["label"] for r in rows])
        report["sets"][name] = {"scored": True, "positive": positive, "files": files, "n_set": len(all_rows),
                                **scores, "published": published(root, name, len(all_rows), files),
                                "items": [{"file": r["file"], "label": r["label"], "prediction": p,
                                           "raw": res.get("raw"), "how": res["how"]}
                                          for r, p, res in zip(rows, predictions, results)]}
        log.info("%s on %s (%d items, positive = %s): accuracy %.3f [%.3f, %.3f] over %d valid, kappa %.3f",
                 judge, name, len(rows), positive, scores["accuracy"]["value"] or 0, scores["accuracy"]["ci_low"] or 0,
                 scores["accuracy"]["ci_high"] or 0, scores["n_valid"], scores["kappa"]["value"] or 0)
    write_json(out_path, report)
    return report
