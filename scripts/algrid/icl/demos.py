"""Choosing demonstrations: one set for every eval row, or one set per eval row (per-query strategies)."""

import logging
import time

import numpy as np

from .. import strategies
from ..errors import ConfigError, DataError
from ..io import read_jsonl, write_json
from ..strategies._common import answer_strata

log = logging.getLogger(__name__)


def read_eval(path, limit: int | None) -> list[dict]:
    """The eval rows a run uses: the first ``limit`` rows of the eval split (all when None)."""
    rows = read_jsonl(path)
    return rows[:limit] if limit else rows


def _comparable(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def load_pool(inputs: dict, pool_rows: list[dict], queries: list[dict], needs: frozenset) -> strategies.Pool:
    """The strategy's view of the pool: only the inputs it ``needs`` (scores, embeddings, texts, queries)."""
    scores = embeddings = query_embeddings = None
    if "scores" in needs:
        import pandas as pd

        scores = pd.read_parquet(inputs["scores"])
        if list(scores["id"]) != [r["id"] for r in pool_rows]:
            raise DataError(inputs["scores"], "its ids do not match the pool's; rebuild it")
    if "embeddings" in needs:
        embeddings = np.load(inputs["embeddings"])
        if len(embeddings) != len(pool_rows):
            raise DataError(inputs["embeddings"], f"{len(embeddings)} rows for a pool of {len(pool_rows)}; rebuild it")
        if "queries" in needs:
            query_embeddings = np.load(inputs["query_embeddings"])
            if len(query_embeddings) < len(queries):
                raise DataError(inputs["query_embeddings"],
                                f"{len(query_embeddings)} rows for {len(queries)} eval rows; rebuild it")
            query_embeddings = query_embeddings[: len(queries)]
    texts = [r["input"] for r in pool_rows] if "texts" in needs else None
    query_texts = [q["input"] for q in queries] if "queries" in needs and "texts" in needs else None
    labels = answer_strata(pool_rows) if "labels" in needs else None  # balanced_random
    return strategies.Pool(n=len(pool_rows), selected=np.zeros(0, dtype=np.int64), scores=scores,
                           embeddings=embeddings, texts=texts, query_texts=query_texts,
                           query_embeddings=query_embeddings, labels=labels)


def candidate_rows(n: int, size: int | None, seed: int) -> np.ndarray:
    """The pool rows a run may choose from: all of them, or ``size`` drawn without replacement with the run's
    seed (``icl.pool_sample``), in pool order. Every strategy of a seed gets the same candidates, so strategies
    that ignore the seed (similarity, perplexity_*) still vary over seeds, and the comparison stays paired."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 20230]).choice(n, size=size, replace=False))


def subset_pool(pool: strategies.Pool, keep: np.ndarray) -> strategies.Pool:
    """The strategy's view of the candidate rows ``keep`` only (indices in the returned pool are positions in keep)."""
    def take(values):
        if values is None:
            return None
        if hasattr(values, "iloc"):
            return values.iloc[keep].reset_index(drop=True)
        return values[keep] if isinstance(values, np.ndarray) else [values[i] for i in keep]

    return strategies.Pool(n=len(keep), selected=pool.selected, scores=take(pool.scores),
                           embeddings=take(pool.embeddings), texts=take(pool.texts), query_texts=pool.query_texts,
                           query_embeddings=pool.query_embeddings, labels=take(pool.labels))


def dev_rows(inputs: dict, all_eval: list[dict]) -> list[dict]:
    """The task's dev rows (none without a dev split); a dev row that is also an eval row is a DataError."""
    if "dev" not in inputs:
        return []
    rows = read_jsonl(inputs["dev"])
    eval_ids = {r["id"] for r in all_eval}
    eval_inputs = {_comparable(r["input"]) for r in all_eval}
    for row in rows:
        if row["id"] in eval_ids or _comparable(row["input"]) in eval_inputs:
            raise DataError(inputs["dev"], f"dev row '{row['id']}' also occurs in the eval split {inputs['eval']}; "
                            "rebuild the task's data (prepare_dataset removes overlaps)")
    return rows


def select_demos(inputs: dict, out_path, *, strategy: str, k: int, seed: int, params: dict,
                 eval_limit: int | None, predict: dict | None = None, pool_sample: int | None = None) -> dict:
    """Pick k demonstrations (one set, or one set per eval row for per-query strategies) -> demos.json.

    With ``pool_sample`` the strategy sees only that many pool rows, drawn with the seed (``candidate_rows``);
    demos.json's indices are positions in the whole pool either way.

    A strategy that calls the model (``model`` in its needs) gets ``inputs["model"]`` loaded as ``predict``
    (icl_predict's settings) says, with the dev split's rows when the task has one. The record holds the
    resolved parameters and the selection's cost (model calls, seconds)."""
    pool_rows = read_jsonl(inputs["pool"])
    all_eval = read_jsonl(inputs["eval"])
    queries = all_eval[:eval_limit] if eval_limit else all_eval
    keep = candidate_rows(len(pool_rows), pool_sample, seed)
    if k > len(keep):
        key = "icl.pool_sample" if len(keep) < len(pool_rows) else "icl.shots"
        raise ConfigError(key, f"{k} shots but the run's candidates from {inputs['pool']} are {len(keep)} rows")
    chosen = strategies.get(strategy)
    resolved = chosen.resolve_params(params)
    start = time.perf_counter()
    pool = load_pool(inputs, pool_rows, queries, chosen.needs)
    if len(keep) < len(pool_rows):
        pool = subset_pool(pool, keep)
    candidates = [pool_rows[i] for i in keep]
    if "model" in chosen.needs:
        from .scorer import load_scorer  # torch: only for the strategies that call the model

        settings = dict(predict or {})
        pool.model = load_scorer(inputs["model"], model=settings.pop("model", {}), pool_rows=candidates,
                                 queries=queries, dev_rows=dev_rows(inputs, all_eval), **settings)
    record = {"strategy": strategy, "k": k, "seed": seed, "params": resolved, "per_query": chosen.per_query,
              "pool_size": len(pool_rows), "candidates": len(keep), "n_eval": len(queries)}
    if chosen.per_query:
        lists = [[int(keep[i]) for i in picks] for picks in chosen.select_per_query(k, pool, seed, **params)]
        record["queries"] = [{"id": q["id"], "indices": picks, "ids": [pool_rows[i]["id"] for i in picks]}
                             for q, picks in zip(queries, lists)]
        used = {i for picks in lists for i in picks}
    else:
        selection = chosen.select(k, pool, seed, **params)
        selection.indices = [int(keep[i]) for i in selection.indices]
        record["indices"] = selection.indices
        record["ids"] = [pool_rows[i]["id"] for i in selection.indices]
        record["info"] = selection.info
        used = set(selection.indices)
    record["cost"] = {"model_calls": int(pool.model.calls) if pool.model is not None else 0,
                      "seconds": round(time.perf_counter() - start, 3)}
    eval_ids = {r["id"] for r in all_eval}
    eval_inputs = {_comparable(r["input"]) for r in all_eval}
    for i in sorted(used):
        if pool_rows[i]["id"] in eval_ids or _comparable(pool_rows[i]["input"]) in eval_inputs:
            raise DataError(inputs["pool"], f"demonstration '{pool_rows[i]['id']}' also occurs in the eval split "
                            f"{inputs['eval']}; rebuild the task's data (prepare_dataset removes overlaps)")
    record["n_distinct_demos"] = len(used)
    write_json(out_path, record)
    log.info("%s: %d shots, %s, %d distinct demonstrations from %d candidates of a pool of %d", strategy, k,
             "one set per eval row" if chosen.per_query else "one set", len(used), len(keep), len(pool_rows))
    return record


def demos_per_row(record: dict, pool_rows: list[dict], rows: list[dict], *, path="demos.json") -> list[list[dict]]:
    """Each eval row's demonstration rows, from a demos.json record."""
    def fetch(indices, ids):
        if any(i >= len(pool_rows) or pool_rows[i]["id"] != d for i, d in zip(indices, ids)):
            raise DataError(path, "its demonstrations do not match the pool's rows; rebuild it")
        return [pool_rows[i] for i in indices]

    if not record["per_query"]:
        demos = fetch(record["indices"], record["ids"])
        return [demos for _ in rows]
    by_id = {q["id"]: q for q in record["queries"]}
    missing = [r["id"] for r in rows if r["id"] not in by_id]
    if missing:
        raise DataError(path, f"no demonstrations for eval row '{missing[0]}' ({len(missing)} rows); rebuild it")
    return [fetch(by_id[r["id"]]["indices"], by_id[r["id"]]["ids"]) for r in rows]


# ----------------------------------------------------------------------------- prompts
