"""When active learning could have stopped: small-text's stopping criteria, evaluated on every round of a cell
from what the rounds already wrote (no model runs).

The round-r adapter's answers on the whole pool are the pool scores that chose round r + 1 (the base model's,
``base.parquet``, for round 0, where round 1 read them), so they exist for rounds 0 .. m-1 of a strategy that
reads pool scores; the last round's adapter never scores the pool, and strategies that read no scores have none.
From those answers, in order, as small-text 1.4.1's classes (``small_text.stopping_criteria``) compute them:

- ``kappa_average`` (KappaAverage, Bloodgood & Vijay-Shanker 2009): Cohen's kappa between consecutive rounds'
  answers on a fixed stopping set (the whole pool; 1.0 when both agree on every item), stopping once the mean
  of the last ``kappa_window`` kappas reaches ``kappa``.
- ``classification_change`` (ClassificationChange, Zhu et al. 2008): stops when at most a fraction ``change``
  of the pool's answers changed since the previous round.
- ``overall_uncertainty`` (OverallUncertainty, Zhu et al. 2008): the mean normalised entropy over the pool
  items not yet selected, stopping below ``uncertainty``. small-text normalises a class distribution's entropy
  by log(classes); an LLM's answer is a sequence of next-token distributions over the vocabulary, so an
  item's value is its mean answer-token entropy (the ``entropy`` pool score) divided by log(vocabulary size).

Plus one criterion small-text does not ship: ``diversity_change``, the change in the cumulative selection's mean
pairwise cosine distance since the previous round (selection diagnostics), stopping below ``diversity``.
An answer is its class (``metrics.class_name`` of the extracted answer; unparsed answers are one class).
"""

import json
import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CRITERIA = ("kappa_average", "classification_change", "overall_uncertainty", "diversity_change")
DEFAULTS = {"kappa": 0.99, "kappa_window": 3, "change": 0.0, "uncertainty": 0.05, "diversity": 0.01}


def cohen_kappa(a, b) -> float:
    """Cohen's kappa of two label sequences; 1.0 where they are equal (small-text's adaptation, which also keeps
    a constant sequence from dividing by zero)."""
    a, b = np.asarray(a), np.asarray(b)
    if np.array_equal(a, b):
        return 1.0
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    x, y = codes[: len(a)], codes[len(a):]
    n_classes = int(codes.max()) + 1
    observed = float(np.mean(x == y))
    expected = float(np.bincount(x, minlength=n_classes) @ np.bincount(y, minlength=n_classes)) / len(a) ** 2
    return (observed - expected) / (1.0 - expected)


def kappa_average(predictions: list, *, kappa: float = 0.99, window: int = 3) -> list[dict]:
    """Per step (one set of answers each): kappa with the previous step's answers, the mean of the last
    ``window`` kappas once there are that many, and whether KappaAverage would stop there."""
    out, history, last = [], [], None
    for current in predictions:
        step = {"kappa": None, "kappa_mean": None, "stop": False}
        if last is not None:
            history = (history + [cohen_kappa(current, last)])[-window:]
            step["kappa"] = history[-1]
            if len(history) == window:
                step["kappa_mean"] = float(np.mean(history))
                step["stop"] = bool(step["kappa_mean"] >= kappa)
        last = current
        out.append(step)
    return out


def classification_change(predictions: list, *, threshold: float = 0.0) -> list[dict]:
    """Per step: the fraction of answers that changed since the previous step, and whether ClassificationChange
    would stop (at least a share 1 - ``threshold`` unchanged)."""
    out, last = [], None
    for current in predictions:
        step = {"changed": None, "stop": False}
        if last is not None:
            unchanged = np.equal(np.asarray(last), np.asarray(current))
            step["changed"] = float(1.0 - unchanged.mean())
            step["stop"] = bool(unchanged.sum() >= len(unchanged) * (1 - threshold))
        last = current
        out.append(step)
    return out


def overall_uncertainty(entropy, n_classes: int, unlabeled, *, threshold: float = 0.05) -> dict:
    """Mean over the ``unlabeled`` items of entropy / log(n_classes) (entropies in nats), and whether
    OverallUncertainty would stop (below ``threshold``)."""
    value = float(np.mean(np.asarray(entropy, dtype=np.float64)[np.asarray(unlabeled, dtype=np.int64)])
                  / math.log(n_classes))
    return {"uncertainty": value, "stop": bool(value < threshold)}


def diversity_change(diversities: list, *, threshold: float = 0.01) -> list[dict]:
    """Per round: the absolute change of the cumulative selection's diversity since the previous round (None at
    the first, or next to a missing value), and whether it is below ``threshold``."""
    out = []
    for previous, current in zip([None] + list(diversities[:-1]), diversities):
        change = None if previous is None or current is None else abs(current - previous)
        out.append({"diversity_change": change, "stop": change is not None and change < threshold})
    return out


def vocabulary_size(model_dir) -> int:
    """The width of the model's next-token distribution (config.json's vocab_size, or its text_config's)."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return int(config.get("vocab_size") or config["text_config"]["vocab_size"])


def answer_classes(outputs, rows, kind: str) -> np.ndarray:
    """The class of each pool item's answer (pool order), as the metric reads it."""
    from algrid import metrics

    return np.array([metrics.class_name(metrics.extract_answer(str(o), kind, r.get("choices")), kind)
                     for o, r in zip(outputs, rows)], dtype=object)


def cell_rounds(cell: dict, rows: list[dict], params: dict, vocabulary: int | None = None) -> list[dict]:
    """One record per round 0 .. m of a cell. ``cell`` holds its ``keys``, ``cold_start``, answer ``kind`` and
    ``rounds_files``: per round its ``n_labels``, ``scores`` file (None where the round's adapter scored no pool),
    ``diagnostics`` file (None for round 0) and ``metrics`` files by eval task. ``vocabulary``: the model's."""
    import pandas as pd

    from algrid.io import read_json

    params = {**DEFAULTS, **params}
    rounds = cell["rounds_files"]
    answers, entropies = [], []
    for spec in rounds:
        if spec["scores"] is None:
            answers.append(None)
            entropies.append(None)
            continue
        scores = pd.read_parquet(spec["scores"])
        if list(scores["id"]) != [r["id"] for r in rows]:
            raise ValueError(f"{spec['scores']} does not match the pool's ids")
        answers.append(answer_classes(scores["output"], rows, cell["kind"]))
        entropies.append(scores["entropy"].to_numpy(dtype=np.float64))
    diagnostics = [read_json(s["diagnostics"]) if s["diagnostics"] else None for s in rounds]
    selected = [set(d["cumulative_indices"]) if d else set() for d in diagnostics]
    diversity = [d["mean_pairwise_cosine_distance_cumulative"] if d else None for d in diagnostics]

    # the criteria see the answers of consecutive rounds that have them (rounds 0 or 1 .. m-1)
    have = [i for i, a in enumerate(answers) if a is not None]
    kappa = dict(zip(have, kappa_average([answers[i] for i in have], kappa=params["kappa"],
                                         window=params["kappa_window"])))
    change = dict(zip(have, classification_change([answers[i] for i in have], threshold=params["change"])))
    div = diversity_change(diversity, threshold=params["diversity"])
    records, first = [], {}
    for i, spec in enumerate(rounds):
        accuracy = {e: read_json(path)["accuracy"] for e, path in spec["metrics"].items()}
        rec = {**cell["keys"], "cold_start": cell["cold_start"], "round": i, "n_labels": spec["n_labels"],
               "accuracy": float(np.mean(list(accuracy.values()))),
               **{f"accuracy_{e}": a for e, a in accuracy.items()}}
        rec["kappa"] = kappa[i]["kappa"] if i in kappa else None
        rec["kappa_mean"] = kappa[i]["kappa_mean"] if i in kappa else None
        rec["changed"] = change[i]["changed"] if i in change else None
        rec["uncertainty"] = None
        if entropies[i] is not None:
            unlabeled = [j for j in range(len(rows)) if j not in selected[i]]
            rec["uncertainty"] = overall_uncertainty(entropies[i], vocabulary, unlabeled,
                                                     threshold=params["uncertainty"])["uncertainty"]
        rec["diversity"] = diversity[i]
        rec["diversity_change"] = div[i]["diversity_change"]
        stops = {
            "kappa_average": kappa[i]["stop"] if i in kappa else None,
            "classification_change": change[i]["stop"] if i in change else None,
            "overall_uncertainty": None if rec["uncertainty"] is None else rec["uncertainty"] < params["uncertainty"],
            "diversity_change": None if rec["diversity_change"] is None else div[i]["stop"],
        }
        for name, stop in stops.items():
            rec[f"{name}_stop"] = stop
            if stop and name not in first:
                first[name] = i
        rec["stopped_by"] = ";".join(n for n in CRITERIA if first.get(n) == i)
        records.append(rec)
    return records


def stopping_table(cells: list[dict], csv_path, *, params: dict):
    """Every cell's rounds (``cell_rounds``) in one csv, sorted like the selection diagnostics."""
    import pandas as pd

    from algrid.io import atomic_path, read_jsonl

    pools, records = {}, []
    for cell in cells:
        if cell["pool"] not in pools:
            pools[cell["pool"]] = read_jsonl(cell["pool"])
        vocabulary = vocabulary_size(cell["model_dir"]) if cell.get("model_dir") else None
        records += cell_rounds(cell, pools[cell["pool"]], params, vocabulary)
    frame = pd.DataFrame(records)
    stop_columns = [f"{n}_stop" for n in CRITERIA]
    frame[stop_columns] = frame[stop_columns].astype("boolean")
    frame = frame.sort_values(["task", "model", "preset", "strategy", "budget", "rounds", "seed", "round"])
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    log.info("%d rounds of %d cells -> %s; first stops: %s", len(frame), len(cells), csv_path,
             {n: int(frame[f"{n}_stop"].fillna(False).sum()) for n in CRITERIA})
    return frame
