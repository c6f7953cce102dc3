"""ads: one search iteration on the real tiny model and real StrategyQA rows: files, rewards, rejection sampling,
and the bad inputs (no valid JSON from the optimizer, a budget spent mid-iteration) counted, not crashing."""

import json

import pandas as pd
import pytest

from algrid import data
from algrid.ads import loop
from algrid.ads.corpus import build_corpus
from algrid.io import read_json, read_jsonl, write_json, write_jsonl
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
    # no data (reward 0) is a candidate: a plan is kept only when it beats it
    assert first["best"]["reward"] == max([0.0] + [t["reward"] for t in scored])
    assert (first["best"]["id"] == "none") == all(t["reward"] < 0 for t in scored)
    second, out2 = iterate(inputs, "iter2", iteration=2, previous=out1)
    assert second["best"]["reward"] >= first["best"]["reward"]  # the previous best is a candidate
    assert second["cumulative"]["api_calls"] == first["totals"]["api_calls"] + second["totals"]["api_calls"]
    best_items = [c for c in read_jsonl(out2["collected"]) if c["trajectory"] == second["best"]["id"]]
    assert second["best"]["id"] == "none" or len(best_items) == next(
        t["n_items"] for t in read_jsonl(out2["trajectories"]) if t["id"] == second["best"]["id"])
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
    from algrid.aggregate import aggregate  # results/summary.csv scores the free-text task by ROUGE-L too

    assert result["score"] == pytest.approx(result["rouge_l"])
    aggregate([tmp / "si_metrics.json"], tmp / "final.csv", tmp / "final.json", tmp / "grid_summary.csv")
    grid_summary = pd.read_csv(tmp / "grid_summary.csv")
    assert list(grid_summary.metric) == ["rouge_l"]
    assert grid_summary.loc[0, "accuracy_mean"] == pytest.approx(summary.loc[0, "score_mean"])


def ads_metrics(path, task, metric, strategy, seed, scores, accuracy):
    """An ads metrics file as ads.evaluate writes it: exact-match accuracy, the task's own per-item scores."""
    write_json(path, {"family": "ads", "task": task, "model": "m", "strategy": strategy, "seed": seed,
                      "eval_task": task, "metric": metric, "accuracy": accuracy, "n_correct": round(accuracy * len(scores)),
                      "n_total": len(scores), "n_unparsed": 0, "item_ids": [f"q{i}" for i in range(len(scores))],
                      "item_correct": [int(s == 1.0) for s in scores], "score": sum(scores) / len(scores),
                      "score_name": "rouge_l" if metric == "text" else "accuracy", "item_scores": scores,
                      "api_cost": 0.0, "api_calls": 0, "tokens_in": 0, "tokens_out": 0})
    return path


def test_results_summary_scores_a_free_text_ads_task_by_rouge_l_as_the_ads_summary(tmp_path):
    """One metric per task: results/summary.csv's row for a text task is ROUGE-L (not exact match) and equals
    results/ads/summary.csv's score; a label task stays accuracy."""
    from algrid.ads import verdict
    from algrid.aggregate import aggregate

    text = [ads_metrics(tmp_path / f"si{strategy}{seed}.json", "self-instruct", "text", strategy, seed, scores, 0.0)
            for strategy, seed, scores in (("none", 0, [0.5, 0.25, 0.0]), ("none", 1, [0.75, 0.5, 0.25]),
                                           ("random", 0, [0.2, 0.1, 0.0]), ("random", 1, [0.3, 0.1, 0.2]))]
    label = [ads_metrics(tmp_path / f"sq{seed}.json", "strategyqa", "label", "none", seed, scores, sum(scores) / 3)
             for seed, scores in ((0, [1.0, 0.0, 1.0]), (1, [0.0, 0.0, 1.0]))]
    out = [tmp_path / n for n in ("final.csv", "final.json", "summary.csv")]
    aggregate([*text, *label], *out)
    final, summary = pd.read_csv(out[0]), pd.read_csv(out[2])
    si = summary[summary.task == "self-instruct"].set_index("strategy")
    assert set(si.metric) == {"rouge_l"} and set(final[final.task == "self-instruct"].metric) == {"rouge_l"}
    ads_summary, _ = verdict.summarize(text, tmp_path / "ads.csv", tmp_path / "verdicts.csv", tie_margin=0.02)
    for row in ads_summary.itertuples():
        assert si.loc[row.strategy, "accuracy_mean"] == pytest.approx(row.score_mean)
        # one task: the ads summary's interval (seeds and items, tasks fixed) is results/summary.csv's
        assert (row.score_ci_low, row.score_ci_high) == pytest.approx(
            (si.loc[row.strategy, "accuracy_ci_low"], si.loc[row.strategy, "accuracy_ci_high"]))
    assert si.loc["none", "accuracy_mean"] == pytest.approx(0.375) and si.loc["none", "n_items"] == 3
    assert si.loc["none", "diff_vs_random"] == pytest.approx(0.375 - 0.15)
    sq = summary[summary.task == "strategyqa"]
    assert list(sq.metric) == ["accuracy"] and sq.accuracy_mean.tolist() == pytest.approx([0.5])


def test_one_seed_still_has_an_interval_over_test_items_and_tasks_stay_fixed(tmp_path):
    """Before: the interval was a bootstrap over the seeds x tasks matrix of run means, so one seed of one task gave
    [mean, mean]. Now each task's seeds x items are resampled, the tasks fixed; the difference is paired; unparsed
    judge ratings (None) are left out of the judge's mean."""
    from algrid.ads import verdict

    files = [ads_metrics(tmp_path / f"{t}{m}.json", t, "label", m, 0, scores, sum(scores) / len(scores))
             for t, m, scores in (("a", "none", [1.0, 0.0, 1.0, 0.0]), ("a", "ads_icl", [1.0, 1.0, 1.0, 0.0]),
                                  ("b", "none", [0.0, 0.0]), ("b", "ads_icl", [1.0, 0.0]))]
    summary, verdicts = verdict.summarize(files[:2], tmp_path / "s.csv", tmp_path / "v.csv", tie_margin=0.02)
    icl = summary.set_index("strategy").loc["ads_icl"]
    assert icl.n_seeds == 1 and icl.score_mean == pytest.approx(0.75) and icl.score_ci_low < 0.75 < icl.score_ci_high
    both, verdicts = verdict.summarize(files, tmp_path / "s.csv", tmp_path / "v.csv", tie_margin=0.02)
    icl = both.set_index("strategy").loc["ads_icl"]
    assert icl.score_mean == pytest.approx((0.75 + 0.5) / 2)  # mean of task means, not of the 6 items
    row = verdicts.set_index(["method", "reference"]).loc[("ads_icl", "none")]
    assert row.diff_mean == pytest.approx((0.25 + 0.5) / 2) and row.wins == 2
    assert row.diff_ci_low >= 0.0  # paired: ads_icl is never worse on any item, so no resample is below 0
    for path, ratings in ((files[1], [8, None, 6, 2]), (files[0], [None, None, 3, 5])):
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "judge_item_ratings": ratings, "judge_rating": 1.0}))
    judged, _ = verdict.summarize(files[:2], tmp_path / "s.csv", tmp_path / "v.csv", tie_margin=0.02)
    judged = judged.set_index("strategy")
    assert judged.loc["ads_icl", "judge_rating_mean"] == pytest.approx(16 / 3)
    assert judged.loc["none", "judge_rating_mean"] == pytest.approx(4.0)


def test_the_optimizer_never_sees_a_heldout_question(model_dir):
    """ads_cpu's shape on the real StrategyQA pool (heldout 10, 3 plans, 3 examples, seeds 0-1, iterations 1-2):
    no optimizer prompt of run_iteration's prompt building holds a held-out (reward) question."""
    from algrid import models
    from algrid.ads.apis import CachedLM
    from algrid.ads.cache import CallCache

    pool = data.load_split({"family": "classification", "path": "{data_root}/strategyqa/dev.json",
                            "fields": {"id": "qid", "input": "question", "target": "answer"},
                            "labels": {"True": "yes", "False": "no"}, "skip": 100, "limit": 1000, "sample": "first"},
                           key="pool", data_root=require_data())
    pool.insert(20, {**pool[3], "id": "duplicate"})  # a search row that repeats a held-out question
    lm = CachedLM(None, models.load_tokenizer(model_dir), name="opt", fingerprint="f", cache=CallCache(None))
    settings = {**SETTINGS, "heldout": 10, "trajectories": 3, "n_examples": 3}
    heldout = [r["input"] for r in pool[:10]]
    prompts, shown = [], set()
    for seed in (0, 1):
        for iteration in (1, 2):
            prompts += loop.optimizer_prompts(lm, pool, task=TASK, settings=settings, previous=[], seed=seed,
                                              iteration=iteration)
    for p in prompts:
        shown |= {r["input"] for r in pool[10:] if r["input"] in p}
    assert len(prompts) == 12 and len(shown) >= 12  # the examples come from the search rows
    assert [q for p in prompts for q in heldout if q in p] == []
    assert set(loop.search_inputs(pool, 10)).isdisjoint(heldout) and len(loop.search_inputs(pool, 10)) == len(pool) - 11


def test_collected_answers_of_heldout_questions_are_dropped():
    heldout = [{"input": "Is the sky  blue?"}, {"input": "Did Genghis Khan have children?"}]
    items = [{"kind": "qa", "input": "is the sky blue?", "target": "yes"},
             {"kind": "demonstration", "input": "Did Genghis Khan have children?", "target": "yes"},
             {"kind": "qa", "input": "Is grass green?", "target": "yes"},
             {"kind": "document", "text": "Did Genghis Khan have children?", "query": "x"}]
    kept, dropped = loop.drop_heldout(items, heldout)
    assert dropped == 2 and kept == items[2:]


def test_plans_worse_than_no_data_are_rejected_and_test_time_uses_no_data(inputs, model_dir):
    """Every plan's reward below 0 (a large lambda): the best is "none" (reward 0), kept in iteration 2, and the
    evaluation of ads_icl conditions on no data: its prompts equal the no-data baseline's."""
    from algrid.ads import evaluate

    cache = inputs["tmp"] / "cache-negative"
    iterate(inputs, "negative-warm", cache_dir=str(cache))
    rewrite_optimizer_replies(cache, 'retrieval", "argument": "Genghis Khan children"}]')
    first, out1 = iterate(inputs, "negative", cache_dir=str(cache), **{"lambda": 1000.0})
    rewards = [t["reward"] for t in read_jsonl(out1["trajectories"])]
    assert len(rewards) == 2 and all(r is not None and r < 0 for r in rewards)
    assert read_jsonl(out1["collected"])  # the plans collected documents ...
    assert first["best"]["id"] == "none" and first["best"]["reward"] == 0.0 and first["best"]["cost"] == 0.0
    assert first["best"]["heldout_score"] == first["heldout_no_data"]
    assert evaluate.best_data(out1["scores"], out1["collected"])[1] == []  # ... none of which is used
    second, out2 = iterate(inputs, "negative2", iteration=2, previous=out1, cache_dir=str(cache),
                           **{"lambda": 1000.0})
    assert second["best"]["id"] == "none"
    assert not any(t["carried"] for t in read_jsonl(out2["trajectories"]))
    tmp = inputs["tmp"]
    settings = {"eval_limit": 2, "shots": 1, "max_docs": 2, "max_demos": 2, "max_new_tokens": {"policy": 3},
                "batch_size": 2, "cache_dir": str(cache)}
    preds = {}
    for method in ("ads_icl", "none"):
        files = {"model": model_dir, "eval": inputs["pool"], "pool": inputs["pool"], "scores": out2["scores"],
                 "collected": out2["collected"]}
        identity = {"family": "ads", "task": TASK["name"], "model": "smollm2-135m", "strategy": method, "seed": 0}
        result = evaluate.evaluate(files, tmp / f"neg_{method}.jsonl", tmp / f"neg_{method}.json", method=method,
                                   task=TASK, model_spec=SPEC, settings=settings, identity=identity)
        preds[method] = read_jsonl(tmp / f"neg_{method}.jsonl")
    assert result["score"] >= 0 and read_json(tmp / "neg_ads_icl.json")["n_collected"] == 0
    assert [(r["output"], r["demo_ids"]) for r in preds["ads_icl"]] == [(r["output"], r["demo_ids"]) for r in preds["none"]]
