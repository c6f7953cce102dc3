"""ads: one search iteration on the real tiny model and real StrategyQA rows: files, rewards, rejection sampling,
and the bad inputs (no valid JSON from the optimizer, a budget spent mid-iteration) counted, not crashing."""

import json

import pytest

from algrid import data
from algrid.ads import loop
from algrid.ads.corpus import build_corpus
from algrid.io import read_json, read_jsonl, write_jsonl
from conftest import require_data

SETTINGS = {"trajectories": 2, "max_calls": 2, "show_previous": 1, "n_examples": 2, "heldout": 3, "top_k": 2,
            "demos_per_call": 1, "qa_context": True, "max_docs": 2, "max_demos": 2, "lambda": 0.01, "budget": None,
            "cost": {"per_call": {}, "per_1k_tokens_in": 1.0, "per_1k_tokens_out": 2.0, "per_second": 0.0},
            "max_new_tokens": {"optimizer": 32, "demonstrations": 24, "qa": 12, "policy": 3}, "batch_size": 4}
TASK = {"name": "strategyqa-dev", "family": "classification", "metric": "label", "prompt": {},
        "description": "answer each question with yes or no"}
SPEC = {"name": "smollm2-135m", "dtype": "float32", "quantization": "none"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, model_dir):
    root = require_data()
    tmp = tmp_path_factory.mktemp("ads_loop")
    rows = data.load_split({"family": "classification", "path": "{data_root}/strategyqa/dev.json",
                            "fields": {"id": "qid", "input": "question", "target": "answer"},
                            "labels": {"True": "yes", "False": "no"}, "skip": 100, "limit": 6, "sample": "first"},
                           key="test", data_root=root)
    write_jsonl(tmp / "pool.jsonl", rows)
    build_corpus({"path": "{data_root}/strategyqa/train.json", "text": ["facts"], "limit": 500}, tmp / "corpus.jsonl",
                 data_root=root)
    return {"policy": model_dir, "optimizer": model_dir, "pool": tmp / "pool.jsonl", "corpus": tmp / "corpus.jsonl",
            "tmp": tmp}


def outputs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    return {k: folder / f"{k}.{'json' if k == 'scores' else 'jsonl'}"
            for k in ("trajectories", "api_calls", "collected", "scores")}


def iterate(inputs, name, iteration=1, previous=None, **changes):
    files = {k: v for k, v in inputs.items() if k != "tmp"}
    if previous:
        files.update(previous_trajectories=previous["trajectories"], previous_collected=previous["collected"],
                     previous_scores=previous["scores"])
    out = outputs(inputs["tmp"] / name)
    settings = {**SETTINGS, "cache_dir": str(inputs["tmp"] / "cache"), **changes}
    scores = loop.run_iteration(files, out, task=TASK, models_spec={"policy": SPEC, "optimizer": SPEC},
                                settings=settings, seed=0, iteration=iteration, run=f"test/{name}")
    return scores, out


def test_two_iterations_keep_the_best_and_account_every_call(inputs):
    first, out1 = iterate(inputs, "iter1")
    assert set(read_json(out1["scores"])) >= {"heldout_no_data", "best", "counts", "totals", "cumulative"}
    trajectories = read_jsonl(out1["trajectories"])
    assert len(trajectories) == 2 and first["counts"]["proposals"] == 2
    calls = read_jsonl(out1["api_calls"])
    assert sum(c["api"] == "optimizer" for c in calls) == 2
    assert first["totals"]["api_calls"] == len(calls)
    assert first["totals"]["api_cost"] == pytest.approx(sum(c["cost"] for c in calls))
    scored = [t for t in trajectories if t["reward"] is not None]
    for t in scored:  # reward = held-out gain over no data - lambda x cost
        assert t["reward"] == pytest.approx(t["heldout_score"] - first["heldout_no_data"] - 0.01 * t["cost"])
    if scored:
        assert first["best"]["reward"] == max(t["reward"] for t in scored)
    second, out2 = iterate(inputs, "iter2", iteration=2, previous=out1)
    assert second["best"]["reward"] >= first["best"]["reward"]  # the previous best is a candidate
    assert second["cumulative"]["api_calls"] == first["totals"]["api_calls"] + second["totals"]["api_calls"]
    best_items = [c for c in read_jsonl(out2["collected"]) if c["trajectory"] == second["best"]["id"]]
    assert len(best_items) == next(t["n_items"] for t in read_jsonl(out2["trajectories"])
                                   if t["id"] == second["best"]["id"]) or second["best"]["id"] == "none"
    # a rerun is served from the cache and accounted the same
    again, _ = iterate(inputs, "iter1-again")
    assert again["cache"]["misses"] == 0
    assert again["totals"]["api_cost"] == pytest.approx(first["totals"]["api_cost"])


def test_an_optimizer_without_valid_json_is_counted_and_the_policy_keeps_no_data(inputs):
    iterate(inputs, "warm")
    rewrite_optimizer_replies(inputs["tmp"] / "cache", "I think we should read about it.")  # prose, no JSON
    scores, out = iterate(inputs, "prose")
    assert scores["counts"]["invalid_json"] == 2 and scores["counts"]["valid"] == 0
    assert scores["best"]["id"] == "none" and scores["best"]["reward"] == 0.0
    assert read_jsonl(out["collected"]) == []
    assert [t["status"] for t in read_jsonl(out["trajectories"])] == ["invalid_json", "invalid_json"]


def rewrite_optimizer_replies(cache_dir, output):
    for entry in cache_dir.glob("*/*.json"):
        cached = json.loads(entry.read_text())
        if cached.get("api") == "optimizer":
            entry.write_text(json.dumps({**cached, "output": output}))


def test_a_budget_spent_mid_iteration_stops_with_one_line(inputs, caplog):
    cache = inputs["tmp"] / "cache-budget"
    iterate(inputs, "budget-warm", cache_dir=str(cache))
    # both plans valid (the reply continues the prefill '[{"api": "'), then a budget the optimizer alone spends
    rewrite_optimizer_replies(cache, 'retrieval", "argument": "Genghis Khan"}, {"api": "qa", "argument": "Why?"}]')
    scores, out = iterate(inputs, "budget", cache_dir=str(cache), budget=0.01)
    assert "cost budget 0.01 exhausted" in scores["budget_line"]
    assert scores["counts"]["budget_exhausted"] == 1 and scores["counts"]["skipped_budget"] == 1
    assert [t["status"] for t in read_jsonl(out["trajectories"])] == ["budget_exhausted", "skipped_budget"]
    assert sum("exhausted" in r.message for r in caplog.records) == 1
    assert all(c["api"] == "optimizer" for c in read_jsonl(out["api_calls"]))
    assert scores["best"]["id"] == "none"
    # a budget that one call fits in: the first plan runs its first call, then stops
    scores, out = iterate(inputs, "budget-mid", cache_dir=str(cache), budget=scores["totals"]["api_cost"] + 1e-6)
    first = read_jsonl(out["trajectories"])[0]
    assert first["status"] == "budget_exhausted" and first["executed_calls"] == 1
    assert "call 2 of 2" in scores["budget_line"]


def test_a_judge_rates_free_text_answers_and_the_summary_carries_its_mean(inputs, model_dir):
    """ads.judge on Self-Instruct (ROUGE-L): each answer rated 1-10 by the real model, mean in the metrics and summary."""
    import yaml

    from algrid.ads import evaluate, verdict
    from algrid.icl.judge import parse_rating
    from conftest import REPO

    spec = yaml.safe_load(open(REPO / "config" / "tasks.yaml"))["tasks"]["self-instruct"]
    rows = data.load_split({**spec["splits"]["eval"], "family": "instruction", "limit": 3}, key="eval", data_root=require_data())
    tmp = inputs["tmp"]
    write_jsonl(tmp / "si.jsonl", rows)
    task = {"name": "self-instruct", "family": "instruction", "metric": "text", "prompt": {}}
    settings = {"eval_limit": 3, "shots": 1, "max_docs": 2, "max_demos": 2, "max_new_tokens": {"policy": 12},
                "batch_size": 3, "cache_dir": str(tmp / "cache-judge")}
    files = {"model": model_dir, "eval": tmp / "si.jsonl", "pool": tmp / "si.jsonl", "judge": model_dir}
    identity = {"family": "ads", "task": "self-instruct", "model": "smollm2-135m", "strategy": "none", "seed": 0}
    result = evaluate.evaluate(files, tmp / "si_pred.jsonl", tmp / "si_metrics.json", method="none", task=task,
                               model_spec=SPEC, settings=settings, identity=identity, judge_spec=SPEC)
    records = read_jsonl(tmp / "si_pred.jsonl")
    assert len(records) == 3 and all(r["judge_rating"] == parse_rating(r["judge_output"]) for r in records)
    ratings = [r["judge_rating"] for r in records if r["judge_rating"] is not None]
    assert result["judge_rated"] == len(ratings) and result["judge_unparsed"] == 3 - len(ratings)
    assert result["judge"] == "smollm2-135m" and all(1 <= r <= 10 for r in ratings)
    if ratings:
        assert result["judge_rating"] == pytest.approx(sum(ratings) / len(ratings))
    summary, _ = verdict.summarize([tmp / "si_metrics.json"], tmp / "summary.csv", tmp / "verdicts.csv", tie_margin=0.02)
    if ratings:
        assert summary.loc[0, "judge_rating_mean"] == pytest.approx(result["judge_rating"])
