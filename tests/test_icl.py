"""The icl family: demonstration selection, few-shot prompts per family, log-likelihood prediction on the
real tiny model, the judge, scoring and summaries, the grid helpers, and dry runs of the category targets."""

import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from algrid import generation, prompts
from algrid.icl import demos as icl_demos
from algrid.icl import judge, options, predict, score, summary
from algrid.aggregate import aggregate
from algrid.errors import ConfigError, DataError
from algrid.io import read_json, write_json, write_jsonl

from conftest import DATA_ROOT, REPO, require_data

ICL_CPU = REPO / "config" / "experiments" / "icl_cpu.yaml"
WORDS = "apple river stone cloud paper green orbit salt music tiger lamp honey".split()


def load_common():
    loader = importlib.machinery.SourceFileLoader("algrid_common_icl", str(REPO / "rules" / "common.smk"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def full_config(*extra) -> dict:
    """config/tasks.yaml + config/defaults.yaml (+ extra dicts), merged the way --configfile merges."""
    def merge(a, b):
        for key, value in b.items():
            a[key] = merge(a.get(key, {}), value) if isinstance(value, dict) and isinstance(a.get(key), dict) else value
        return a

    config = {}
    for part in (yaml.safe_load((REPO / "config" / "tasks.yaml").read_text()),
                 yaml.safe_load((REPO / "config" / "defaults.yaml").read_text()), *extra):
        merge(config, part)
    return config


class Wildcards(dict):
    __getattr__ = dict.__getitem__


# ----------------------------------------------------------------------------- selection


@pytest.fixture
def task_files(tmp_path):
    """A pool of 30 and an eval split of 6 rows (no input shared), with embeddings and base-model scores."""
    rng = np.random.default_rng(0)
    pool = [{"id": f"p{i}", "input": " ".join(rng.choice(WORDS, 5)) + f" p{i}", "target": "positive",
             "choices": ["negative", "positive"], "meta": {}} for i in range(30)]
    evals = [{"id": f"e{i}", "input": " ".join(rng.choice(WORDS, 3)) + f" e{i}", "target": "negative",
              "choices": ["negative", "positive"], "meta": {}} for i in range(6)]
    files = {"pool": tmp_path / "pool.jsonl", "eval": tmp_path / "eval.jsonl",
             "embeddings": tmp_path / "emb.npy", "query_embeddings": tmp_path / "emb.eval.npy",
             "scores": tmp_path / "base.parquet"}
    write_jsonl(files["pool"], pool)
    write_jsonl(files["eval"], evals)
    np.save(files["embeddings"], rng.standard_normal((30, 8)).astype(np.float32))
    np.save(files["query_embeddings"], rng.standard_normal((6, 8)).astype(np.float32))
    pd.DataFrame({"id": [r["id"] for r in pool], **{c: rng.random(30) for c in
                  ("entropy", "least_confidence", "margin", "max_entropy", "perplexity")}}).to_parquet(files["scores"])
    return {k: str(v) for k, v in files.items()}


def select(files, tmp_path, strategy, seed=0, k=4, eval_limit=None, name="demos.json"):
    out = tmp_path / f"{strategy}-{seed}-{name}"
    return icl_demos.select_demos(files, out, strategy=strategy, k=k, seed=seed, params={}, eval_limit=eval_limit), out


@pytest.mark.parametrize("strategy", ["random", "kmeans", "perplexity_high", "entropy", "similarity", "bm25"])
def test_selection_set_or_per_query_never_eval_rows_and_deterministic(task_files, tmp_path, strategy):
    record, out = select(task_files, tmp_path, strategy, eval_limit=5)
    again, _ = select(task_files, tmp_path, strategy, name="again.json", eval_limit=5)
    assert record["cost"]["model_calls"] == 0 and record["cost"]["seconds"] >= 0  # the selection's own time
    timeless = [{k: v for k, v in r.items() if k != "cost"} for r in (record, again, read_json(out))]
    assert timeless[0] == timeless[1] == timeless[2]
    pool_ids = [json.loads(line)["id"] for line in open(task_files["pool"])]
    if strategy in ("similarity", "bm25"):
        assert record["per_query"] and "indices" not in record
        assert [q["id"] for q in record["queries"]] == [f"e{i}" for i in range(5)]  # eval_limit rows only
        lists = [q["indices"] for q in record["queries"]]
        assert len({tuple(sorted(q)) for q in lists}) > 1  # demonstrations differ between queries
    else:
        assert not record["per_query"] and "queries" not in record
        lists = [record["indices"]]
    for indices in lists:
        assert len(indices) == 4 and len(set(indices)) == 4
    ids = {pool_ids[i] for indices in lists for i in indices}
    assert all(i.startswith("p") for i in ids)
    assert record["n_distinct_demos"] == len({i for indices in lists for i in indices})


def test_random_demos_change_with_the_seed(task_files, tmp_path):
    picks = {tuple(select(task_files, tmp_path, "random", seed=s)[0]["indices"]) for s in range(4)}
    assert len(picks) > 1


def test_perplexity_high_takes_the_highest_scores(task_files, tmp_path):
    record, _ = select(task_files, tmp_path, "perplexity_high")
    ppl = pd.read_parquet(task_files["scores"]).perplexity.to_numpy()
    assert sorted(record["indices"]) == sorted(np.argsort(-ppl)[:4].tolist())


def test_similarity_per_query_is_the_nearest_pool_rows(task_files, tmp_path):
    record, _ = select(task_files, tmp_path, "similarity", k=3)
    pool, queries = np.load(task_files["embeddings"]), np.load(task_files["query_embeddings"])
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    sims = unit(queries) @ unit(pool).T
    for q, row in zip(record["queries"], sims):
        assert q["indices"] == np.argsort(-row)[:3].tolist()  # most similar first


def test_eval_row_in_pool_is_a_data_error(task_files, tmp_path):
    rows = [json.loads(line) for line in open(task_files["pool"])]
    leaked = json.loads(open(task_files["eval"]).readline())
    write_jsonl(task_files["pool"], [{**leaked, "id": "p-leak"}] * 1 + rows[1:])
    pool_ids = [json.loads(line)["id"] for line in open(task_files["pool"])]
    with pytest.raises(DataError, match="also occurs in the eval split"):
        icl_demos.select_demos(task_files, tmp_path / "d.json", strategy="random", k=len(pool_ids), seed=0, params={},
                         eval_limit=None)


def test_too_many_shots_names_the_key(task_files, tmp_path):
    with pytest.raises(ConfigError, match="icl.shots"):
        select(task_files, tmp_path, "random", k=31)


def test_pool_sample_draws_each_seeds_candidates_and_every_strategy_chooses_among_them(task_files, tmp_path):
    ppl = pd.read_parquet(task_files["scores"]).perplexity.to_numpy()
    pool, queries = np.load(task_files["embeddings"]), np.load(task_files["query_embeddings"])
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    sims = unit(queries) @ unit(pool).T
    picks = {}
    for seed in range(3):
        keep = icl_demos.candidate_rows(30, 10, seed)
        assert len(set(keep.tolist())) == 10 and list(keep) == sorted(keep)
        assert np.array_equal(keep, icl_demos.candidate_rows(30, 10, seed))  # the seed fixes the candidates
        runs = {s: icl_demos.select_demos(task_files, tmp_path / f"{s}{seed}.json", strategy=s, k=4, seed=seed,
                                          params={}, eval_limit=None, pool_sample=10)
                for s in ("random", "perplexity_high", "similarity")}
        assert all(r["candidates"] == 10 and r["pool_size"] == 30 for r in runs.values())
        # indices are positions in the whole pool, each run's picks are among its seed's candidates
        assert set(runs["random"]["indices"]) <= set(keep.tolist())
        assert sorted(runs["perplexity_high"]["indices"]) == sorted(keep[np.argsort(-ppl[keep])[:4]].tolist())
        for q, row in zip(runs["similarity"]["queries"], sims):
            assert q["indices"] == keep[np.argsort(-row[keep])[:4]].tolist()
        picks[seed] = runs["perplexity_high"]["indices"]
    assert len({tuple(sorted(p)) for p in picks.values()}) > 1  # a seed-blind strategy now varies over seeds
    assert np.array_equal(icl_demos.candidate_rows(30, None, 0), np.arange(30))
    assert np.array_equal(icl_demos.candidate_rows(30, 40, 0), np.arange(30))


def test_a_pool_sample_smaller_than_the_shots_names_the_key(task_files, tmp_path):
    with pytest.raises(ConfigError, match="icl.pool_sample"):
        icl_demos.select_demos(task_files, tmp_path / "d.json", strategy="random", k=4, seed=0, params={},
                               eval_limit=None, pool_sample=3)


def test_demos_per_row_and_stale_demos(task_files, tmp_path):
    pool = [json.loads(line) for line in open(task_files["pool"])]
    rows = [json.loads(line) for line in open(task_files["eval"])]
    record, _ = select(task_files, tmp_path, "bm25", k=2)
    demos = icl_demos.demos_per_row(record, pool, rows)
    assert [[d["id"] for d in ds] for ds in demos] == [q["ids"] for q in record["queries"]]
    with pytest.raises(DataError, match="do not match the pool"):
        icl_demos.demos_per_row(record, pool[1:], rows)
    with pytest.raises(DataError, match="no demonstrations for eval row 'x'"):
        icl_demos.demos_per_row(record, pool, [{"id": "x"}])


# ----------------------------------------------------------------------------- prompts


class PlainTokenizer:
    """No chat template: the qa style ('Q: ... A: ...')."""

    chat_template = None
    eos_token = "</s>"

    def __call__(self, text, add_special_tokens=False):
        return type("Enc", (), {"input_ids": text.split()})()


def row(family, i, **kw):
    base = {"id": f"r{i}", "input": f"question {i}", "target": str(i), "meta": {"rationale": f"because {i}"}}
    if family == "multichoice":
        base.update(choices=[f"opt{j}" for j in range(5)], target="C")
    if family == "classification":
        base.update(choices=["negative", "positive"], target="positive", meta={})
    return {**base, **kw}


def test_math_prompt_shows_rationale_and_final_answer():
    pc = prompts.prompt_config("math", {"style": "qa"})
    text = prompts.build_prompt(PlainTokenizer(), pc, row("math", 9), demos=[row("math", 1), row("math", 2, meta={})])
    assert text == "Q: question 1\nA: because 1\n#### 1\n\nQ: question 2\nA: #### 2\n\nQ: question 9\nA:"


def test_bbh_prompt_thinks_step_by_step_with_pool_demos():
    pc = prompts.prompt_config("bbh")
    demos = [row("bbh", 1, meta={}, target="True"), row("bbh", 2, target="(B)")]
    text = prompts.build_prompt(PlainTokenizer(), pc, row("bbh", 9), demos=demos)
    assert text.startswith("Q: question 1\nA: Let's think step by step. So the answer is True.\n\n")
    assert "Q: question 2\nA: Let's think step by step. because 2 So the answer is (B).\n\n" in text
    assert text.endswith("Q: question 9\nA: Let's think step by step.")


def test_classification_loglik_prompt_and_options():
    pc = prompts.prompt_config("classification", {"style": "qa"})
    demos = [options.loglik_demo(row("classification", 1, target="negative"), pc, "letter")]
    text = prompts.build_prompt(PlainTokenizer(), pc, row("classification", 9), demos=demos)
    assert text == ("Q: question 1\nAnswer with one of: negative, positive.\nA: negative\n\n"
                    "Q: question 9\nAnswer with one of: negative, positive.\nA:")
    assert options.answer_options(row("classification", 9), pc, "letter") == [("negative", "negative"),
                                                                          ("positive", "positive")]


def test_multichoice_loglik_demos_are_bare_letters_or_option_texts():
    pc = prompts.prompt_config("multichoice", {"style": "qa"})
    demo = row("multichoice", 1)
    text = prompts.build_prompt(PlainTokenizer(), pc, row("multichoice", 9), demos=[options.loglik_demo(demo, pc, "letter")])
    assert text.startswith("Q: question 1\nAnswer Choices: (A) opt0 (B) opt1 (C) opt2 (D) opt3 (E) opt4\nA: (C)\n\n")
    assert "because" not in text  # the rationale is not shown: the scored format is the bare answer
    assert [a for _, a in options.answer_options(demo, pc, "letter")] == ["(A)", "(B)", "(C)", "(D)", "(E)"]
    opc = options.loglik_prompt_config(pc, "option")
    text = prompts.build_prompt(PlainTokenizer(), opc, row("multichoice", 9), demos=[options.loglik_demo(demo, opc, "option")])
    assert "\nA: opt2\n\n" in text
    assert options.answer_options(demo, opc, "option")[2] == ("C", "opt2")


def test_instruction_prompt_and_fit_drops_the_last_demos():
    pc = prompts.prompt_config("instruction", {"style": "qa"})
    demos = [row("instruction", i) for i in range(3)]
    text, used = options.fit_prompt(PlainTokenizer(), pc, row("instruction", 9), demos, max_tokens=None)
    assert "A: because 0 So the answer is 0.\n\n" in text and len(used) == 3
    short, used = options.fit_prompt(PlainTokenizer(), pc, row("instruction", 9), demos, max_tokens=20)
    assert [d["id"] for d in used] == ["r0", "r1"][: len(used)] and len(used) < 3
    assert len(short.split()) <= 20


# ----------------------------------------------------------------------------- the real tiny model


@pytest.fixture(scope="module")
def tiny(model_dir):
    from algrid import models

    return models.load_model(model_dir), models.load_tokenizer(model_dir)


def test_choice_nll_equals_sequence_nll_and_prediction_is_a_choice(tiny):
    model, tok = tiny
    pc = prompts.prompt_config("classification")
    demos = [row("classification", 1, input="Wonderful.", target="positive"),
             row("classification", 2, input="Dull.", target="negative")]
    rows = [row("classification", 3, input="Brilliant."), row("classification", 4, input="Boring.", target="negative")]
    texts = [prompts.build_prompt(tok, pc, r, demos=demos) for r in rows]
    conts = [["negative", "positive", "neutral verdict"]] * 2
    fast = generation.choice_nll(model, tok, texts, conts)
    direct = generation.sequence_nll(model, tok, [c for cs in conts for c in cs],
                                     prefixes=[t for t in texts for _ in range(3)])
    for got, want in zip([v for vs in fast for v in vs], direct):
        assert got[1] == want[1] and got[0] == pytest.approx(want[0], rel=1e-3, abs=1e-3)
    records = predict.predict_loglik(model, tok, rows, [demos, demos], pc, metric="label")
    for rec, values in zip(records, fast):
        assert rec["pred"] in ("negative", "positive") and rec["demo_ids"] == ["r1", "r2"]
        means = [s / n for s, n in values[:2]]
        assert rec["pred"] == ["negative", "positive"][int(np.argmin(means))]
        assert rec["nll"][rec["pred"]] == pytest.approx(min(means), abs=1e-5)
        assert rec["correct"] == (rec["pred"] == rec["target"])


def test_multichoice_loglik_on_the_tiny_model(tiny):
    model, tok = tiny
    pc = prompts.prompt_config("multichoice")
    demos = [row("multichoice", 1, input="Where do fish live?", choices=["sky", "desk", "water"], target="C")]
    rows = [row("multichoice", 2, input="What do bees make?", choices=["honey", "steel", "glass"], target="A")]
    for mode in ("letter", "option"):
        rec = predict.predict_loglik(model, tok, rows, [demos], pc, metric="choice", choice_text=mode,
                                 loglik_norm="sum")[0]
        assert rec["pred"] in "ABC" and set(rec["nll"]) == {"A", "B", "C"}
        assert rec["nll"][rec["pred"]] == min(rec["nll"].values())


def test_generate_shared_equals_plain_generation(tiny):
    model, tok = tiny
    pc = prompts.prompt_config("math")
    demos = [row("math", i, input=f"What is {i} plus {i}?", target=str(2 * i), meta={}) for i in (1, 2)]
    texts = [prompts.build_prompt(tok, pc, row("math", 9, input=q), demos=demos)
             for q in ("What is 3 plus 4?", "What is ten minus two, in digits?")]
    assert generation.shared_prefix_length([tok(t, add_special_tokens=False).input_ids for t in texts]) >= 32
    fast = generation.generate_shared(model, tok, texts, max_new_tokens=4)
    assert fast == generation.generate(model, tok, texts, max_new_tokens=4)


def test_judge_parses_ratings_and_runs_on_two_examples(tiny):
    assert [judge.parse_rating(t) for t in ("8", "Rating: 10/10", "I'd say 7.", "0", "3.5 stars", "none")] == \
        [8, 10, 7, None, None, None]
    model, tok = tiny
    judged = judge.judge_rows(model, tok, ["What is 2+2?", "Capital of France?"], ["4", "Paris"], ["4", "Berlin"],
                              max_new_tokens=4)
    assert len(judged) == 2
    for j in judged:
        assert isinstance(j["output"], str) and (j["rating"] is None or 1 <= j["rating"] <= 10)


# ----------------------------------------------------------------------------- scoring, summary, final_metrics


def identity(strategy, seed):
    return {"family": "icl", "task": "sst2", "model": "m", "strategy": strategy, "shots": 8, "seed": seed,
            "eval_task": "sst2"}


def test_score_summary_and_final_metrics(tmp_path):
    files = []
    for strategy in ("random", "similarity"):
        for seed, n_ok in enumerate((3, 4, 2)):
            preds = tmp_path / f"{strategy}{seed}.jsonl"
            write_jsonl(preds, [{"id": f"e{i}", "target": "positive", "pred": "positive" if i < n_ok else "negative",
                                 "output": "x", "demo_ids": [f"p{i}"]} for i in range(5)])
            judged = tmp_path / f"{strategy}{seed}.judge.jsonl"
            write_jsonl(judged, [{"id": "e0", "rating": 6}, {"id": "e1", "rating": None}])
            out = tmp_path / f"{strategy}{seed}.json"
            result = score.score_file(preds, out, metric="label", identity=identity(strategy, seed),
                                    judgments_path=judged if strategy == "similarity" else None)
            files.append(out)
    assert result["accuracy"] == 0.4 and result["n_total"] == 5 and "macro_f1" in result
    assert result["shots"] == 8 and result["judge_score"] == 6 and result["judge_n_unparsed"] == 1
    assert result["n_distinct_demos"] == 5
    table = summary.summarize(files, tmp_path / "summary.csv")
    assert list(table.strategy) == ["random", "similarity"] and (table.n_seeds == 3).all()
    acc = [0.6, 0.8, 0.4]
    assert table.accuracy_mean[0] == pytest.approx(np.mean(acc))
    assert table.accuracy_ci_low[0] < np.mean(acc) < table.accuracy_ci_high[0]
    assert table.diff_vs_random[1] == pytest.approx(0) and table.p_vs_random[1] == 1.0
    assert (table.n_items == 5).all() and table.ci_method.str.contains("bootstrap").all()
    assert table.judge_score_mean[1] == 6 and np.isnan(table.judge_score_mean[0])
    assert table.macro_f1_mean.notna().all() and (table.n_total == 5).all()
    finetune = tmp_path / "ft.json"
    write_json(finetune, {"family": "finetune", "task": "sst2", "model": "m", "preset": "tiny", "strategy": "random",
                          "budget": 16, "rounds": 1, "seed": 0, "round": 1, "n_labels": 16, "eval_task": "sst2",
                          "metric": "label", "accuracy": 0.5, "n_correct": 1, "n_total": 2, "n_unparsed": 0,
                          "item_ids": ["a", "b"], "item_correct": [1, 0]})
    frame = aggregate([finetune, *files], tmp_path / "final.csv", tmp_path / "final.json", tmp_path / "s.csv")
    csv = pd.read_csv(tmp_path / "final.csv")
    assert "shots" in csv and csv[csv.family == "finetune"].shots.isna().all()
    assert (csv[csv.family == "icl"].shots == 8).all() and len(frame) == 7
    assert summary.summarize([], tmp_path / "empty.csv").empty
    for name in ("summary", "empty"):
        summary.plot_summary(tmp_path / f"{name}.csv", tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 5000


# ----------------------------------------------------------------------------- grid helpers



def _scored(tmp_path, name, records, *, metric, seed=0, ratings=None):
    preds = tmp_path / f"{name}.jsonl"
    write_jsonl(preds, records)
    judged = None
    if ratings is not None:
        judged = tmp_path / f"{name}.judge.jsonl"
        write_jsonl(judged, [{"id": r["id"], "rating": x} for r, x in zip(records, ratings)])
    out = tmp_path / f"{name}.json"
    score.score_file(preds, out, metric=metric, identity=identity("similarity", seed), judgments_path=judged)
    return out


LABELS = ["positive", "negative", "neutral"]


def _label_records(seed):
    rng = np.random.default_rng(seed)
    return [{"id": f"e{i}", "target": LABELS[i % 3],
             "pred": None if i % 11 == 5 else (LABELS[i % 3] if rng.random() < 0.6 else LABELS[(i + 1) % 3]),
             "output": "x"} for i in range(40)]


def test_macro_f1_interval_is_an_item_bootstrap_of_recomputed_macro_f1(tmp_path):
    from algrid import metrics, stats

    records = _label_records(0)
    table = summary.summarize([_scored(tmp_path, "one", records, metric="label")], tmp_path / "s.csv")
    row = table.iloc[0]
    direct = metrics.score(records, "label")["macro_f1"]
    assert row.macro_f1_mean == pytest.approx(direct)
    assert row.macro_f1_ci_low < direct < row.macro_f1_ci_high  # one seed: no longer [mean, mean]
    assert row.macro_f1_n_items == 40 and row.macro_f1_n_seeds == 1 and "bootstrap" in row.macro_f1_ci_method
    # direct: each item resample's records re-scored by metrics.score, with the bootstrap's own draws
    _, items = stats._resamples(1, 40, stats.RESAMPLES)
    boot = [metrics.score([r for r, k in zip(records, items[:, b]) for _ in range(int(k))], "label")["macro_f1"]
            for b in range(stats.RESAMPLES)]
    lo, hi = np.quantile(boot, [0.025, 0.975])
    assert (row.macro_f1_ci_low, row.macro_f1_ci_high) == pytest.approx((lo, hi), abs=1e-6)


def test_macro_f1_interval_over_seeds_and_items_matches_a_direct_computation(tmp_path):
    from algrid import metrics, stats

    runs = [_label_records(s) for s in range(3)]
    files = [_scored(tmp_path, f"s{s}", r, metric="label", seed=s) for s, r in enumerate(runs)]
    row = summary.summarize(files, tmp_path / "s.csv").iloc[0]
    per_seed = [metrics.score(r, "label")["macro_f1"] for r in runs]
    assert row.macro_f1_mean == pytest.approx(np.mean(per_seed)) and row.macro_f1_n_seeds == 3
    seeds, items = stats._resamples(3, 40, stats.RESAMPLES)
    boot = stats.macro_f1_resamples([[metrics.class_name(r["target"], "label") for r in run] for run in runs],
                                    [[metrics.class_name(r["pred"], "label") for r in run] for run in runs],
                                    unparsed=metrics.UNPARSED)
    for b in range(0, stats.RESAMPLES, 97):
        f1 = [metrics.score([r for r, k in zip(run, items[:, b]) for _ in range(int(k))], "label")["macro_f1"]
              for run in runs]
        assert boot[b] == pytest.approx(np.dot(seeds[b], f1) / 3, abs=1e-6)
    assert (row.macro_f1_ci_low, row.macro_f1_ci_high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    assert row.macro_f1_ci_low < row.macro_f1_mean < row.macro_f1_ci_high


def test_rouge_and_judge_intervals_bootstrap_items_with_one_seed(tmp_path):
    from rouge_score import rouge_scorer

    from algrid import stats

    words = "the cat sat on a mat while dogs ran far away".split()
    records = [{"id": f"t{i}", "target": " ".join(words[:6]), "pred": " ".join(words[i % 5:i % 5 + 1 + i % 7]),
                "output": " ".join(words[i % 5:i % 5 + 1 + i % 7])} for i in range(30)]
    ratings = [None if i % 9 == 4 else 1 + (i * 7) % 10 for i in range(30)]
    row = summary.summarize([_scored(tmp_path, "txt", records, metric="text", ratings=ratings)],
                            tmp_path / "s.csv").iloc[0]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    per_item = np.array([scorer.score(r["target"], r["output"])["rougeL"].fmeasure for r in records])
    assert per_item.std() > 0 and row.rouge_l_mean == pytest.approx(per_item.mean())
    assert row.rouge_l_ci_low < row.rouge_l_mean < row.rouge_l_ci_high
    boot = stats.bootstrap_means(per_item[None, :])
    assert (row.rouge_l_ci_low, row.rouge_l_ci_high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    assert row.rouge_l_n_items == 30 and row.rouge_l_n_seeds == 1
    parsed = np.array([np.nan if x is None else x for x in ratings])
    mean = np.nanmean(parsed)
    assert row.judge_score_mean == pytest.approx(mean)
    assert row.judge_score_ci_low < mean < row.judge_score_ci_high
    assert row.judge_score_n_items == 30 - sum(x is None for x in ratings)
    # direct: the mean of the parsed ratings among each resample's drawn items
    _, items = stats._resamples(1, 30, stats.RESAMPLES)
    ok = ~np.isnan(parsed)
    direct = [(items[ok, b] * parsed[ok]).sum() / items[ok, b].sum() for b in range(stats.RESAMPLES)]
    assert (row.judge_score_ci_low, row.judge_score_ci_high) == pytest.approx(
        tuple(np.quantile(direct, [0.025, 0.975])), rel=1e-5)


def test_results_summary_scores_icl_tasks_by_their_own_metric_as_the_icl_summary(tmp_path):
    """One metric per task, as for ads: results/summary.csv's row for an icl free-text task is ROUGE-L (not exact
    match), its mean and interval equal to results/icl_summary.csv's ``rouge_l`` (the same two-level bootstrap over
    seeds and items, seeds in the same order though paths sort seed10 before seed2); the difference with random is
    ROUGE-L's; a judge's rating stays in its own columns; a classification task stays accuracy, equal to the icl
    summary's; a stale free-text file without per-item ROUGE-L is refused, not scored by exact match."""
    words = "the cat sat on a mat while dogs ran far away".split()
    files = []
    for strategy, shift in (("random", 0), ("similarity", 2)):
        for seed in (2, 10):
            text = [{"id": f"t{i}", "target": " ".join(words[:6]),
                     "output": " ".join(words[(i + shift + seed) % 5:(i + shift + seed) % 5 + 1 + (i * seed) % 7])}
                    for i in range(20)]
            preds = tmp_path / f"text-{strategy}-seed{seed}.jsonl"
            write_jsonl(preds, [{**r, "pred": r["output"]} for r in text])
            judged = tmp_path / f"text-{strategy}-seed{seed}.judge.jsonl"
            write_jsonl(judged, [{"id": r["id"], "rating": 1 + (i * 3 + seed) % 10} for i, r in enumerate(text)])
            ident = {"family": "icl", "task": "flan", "model": "m", "strategy": strategy, "shots": 4, "seed": seed,
                     "eval_task": "flan"}
            files.append(tmp_path / f"text-{strategy}-seed{seed}.json")
            score.score_file(preds, files[-1], metric="text", identity=ident, judgments_path=judged)
            preds = tmp_path / f"label-{strategy}-seed{seed}.jsonl"
            write_jsonl(preds, _label_records(seed + len(strategy)))
            files.append(tmp_path / f"label-{strategy}-seed{seed}.json")
            score.score_file(preds, files[-1], metric="label", identity={**ident, "task": "sst2", "eval_task": "sst2"})
    files = sorted(files, key=str)  # as rules/common.smk's icl_metric_files: seed10 before seed2
    icl = summary.summarize(files, tmp_path / "icl_summary.csv").set_index(["task", "strategy"])
    out = [tmp_path / n for n in ("final.csv", "final.json", "summary.csv")]
    aggregate(files, *out)
    final, table = pd.read_csv(out[0]), pd.read_csv(out[2]).set_index(["task", "strategy"])
    assert set(table.loc["flan"].metric) == {"rouge_l"} and set(final[final.task == "flan"].metric) == {"rouge_l"}
    flan = final[final.task == "flan"]
    assert (flan.accuracy == flan.n_correct / flan.n_total).all() and (flan.accuracy < flan.rouge_l).all()
    assert flan.judge_score.between(1, 10).all()  # the judge's rating: its own column, not the task metric
    for strategy in ("random", "similarity"):
        mine, theirs = table.loc[("flan", strategy)], icl.loc[("flan", strategy)]
        assert 0 < theirs.rouge_l_ci_low < theirs.rouge_l_mean < theirs.rouge_l_ci_high
        assert (mine.accuracy_mean, mine.accuracy_ci_low, mine.accuracy_ci_high) == pytest.approx(
            (theirs.rouge_l_mean, theirs.rouge_l_ci_low, theirs.rouge_l_ci_high))
        assert (mine.n_seeds, mine.n_items) == (theirs.rouge_l_n_seeds, theirs.rouge_l_n_items) == (2, 20)
        sst2 = table.loc[("sst2", strategy)]
        assert sst2.metric == "label" and (sst2.accuracy_mean, sst2.accuracy_ci_low, sst2.accuracy_ci_high) == (
            pytest.approx((icl.loc[("sst2", strategy)].accuracy_mean, icl.loc[("sst2", strategy)].accuracy_ci_low,
                           icl.loc[("sst2", strategy)].accuracy_ci_high)))
    assert table.loc[("flan", "similarity")].diff_vs_random == pytest.approx(
        icl.loc[("flan", "similarity")].rouge_l_mean - icl.loc[("flan", "random")].rouge_l_mean)
    stale = next(f for f in files if f.name.startswith("text-"))
    write_json(stale, {**read_json(stale), "item_scores": {}})
    with pytest.raises(DataError, match="no per-item rouge_l"):
        aggregate(files, *out)


def test_icl_grid_helpers():
    common = load_common()
    config = full_config({"icl": {"tasks": ["sst2"], "models": ["smollm2-135m"], "strategies": ["random", "perplexity_high", "similarity"],
                                  "shots": [4, 8], "seeds": [0, 1], "judge": "smollm2-135m",
                                  "categories": {"math": ["addsub", "svamp"], "multichoice": ["aqua"]}}})
    files = common.icl_metric_files(config)
    assert len(files) == 3 * 2 * 2
    assert "results/icl/sst2/smollm2-135m/perplexity_high/k8/seed1/metrics.json" in files
    assert len(common.icl_metric_files(config, "math")) == 2 * 12
    everything = common.icl_tasks(config, "all_tasks")
    assert everything[:2] == ["sst2", "agnews"] and "addsub" in everything and len(everything) == len(set(everything))
    w = Wildcards(task="sst2", model="smollm2-135m", strategy="similarity", shots="8", seed="1")
    assert common.icl_select_inputs(w, config) == {
        "pool": "results/data/sst2/pool.jsonl", "eval": "results/data/sst2/eval.jsonl",
        "embeddings": "results/embeddings/sst2/minilm-l6.npy",
        "query_embeddings": "results/embeddings/sst2/minilm-l6.eval.npy"}
    w_ppl = Wildcards(w, strategy="perplexity_high")
    assert set(common.icl_select_inputs(w_ppl, config)) == {"pool", "eval", "scores"}
    assert common.icl_select_inputs(w_ppl, config)["scores"] == "results/scores/sst2/smollm2-135m/base.parquet"
    assert set(common.icl_select_inputs(Wildcards(w, strategy="random"), config)) == {"pool", "eval"}
    assert common.icl_identity(w) == {"family": "icl", "task": "sst2", "model": "smollm2-135m",
                                      "strategy": "similarity", "shots": 8, "seed": 1, "eval_task": "sst2"}
    assert common.icl_judge(w, config) is None  # sst2's answers are labels, not text
    flan = Wildcards(w, task="flan-cot-creak")
    assert common.icl_judge(flan, config) == "smollm2-135m"
    assert set(common.icl_score_inputs(flan, config)) == {"predictions", "judgments"}
    params = common.icl_predict_params(w, config)
    assert params["family"] == "classification" and params["predict_by"] == "loglik" and params["eval_limit"] is None


@pytest.mark.parametrize("change, key", [
    ({"tasks": ["nope"]}, "icl.tasks"),
    ({"models": ["gpt-9"]}, "icl.models"),
    ({"judge": "gpt-9"}, "icl.judge"),
    ({"strategies": ["psychic"]}, "strategies"),
    ({"embedder": "nope"}, "icl.embedder"),
    ({"categories": {"math": ["nope"]}}, "icl.categories.math"),
    ({"tasks": ["gsm-symbolic"], "shots": [500]}, "icl.shots"),
])
def test_check_icl_config_names_the_key(change, key):
    common = load_common()
    with pytest.raises(ConfigError, match=re.escape(f"'{key}")):
        common.check_icl_config(full_config({"icl": change}))


# ----------------------------------------------------------------------------- dry runs


def dry_run(tmp_path, target, *configfiles) -> dict[str, int]:
    require_data()
    (tmp_path / "config").symlink_to(REPO / "config")
    cmd = [str(Path(sys.executable).parent / "snakemake"), target, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
           "-n", "--quiet", "rules"]
    cmd += ["--configfile", *map(str, configfiles)]  # one option: a repeated --configfile keeps only the last
    env = {**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (proc.stdout + proc.stderr).split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def test_dry_run_classification_plans_the_icl_cpu_grid(tmp_path):
    jobs = dry_run(tmp_path, "classification", ICL_CPU)
    grid = yaml.safe_load(ICL_CPU.read_text())["icl"]
    runs = len(grid["categories"]["classification"]) * len(grid["strategies"]) * len(grid["seeds"])
    assert runs == 12  # sst2 x 4 strategies x 3 seeds
    assert jobs["icl_select"] == jobs["icl_predict"] == jobs["icl_score"] == runs
    # shared inputs once per task: base-model scores (perplexity_high), pool and eval embeddings (kmeans, similarity)
    assert jobs["score_pool_base"] == jobs["embed_pool"] == jobs["embed_split"] == 1
    assert jobs["prepare_dataset"] == 3  # fewshot, pool, eval: each split once
    assert jobs["icl_category_summary"] == 1 and "icl_judge" not in jobs and "train_adapter" not in jobs


def test_dry_run_all_tasks_with_a_judge(tmp_path):
    judged = tmp_path / "judged.yaml"
    judged.write_text(yaml.safe_dump({"icl": {"judge": "smollm2-135m",
                                              "categories": {"instruction": ["flan-cot-creak"]}}}))
    wd = tmp_path / "wd"
    wd.mkdir()
    jobs = dry_run(wd, "all_tasks", ICL_CPU, judged)
    tasks = full_config(yaml.safe_load(ICL_CPU.read_text()), yaml.safe_load(judged.read_text()))["icl"]["categories"]
    n_tasks = len({t for ts in tasks.values() for t in ts})
    assert jobs["icl_predict"] == n_tasks * 4 * 3 and jobs["prepare_dataset"] == 3 * n_tasks
    assert jobs["icl_judge"] == 4 * 3  # only the free-text task is judged
    assert jobs["icl_category_summary"] == 1 and jobs["prepare_model"] == 1


SEED_000_TASKS = {  # seed 000's (ActiveLLM) whole task list, by category
    "classification": ["sst2", "agnews", "boolq"],
    "multichoice": ["hellaswag", "arc-easy", "arc-challenge", "winogrande", "piqa", "siqa", "openbookqa"],
    "commonsense": ["commonsenseqa", "strategyqa"],
    "math": ["gsm8k", "aqua", "multiarith", "addsub", "singleeq", "svamp"],
    "instruction": ["dolly", "ultrachat", "self-instruct", "super-natural-instructions", "flan-cot-aqua",
                    "flan-cot-creak", "flan-cot-ecqa", "flan-cot-gsm8k", "flan-cot-qasc", "flan-cot-sensemaking",
                    "flan-cot-strategyqa"]}


def test_dry_run_paper_scale_activellm_grid(tmp_path):
    """Seed 000's whole list through the Hub (data_source hub): planning reads no data, so it plans offline."""
    config = REPO / "config" / "experiments" / "icl_activellm.yaml"
    jobs = dry_run(tmp_path, "all_tasks", config)
    loaded = yaml.safe_load(config.read_text())
    grid = loaded["icl"]
    assert loaded["data_source"] == "hub" and grid["categories"] == SEED_000_TASKS
    tasks = {t for ts in grid["categories"].values() for t in ts}
    assert set(grid["tasks"]) == tasks
    runs = len(tasks) * len(grid["models"]) * len(grid["strategies"]) * len(grid["seeds"])
    assert jobs["icl_predict"] == jobs["icl_select"] == runs == 29 * 2 * 4 * 3
    assert jobs["icl_judge"] == 11 * 2 * 4 * 3  # the free-text tasks: Dolly, UltraChat, Self-Instruct, SNI, Flan CoT
    assert jobs["prepare_model"] == 2 and jobs["score_pool_base"] == 29 * 2 and jobs["embed_split"] == 29
    assert jobs["prepare_dataset"] == 29 * 3 and "train_adapter" not in jobs


@pytest.mark.parametrize("target, key, task", [("multichoice", "icl.categories.multichoice", "hellaswag"),
                                               ("all_tasks", "icl.categories.classification", "boolq"),
                                               ("icl", "icl.tasks", "boolq")])
def test_hub_only_tasks_stop_a_local_plan_with_one_line(tmp_path, target, key, task):
    """The paper-scale grid with data_source local: a target that names a task on the Hub only stops while planning,
    with one line naming the task; a category of local tasks still plans."""
    require_data()
    local = tmp_path / "local.yaml"
    local.write_text(yaml.safe_dump({"data_source": "local", **({} if target == "icl" else {"icl": {"tasks": ["sst2"]}})}))
    (tmp_path / "config").symlink_to(REPO / "config")
    cmd = [str(Path(sys.executable).parent / "snakemake"), target, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
           "-n", "--quiet", "rules", "--configfile", str(REPO / "config" / "experiments" / "icl_activellm.yaml"),
           str(local)]
    env = {**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("algrid:")]
    assert lines == [f"algrid: config key '{key}': task '{task}' is on the Hugging Face Hub only (tasks.{task}.hf_splits, "
                     "no local files): it needs data_source: hub (data_source is local)"], proc.stderr[-2000:]
    if target == "multichoice":  # the same config's commonsense category (local files) plans
        (tmp_path / "wd").mkdir()
        jobs = dry_run(tmp_path / "wd", "commonsense", REPO / "config" / "experiments" / "icl_activellm.yaml", local)
        assert jobs["icl_predict"] == 2 * 2 * 4 * 3
