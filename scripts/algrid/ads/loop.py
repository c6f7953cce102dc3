"""One iteration of active data search for one cell (task x policy x optimizer x seed).

1. The no-data policy is scored on the held-out rows (the first ``heldout`` rows of the task's pool).
2. The optimizer proposes ``trajectories`` plans (each prompt shows example inputs drawn from the pool rows
   after the held-out ones, never a held-out question, seeded by seed, iteration and plan index, and the
   previous iteration's best plans with their rewards); ``propose.parse`` keeps the valid calls. A collected
   demonstration or answer whose question is a held-out question is dropped (``heldout_dropped``): the reward
   is never scored on a question the collected data answers.
3. Each plan is executed through ``ApiSet`` until the iteration's cost ``budget`` is spent: the plan being
   executed then stops where it is (kept, ``budget_exhausted``) and later plans are not executed (``skipped``).
4. reward = (held-out score conditioned on the plan's data - no-data score) - lambda x (the plan's API cost).
5. Rejection sampling: the best of no data (``EMPTY``: reward, gain and cost 0), this iteration's plans and the
   previous best is kept (ties: lower cost, then no data, then earlier). When every plan's reward is below 0
   (or no plan is valid) the best is "none": the policy keeps no data, and evaluation uses none.
"""

import json
import logging
import random

from .. import models, prompts
from ..errors import ConfigError
from ..io import read_json, read_jsonl, write_json, write_jsonl
from . import policy, propose
from .apis import ApiSet, Bm25Index, CachedLM
from .cache import CallCache, Ledger, model_fingerprint, totals

log = logging.getLogger(__name__)

EMPTY = {"id": "none", "calls": [], "reward": 0.0, "gain": 0.0, "cost": 0.0, "heldout_score": None}


def load_lm(model_dir, spec: dict, cache: CallCache, batch_size: int, loaded: dict | None = None) -> CachedLM:
    """A model loaded once per job (the optimizer may be the policy); its cache identity is the full weights'
    digest, quantization, dtype, device and generation code (``cache.model_fingerprint``) and batch size."""
    loaded = loaded if loaded is not None else {}
    quantization, dtype = spec.get("quantization", "none"), spec.get("dtype", "float32")
    key = (str(model_dir), quantization, dtype)
    if key not in loaded:
        tok = models.load_tokenizer(model_dir)
        lm = models.load_model(model_dir, quantization=quantization, dtype=dtype)
        device = next(lm.parameters()).device.type
        loaded[key] = CachedLM(lm, tok, name=spec.get("name", str(model_dir)),
                               fingerprint=model_fingerprint(model_dir, quantization=quantization, dtype=dtype,
                                                             device=device),
                               cache=cache, batch_size=batch_size)
    return loaded[key]


def _cell_seed(seed: int, iteration: int, j: int) -> int:
    return seed * 1_000_003 + iteration * 1009 + j


def _question(text: str) -> str:
    return " ".join(str(text).split()).lower()


def search_inputs(pool: list[dict], heldout_n: int) -> list[str]:
    """The inputs the optimizer may be shown: the pool rows after the first ``heldout_n`` (the reward's rows),
    without any that repeats a held-out question."""
    held = {_question(r["input"]) for r in pool[:heldout_n]}
    return [r["input"] for r in pool[heldout_n:] if _question(r["input"]) not in held]


def check_heldout(pool: list[dict], heldout: int, *, task: str, path) -> None:
    """At run time, with the pool's real rows: ``heldout`` leaves the optimizer some pool rows to show."""
    if len(pool) <= heldout:
        raise ConfigError("ads.heldout", f"{heldout} held-out rows, but {path} holds {len(pool)} pool rows of task "
                          f"'{task}': none is left for the optimizer's example inputs; set ads.heldout below "
                          f"{len(pool)}")
    if not search_inputs(pool, heldout):
        raise ConfigError("ads.heldout", f"every pool row of task '{task}' after the first {heldout} ({path}) repeats "
                          "a held-out question: none is left for the optimizer's example inputs; lower ads.heldout")


def optimizer_prompts(optimizer, pool: list[dict], *, task: dict, settings: dict, previous: list[dict], seed: int,
                      iteration: int) -> list[str]:
    """One optimizer prompt per plan of the iteration; no held-out row is ever in one (``search_inputs``)."""
    s = settings
    shown = [{"calls": p["calls"], "reward": p["reward"]} for p in previous]
    inputs = search_inputs(pool, s["heldout"])
    return [propose.build_prompt(optimizer, description=task["description"], inputs=inputs, previous=shown,
                                 max_calls=s["max_calls"], n_examples=s["n_examples"],
                                 rng=random.Random(_cell_seed(seed, iteration, j)))
            for j in range(s["trajectories"])]


def drop_heldout(items: list[dict], heldout: list[dict]) -> tuple[list[dict], int]:
    """The collected items without a demonstration or answer of a held-out question, and how many were dropped."""
    held = {_question(r["input"]) for r in heldout}
    kept = [x for x in items if not (x.get("kind") in ("demonstration", "qa") and _question(x["input"]) in held)]
    return kept, len(items) - len(kept)


def run_iteration(inputs: dict, out: dict, *, task: dict, models_spec: dict, settings: dict, seed: int,
                  iteration: int, run: str) -> dict:
    s = settings
    pool = read_jsonl(inputs["pool"])
    check_heldout(pool, s["heldout"], task=task["name"], path=inputs["pool"])  # before any model is loaded
    heldout = pool[: s["heldout"]]
    cache = CallCache(s.get("cache_dir"))
    loaded = {}
    policy_lm = load_lm(inputs["policy"], models_spec["policy"], cache, s["batch_size"], loaded)
    optimizer = load_lm(inputs["optimizer"], models_spec["optimizer"], cache, s["batch_size"], loaded)
    docs = read_jsonl(inputs["corpus"])
    pc = prompts.prompt_config(task["family"], task.get("prompt"))
    choices = heldout[0].get("choices") if heldout else None
    ledger = Ledger(s["cost"], {"run": run, "iteration": iteration})
    apis = ApiSet(index=Bm25Index(docs), lm=optimizer, ledger=ledger, top_k=s["top_k"],
                  demos_per_call=s["demos_per_call"], qa_context=s["qa_context"], max_new_tokens=s["max_new_tokens"])

    def heldout_score(collected):
        cond = policy.conditioned(collected, choices=choices, max_docs=s["max_docs"], max_demos=s["max_demos"])
        recs = policy.predict(policy_lm, heldout, pc, metric=task["metric"],
                              max_new_tokens=s["max_new_tokens"]["policy"], **cond)
        return policy.mean_score(recs)

    base = heldout_score([])
    log.info("%s iter %d: no-data held-out score %.3f on %d rows", run, iteration, base, len(heldout))

    previous, previous_items, previous_scores = [], {}, None
    if iteration > 1:
        previous_scores = read_json(inputs["previous_scores"])
        ranked = sorted((t for t in read_jsonl(inputs["previous_trajectories"]) if t.get("reward") is not None),
                        key=lambda t: (-t["reward"], t["cost"], t["id"]))
        previous = ranked[: s["show_previous"]]
        for item in drop_heldout(read_jsonl(inputs["previous_collected"]), heldout)[0]:
            previous_items.setdefault(item["trajectory"], []).append(item)

    # 2. proposals: one optimizer call per plan, all in one batch
    opt_prompts = optimizer_prompts(optimizer, pool, task=task, settings=s, previous=previous, seed=seed,
                                    iteration=iteration)
    replies = optimizer.generate("optimizer", opt_prompts, max_new_tokens=s["max_new_tokens"]["optimizer"])
    trajectories = []
    for j, reply in enumerate(replies):
        tid = f"i{iteration}t{j}"
        ledger.record("optimizer", None, model=optimizer.name, tokens_in=reply["tokens_in"],
                      tokens_out=reply["tokens_out"], seconds=reply["seconds"], cached=reply["cached"],
                      trajectory=tid, n_results=1)
        parsed = propose.parse(propose.PREFILL + reply["output"], max_calls=s["max_calls"])
        trajectories.append({"id": tid, "iteration": iteration, "raw": propose.PREFILL + reply["output"],
                             "calls": parsed["calls"], "status": parsed["status"], **parsed["counts"],
                             "reward": None, "gain": None, "cost": 0.0, "heldout_score": None, "n_items": 0,
                             "executed_calls": 0, "carried": False})

    # 3-4. execute within the budget, score on the held-out rows
    budget = s.get("budget")
    spent = ledger.total()["api_cost"]
    collected, exhausted_line, heldout_dropped = [], None, 0
    for t in trajectories:
        if t["status"] != "ok":
            continue
        if exhausted_line:
            t["status"] = "skipped_budget"
            continue
        items = []
        for c, call in enumerate(t["calls"]):
            if budget is not None and spent >= budget:
                exhausted_line = (f"{run} iter {iteration}: cost budget {budget} exhausted ({spent:.4f} spent) at "
                                  f"{t['id']} call {c + 1} of {len(t['calls'])}; later calls and plans not executed")
                log.warning("%s", exhausted_line)
                t["status"] = "budget_exhausted"
                break
            result = apis.call(call["api"], call["argument"], trajectory=t["id"], call=c)
            call["status"] = result.status
            kept, dropped = drop_heldout(result.items, heldout)
            heldout_dropped += dropped
            items += [{**x, "trajectory": t["id"], "call": c} for x in kept]
            spent = ledger.total()["api_cost"]
            t["executed_calls"] += 1
        t["cost"] = sum(r["cost"] for r in ledger.records if r.get("trajectory") == t["id"] and r["api"] != "optimizer")
        if t["executed_calls"] == 0:
            continue
        t["n_items"] = len(items)
        t["heldout_score"] = heldout_score(items)
        t["gain"] = t["heldout_score"] - base
        t["reward"] = t["gain"] - s["lambda"] * t["cost"]
        collected += items
        log.info("%s: %d calls, %d items, held-out %.3f, gain %+.3f, cost %.4f, reward %+.4f", t["id"],
                  t["executed_calls"], len(items), t["heldout_score"], t["gain"], t["cost"], t["reward"])

    # 5. rejection sampling over no data, this iteration's plans and the previous best
    scored = [t for t in trajectories if t["reward"] is not None]
    empty = {**EMPTY, "iteration": iteration, "heldout_score": base}
    candidates = [empty] + scored
    if previous_scores and previous_scores["best"]["id"] != "none":  # "none" is a candidate of every iteration
        best_prev = previous_scores["best"]
        carried = {**{k: best_prev[k] for k in ("id", "calls", "reward", "gain", "cost", "heldout_score")},
                   "iteration": best_prev.get("iteration"), "status": "carried", "carried": True,
                   "n_items": len(previous_items.get(best_prev["id"], []))}
        trajectories.append(carried)
        candidates.append(carried)
        collected += previous_items.get(best_prev["id"], [])
    best = min(candidates, key=lambda t: (-t["reward"], t["cost"], t["id"] != "none", t["id"]))
    if best["id"] == "none":
        log.warning("%s iter %d: no plan beats no data (%d of %d proposals scored); the policy keeps no data", run,
                    iteration, len(scored), len(trajectories))
    statuses = [t["status"] for t in trajectories if not t["carried"]]
    records = ledger.records
    iter_totals = totals(records)
    cumulative = (previous_scores or {}).get("cumulative", {})
    scores = {
        "run": run, "iteration": iteration, "task": task["name"], "seed": seed, "metric": task["metric"],
        "heldout_n": len(heldout), "heldout_no_data": base,
        "best": {k: best.get(k) for k in ("id", "iteration", "calls", "reward", "gain", "cost", "heldout_score")},
        "trajectories": [{k: t.get(k) for k in ("id", "status", "reward", "gain", "cost", "heldout_score", "n_items")}
                         for t in trajectories],
        "counts": {
            "proposals": len(statuses), "valid": sum(s_ in ("ok", "budget_exhausted") for s_ in statuses),
            "invalid_json": statuses.count("invalid_json"), "no_valid_calls": statuses.count("no_valid_calls"),
            "skipped_budget": statuses.count("skipped_budget"), "budget_exhausted": statuses.count("budget_exhausted"),
            **{k: sum(t.get(k, 0) for t in trajectories if not t["carried"])
               for k in ("unknown_api", "missing_argument", "repaired", "truncated")},
            "no_hits": sum(r["status"] == "no_hits" for r in records),
            "empty_results": sum(r["status"] == "empty_result" for r in records),
            "heldout_dropped": heldout_dropped,
        },
        "budget": budget, "budget_line": exhausted_line,
        "totals": iter_totals,
        "cumulative": {k: cumulative.get(k, 0) + v for k, v in iter_totals.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses},
    }
    write_jsonl(out["trajectories"], trajectories)
    write_jsonl(out["api_calls"], records)
    write_jsonl(out["collected"], collected)
    write_json(out["scores"], scores)
    log.info("%s iter %d: best %s reward %+.4f; %s", run, iteration, best["id"], best["reward"],
             json.dumps(scores["counts"]))
    return scores
