"""One round of selection: load what the strategy needs, pick k new pool items, record why."""

import logging

import numpy as np

from . import strategies
from .errors import ConfigError
from .io import read_json, read_jsonl, write_json

log = logging.getLogger(__name__)


def load_pool(inputs: dict, rows: list[dict]) -> "strategies.Pool":
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
    return strategies.Pool(n=len(rows), selected=selected, scores=scores, embeddings=embeddings,
                           texts=[r["input"] for r in rows], query_texts=query_texts,
                           query_embeddings=query_embeddings)


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def select_round(inputs: dict, out_path, *, strategy: str, k: int, seed: int, params: dict, round_: int) -> dict:
    rows = read_jsonl(inputs["pool"])
    pool = load_pool(inputs, rows)
    unselected = pool.n - len(pool.selected)
    if k > unselected:
        raise ConfigError("finetune.budgets", f"round {round_} needs {k} new examples but only {unselected} of the "
                          f"pool's {pool.n} are unselected; lower the budget or enlarge the pool")
    chosen = strategies.get(strategy).select(k, pool, seed, **params)
    picks = [int(i) for i in chosen.indices]
    cumulative = [int(i) for i in pool.selected] + picks
    record = {
        "strategy": strategy, "round": round_, "k": k, "seed": seed, "params": params,
        "indices": picks, "ids": [rows[i]["id"] for i in picks],
        "cumulative_indices": cumulative, "cumulative_ids": [rows[i]["id"] for i in cumulative],
        "info": chosen.info,
    }
    if pool.scores is not None:
        cols = [c for c in ("entropy", "least_confidence", "margin", "max_entropy", "perplexity")
                if c in pool.scores]
        record["scores_of_picks"] = pool.scores.iloc[picks][cols].round(6).to_dict("list")
    write_json(out_path, record)
    log.info("%s round %d: picked %d (cumulative %d of %d)", strategy, round_, len(picks), len(cumulative), pool.n)
    return record
