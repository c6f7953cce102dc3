"""Test-set evaluation of active data search and of the baselines a reviewer asks for, and the verdict.

Methods (the ``strategy`` column of final_metrics.csv):
  ads_icl   the policy conditioned in context on the data of the best trajectory (last iteration); no data
            when the best is "none" (no plan's reward beat no data's 0)
  ads_lora  the policy with a LoRA adapter trained on that data (algrid.train.train_adapter), no context
            (0 rows when the best is "none": the adapter is the untrained LoRA, = the base model)
  none      no data: the policy alone
  random    ``shots`` demonstrations drawn at random (seeded) from the task's pool, with their labels
  bm25      per test row, the ``shots`` pool rows whose inputs are most BM25-similar to it

Per-item score: ROUGE-L F for free-text tasks, else 0/1 correctness (``policy.item_scores``); where ``ads.judge``
names a model, free-text answers are also rated 1-10 against the reference by the icl family's judge
(``algrid.icl.judge``): ``judge_rating`` per prediction, their mean in the metrics. The held-out
rows of the reward are the pool's first rows; baselines may draw demonstrations from the whole pool (never
from the test rows).

The verdict over these metrics files is ``verdict.summarize``.
"""

import logging
import random

import numpy as np

from .. import models, prompts
from ..errors import DataError
from ..evaluate import item_correctness
from ..io import read_json, read_jsonl, write_json, write_jsonl
from .. import metrics as core_metrics
from . import policy
from .apis import Bm25Index
from .cache import CallCache
from .loop import load_lm

log = logging.getLogger(__name__)

ADS_METHODS = ("ads_icl", "ads_lora")
BASELINES = ("none", "random", "bm25")
COST_COLUMNS = ("api_cost", "api_calls", "tokens_in", "tokens_out", "api_seconds")


def best_data(scores_path, collected_path) -> tuple[dict, list[dict]]:
    """The last iteration's scores and the best trajectory's collected data ([] when the best is "none": no plan
    beat no data, so the policy is tested with no data)."""
    scores = read_json(scores_path)
    best = scores["best"]["id"]
    if best == "none":
        return scores, []
    return scores, [c for c in read_jsonl(collected_path) if c.get("trajectory") == best]


def demos_for(method: str, pool: list[dict], rows: list[dict], *, shots: int, seed: int) -> list[list[dict]]:
    """Each test row's demonstrations for a baseline method."""
    if method == "none":
        return [[] for _ in rows]
    if method == "random":
        picks = random.Random(seed).sample(pool, min(shots, len(pool)))
        return [picks for _ in rows]
    if method == "bm25":
        index = Bm25Index([{"id": str(i), "text": r["input"]} for i, r in enumerate(pool)])
        return [[pool[int(h["id"])] for h in index.search(r["input"], shots)] for r in rows]
    raise ValueError(f"unknown baseline {method!r}")


def judge_records(judge_dir, judge_spec: dict, records: list[dict], rows: list[dict], pc: dict, *,
                  batch_size: int) -> dict:
    """Rate each free-text answer 1-10 against its reference (``judge_rating``, None when unparsed) in place."""
    from ..icl.judge import judge_answers

    judged = judge_answers(judge_dir, rows, [r.get("output") or "" for r in records], pc, model=judge_spec,
                           batch_size=batch_size)
    for rec, j in zip(records, judged):
        rec["judge_rating"], rec["judge_output"] = j["rating"], j["output"]
    ratings = [j["rating"] for j in judged if j["rating"] is not None]
    return {"judge": judge_spec["name"], "judge_rating": float(np.mean(ratings)) if ratings else float("nan"),
            "judge_rated": len(ratings), "judge_unparsed": len(judged) - len(ratings),
            "judge_item_ratings": [j["rating"] for j in judged]}


def evaluate(inputs: dict, out_predictions, out_metrics, *, method: str, task: dict, model_spec: dict,
             settings: dict, identity: dict, judge_spec: dict | None = None) -> dict:
    """Predict the test rows with ``method`` and write predictions.jsonl and metrics.json (with cost columns)."""
    s = settings
    cache = CallCache(s.get("cache_dir"))
    adapter = inputs.get("adapter")
    if adapter:  # an adapter changes the model: its generations are not cached with the base model's
        from .apis import CachedLM

        lm = CachedLM(models.load_model(inputs["model"], adapter=adapter,
                                        quantization=model_spec.get("quantization", "none"),
                                        dtype=model_spec.get("dtype", "float32")),
                      models.load_tokenizer(inputs["model"]), name=model_spec["name"], fingerprint="adapter",
                      cache=CallCache(None), batch_size=s["batch_size"])
    else:
        lm = load_lm(inputs["model"], model_spec, cache, s["batch_size"])
    rows = read_jsonl(inputs["eval"])[: s.get("eval_limit")]
    if not rows:
        raise DataError(inputs["eval"], "no test rows to evaluate")
    pc = prompts.prompt_config(task["family"], task.get("prompt"))
    choices = rows[0].get("choices")
    cost = dict.fromkeys(COST_COLUMNS, 0)
    extra = {}
    if method in ADS_METHODS:
        scores, collected = best_data(inputs["scores"], inputs["collected"])
        cost = {k: scores["cumulative"].get(k, 0) for k in COST_COLUMNS}
        extra = {"best_trajectory": scores["best"]["id"], "best_reward": scores["best"]["reward"],
                 "n_collected": len(collected), "iterations": scores["iteration"],
                 "heldout_no_data": scores["heldout_no_data"], "heldout_best": scores["best"]["heldout_score"]}
    if method == "ads_icl":
        cond = policy.conditioned(collected, choices=choices, max_docs=s["max_docs"], max_demos=s["max_demos"])
        records = policy.predict(lm, rows, pc, metric=task["metric"], max_new_tokens=s["max_new_tokens"]["policy"],
                                 **cond)
    elif method == "ads_lora":
        records = policy.predict(lm, rows, pc, metric=task["metric"], max_new_tokens=s["max_new_tokens"]["policy"])
        extra["train_seconds"] = read_json(f"{adapter}/resolved.json")["train_seconds"]
    else:
        pool = read_jsonl(inputs["pool"])
        per_row = demos_for(method, pool, rows, shots=s["shots"], seed=identity["seed"])
        records = policy.predict(lm, rows, pc, metric=task["metric"], max_new_tokens=s["max_new_tokens"]["policy"],
                                 demos_per_row=per_row)
    if inputs.get("judge"):
        del lm  # the only reference to the policy model: freed before the judge model loads
        extra.update(judge_records(inputs["judge"], judge_spec, records, rows, pc, batch_size=s["batch_size"]))
    write_jsonl(out_predictions, records)
    item = [r["score"] for r in records]
    result = {**identity, "metric": task["metric"], **core_metrics.score(records, task["metric"]),
              **item_correctness(records, task["metric"], path=out_predictions),
              "score": float(np.mean(item)), "score_name": "rouge_l" if task["metric"] == "text" else "accuracy",
              "item_scores": item, **cost, **extra}
    write_json(out_metrics, result)
    log.info("%s %s: score %.3f over %d rows, cost %.4f", identity["task"], method, result["score"], len(records),
             result["api_cost"])
    return result


def train(model_dir, scores_path, collected_path, pool_path, out_dir, *, task: dict, preset: dict, model_spec: dict,
          seed: int):
    """The LoRA adapter of the best trajectory's data, through algrid.train (the finetune family's trainer)."""
    from .. import train as core_train

    _, collected = best_data(scores_path, collected_path)
    pool = read_jsonl(pool_path)
    rows = policy.training_rows(collected, pool[0].get("choices") if pool else None)
    if not rows:
        log.warning("the best trajectory collected no data: the adapter is trained on 0 rows (= the base model)")
    pc = prompts.prompt_config(task["family"], task.get("prompt"))
    return core_train.train_adapter(model_dir, rows, pc, out_dir,
                                    params={**preset, "quantization": model_spec.get("quantization", "none"),
                                            "dtype": model_spec.get("dtype", "float32")},
                                    seed=seed, extra_record={"collected": str(collected_path), "n_rows": len(rows)})
