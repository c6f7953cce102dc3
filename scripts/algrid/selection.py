"""One round of selection: load what the strategy needs, pick k new pool items, record why."""

import logging

import numpy as np

from . import strategies
from .errors import ConfigError
from .strategies._common import answer_strata
from .io import read_json, read_jsonl, write_json

log = logging.getLogger(__name__)


def load_pool(inputs: dict, rows: list[dict], needs: frozenset = frozenset()) -> "strategies.Pool":
    import pandas as pd

    previous = read_json(inputs["previous"]) if "previous" in inputs else None
    selected = np.asarray(previous["cumulative_indices"] if previous else [], dtype=np.int64)
    scores = None
    if "scores" in inputs:
        scores = pd.read_parquet(inputs["scores"])
        if list(scores["id"]) != [r["id"] for r in rows]:
            raise ConfigError("scores", f"{inputs['scores']} does not match the pool's ids; rebuild it")
    embeddings = np.load(inputs["embeddings"]) if "embeddings" in inputs else None
    query_texts = query_embeddings = None
    if "queries" in inputs:
        query_texts = [r["input"] for path in _as_list(inputs["queries"]) for r in read_jsonl(path)]
        if "query_embeddings" in inputs:
            query_embeddings = np.concatenate([np.load(p) for p in _as_list(inputs["query_embeddings"])])
    features = query_features = query_groups = None
    if "features" in inputs:
        features = read_features(inputs["features"], [r["id"] for r in rows])[0]
    if "query_features" in inputs:
        blocks = [read_features(p)[0] for p in _as_list(inputs["query_features"])]
        query_features = np.concatenate(blocks)
        query_groups = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
    labels = answer_strata(rows) if "labels" in needs else None
    return strategies.Pool(n=len(rows), selected=selected, scores=scores, embeddings=embeddings,
                           texts=[r["input"] for r in rows], query_texts=query_texts,
                           query_embeddings=query_embeddings, features=features, query_features=query_features,
                           query_groups=query_groups, labels=labels)


def read_features(path, ids=None) -> tuple[np.ndarray, dict]:
    """A model-feature file (``algrid.finetune.features``): its [rows, d] array and its cost record; with
    ``ids``, checked to be the pool's rows in order."""
    import json

    with np.load(path) as data:
        features, found, cost = data["features"], [str(i) for i in data["ids"]], json.loads(str(data["cost"]))
    if ids is not None and found != [str(i) for i in ids]:
        raise ConfigError("features", f"{path} does not match the pool's ids; rebuild it")
    return features, cost


def feature_cost(inputs: dict) -> dict | None:
    """Model calls and seconds of the feature jobs behind a selection (summed over its feature files)."""
    paths = [p for key in ("features", "query_features") if key in inputs for p in _as_list(inputs[key])]
    if not paths:
        return None
    costs = [read_features(p)[1] for p in paths]
    total = {"model_calls": sum(c.get("model_calls", 0) for c in costs),
             "seconds": round(sum(c.get("seconds", 0.0) for c in costs), 3)}
    return {**total, "jobs": costs}


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def select_round(inputs: dict, out_path, *, strategy: str, k: int, seed: int, params: dict, round_: int,
                 cold_start: dict | None = None) -> dict:
    """``cold_start`` ({method, params}: ``finetune.cold_start`` in round 1) picks instead of the strategy."""
    rows = read_jsonl(inputs["pool"])
    pool = load_pool(inputs, rows, strategies.get(strategy).needs)
    unselected = pool.n - len(pool.selected)
    if k > unselected:
        raise ConfigError("finetune.budgets", f"round {round_} needs {k} new examples but only {unselected} of the "
                          f"pool's {pool.n} are unselected; lower the budget or enlarge the pool")
    if cold_start:
        from .finetune import cold_start as cold

        chosen = cold.pick(cold_start["method"], k, pool, seed, rows=rows, params=cold_start.get("params"))
    else:
        chosen = strategies.get(strategy).select(k, pool, seed, **params)
    picks = [int(i) for i in chosen.indices]
    cumulative = [int(i) for i in pool.selected] + picks
    record = {
        "strategy": strategy, "round": round_, "k": k, "seed": seed, "params": params,
        "indices": picks, "ids": [rows[i]["id"] for i in picks],
        "cumulative_indices": cumulative, "cumulative_ids": [rows[i]["id"] for i in cumulative],
        "info": chosen.info, "cold_start": cold_start["method"] if cold_start else "none",
    }
    cost = feature_cost(inputs)
    if cost is not None:  # what the model features behind these picks cost (warm-up training included)
        record["params"] = {**chosen.info["params"], "cost": cost}
    if pool.scores is not None:
        cols = [c for c in ("entropy", "least_confidence", "margin", "max_entropy", "perplexity")
                if c in pool.scores]
        record["scores_of_picks"] = pool.scores.iloc[picks][cols].round(6).to_dict("list")
    write_json(out_path, record)
    log.info("%s round %d: picked %d (cumulative %d of %d)", strategy, round_, len(picks), len(cumulative), pool.n)
    return record


def diagnose_round(selected_path, pool_path, embeddings_path, out_path, *, identity: dict) -> dict:
    """Diversity, coverage, overlap, length and answer mix of one round's picks (files, not just logs)."""
    from .diagnostics import selection_diagnostics

    selected, rows = read_json(selected_path), read_jsonl(pool_path)
    previous = selected["cumulative_indices"][: len(selected["cumulative_indices"]) - len(selected["indices"])]
    result = selection_diagnostics(np.load(embeddings_path), selected["indices"], previous,
                                   lengths=[len(r["input"].split()) for r in rows],
                                   answers=[r["target"] for r in rows])
    record = {**identity, **result, "cumulative_indices": selected["cumulative_indices"]}
    write_json(out_path, record)
    log.info("round %s: diversity %.3f, coverage %.3f", identity.get("round"),
             result["mean_pairwise_cosine_distance_cumulative"] or float("nan"), result["coverage"] or float("nan"))
    return record


def diagnostics_table(files, csv_path):
    """All rounds' diagnostics in one table, plus the Jaccard overlap of each selection with every other
    strategy's at the same task/model/preset/budget/rounds/seed/round (column jaccard_<strategy>)."""
    import pandas as pd

    from .diagnostics import jaccard
    from .io import atomic_path

    records = [read_json(f) for f in files]
    same = ("task", "model", "preset", "budget", "rounds", "seed", "round")
    for rec in records:
        for other in records:
            if other["strategy"] != rec["strategy"] and all(other[k] == rec[k] for k in same):
                rec[f"jaccard_{other['strategy']}"] = jaccard(rec["cumulative_indices"], other["cumulative_indices"])
    frame = pd.DataFrame(records).drop(columns=["cumulative_indices", "eval_task"], errors="ignore")
    if "answer_counts" in frame:
        frame["answer_counts"] = frame["answer_counts"].map(lambda c: ";".join(f"{k}:{v}" for k, v in c.items()))
    frame = frame.sort_values(["task", "strategy", "budget", "rounds", "seed", "round"])
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    log.info("%d rows -> %s", len(frame), csv_path)
    return frame
