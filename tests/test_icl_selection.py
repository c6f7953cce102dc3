"""Demonstration selection: topk, dpp, votek, mdl, set_search against reference implementations, and on SmolLM2.

References. OpenICL 0.1.8 (setup.sh installs it with --no-deps; its inferencers import ``openai``, stubbed here,
and its retrievers are driven without their sentence-transformers encoder: ``forward`` returns our embeddings
and the faiss index is built as ``create_index`` builds it) for TopK, DPP, MDL and VoteK's vote graph. Vote-k's
two stages are not in OpenICL (its VotekRetriever stops at an undiscounted vote): the reference is written
below from Su et al. 2022, Algorithm 1, in exact arithmetic. dppy has no MAP inference (only exact and MCMC
samplers), so it does not apply: the DPP MAP is checked against the greedy definition (argmax of log det)
computed by brute force. DSPy is not installed: set_search is checked against its own definition.

Where algrid differs on purpose (each strategy's docstring says why): cosine similarity where OpenICL takes
the inner product of its (unit) embeddings, so the parity inputs are unit embeddings; DPP never repeats an
item once the kernel's rank is spent (OpenICL's fast_map_dpp can); MDL scores the NLL of the answer tokens
(OpenICL: of the query's text and answer), which the parity test passes to both as the same model losses;
vote-k excludes an item from its own neighbours and breaks ties by votes then pool index.
"""

import json
import math
import sys
import types
from fractions import Fraction

import numpy as np
import pytest

from algrid.data import load_split
from algrid.errors import DataError
from algrid.icl import demos as icl_demos
from algrid.icl import predict
from algrid.icl.scorer import ModelScorer
from algrid.io import read_json, read_jsonl, write_jsonl
from algrid.strategies import Pool, get
from algrid.strategies.dpp import dpp_kernel, greedy_map
from algrid.strategies.votek import vote_graph
from algrid.tasks import earlier_splits, prepare_split
from fake_model import FakeScorer, losses

N, DIM, Q = 60, 16, 5


def unit_rows(rng, n, dim=DIM):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def inputs():
    rng = np.random.default_rng(7)
    return unit_rows(rng, N), unit_rows(rng, Q)


def pool_of(embeddings, queries, model=None):
    return Pool(n=len(embeddings), selected=np.zeros(0, dtype=np.int64), embeddings=embeddings,
                query_embeddings=queries, model=model)


@pytest.fixture(scope="module")
def openicl():
    if "openai" not in sys.modules:
        try:
            import openai  # noqa: F401
        except ImportError:  # only OpenICL's API inferencers use it
            sys.modules["openai"] = types.ModuleType("openai")
    return pytest.importorskip("openicl", reason="OpenICL 0.1.8: ./setup.sh installs it (--no-deps)")


def retriever(cls, embeddings, queries, **attrs):
    """An OpenICL retriever on our embeddings: its index as create_index builds it, forward returning queries."""
    import faiss

    index = faiss.IndexIDMap(faiss.IndexFlatIP(embeddings.shape[1]))
    index.add_with_ids(embeddings, np.arange(len(embeddings)))
    r = object.__new__(cls)
    r.__dict__.update(index=index, embed_list=embeddings, dataloader=None, is_main_process=True,
                      index_ds=list(range(len(embeddings))), **attrs)
    r.forward = lambda *a, **kw: [{"embed": e, "metadata": {"id": i}} for i, e in enumerate(queries)]
    return r


# ----------------------------------------------------------------------------- TopK


def test_topk_picks_openicl_topk(openicl, inputs):
    from openicl.icl_retriever.icl_topk_retriever import TopkRetriever

    embeddings, queries = inputs
    theirs = retriever(TopkRetriever, embeddings, queries, ice_num=6).retrieve()
    assert get("topk").select_per_query(6, pool_of(embeddings, queries), seed=0) == theirs
    assert get("similarity").select_per_query(6, pool_of(embeddings, queries), seed=0) == theirs


def test_topk_mmr_trades_relevance_for_diversity(inputs):
    embeddings, queries = inputs
    # a near-duplicate of each query's best item: plain TopK takes both, MMR with diversity skips the copy
    best = int(np.argmax(embeddings @ queries[0]))
    twin = embeddings[best] + 1e-3 * np.ones(DIM, dtype=np.float32)
    x = np.vstack([embeddings, twin / np.linalg.norm(twin)]).astype(np.float32)
    plain = get("topk").select_per_query(3, pool_of(x, queries[:1]), seed=0)[0]
    diverse = get("topk").select_per_query(3, pool_of(x, queries[:1]), seed=0, diversity=0.5)[0]
    assert {best, N} <= set(plain[:2]) and diverse[0] in (best, N) and len({best, N} & set(diverse)) == 1
    # diversity 1: after the first pick, the least similar to what is picked
    far = get("topk").select_per_query(2, pool_of(x, queries[:1]), seed=0, diversity=1.0)[0]
    assert far[1] == int(np.argmin(x @ x[far[0]] + np.where(np.arange(len(x)) == far[0], np.inf, 0)))


# ----------------------------------------------------------------------------- DPP


@pytest.mark.parametrize("candidates, scale", [(10, 0.1), (20, 1.0)])
def test_dpp_picks_openicl_dpp(openicl, inputs, candidates, scale, monkeypatch):
    from openicl.icl_retriever import icl_dpp_retriever
    from openicl.icl_retriever.icl_dpp_retriever import DPPRetriever

    # OpenICL 0.1.8's dpp_search indexes fast_map_dpp's list with an array (a TypeError): give it the array
    greedy = icl_dpp_retriever.fast_map_dpp
    monkeypatch.setattr(icl_dpp_retriever, "fast_map_dpp", lambda kernel, k: np.array(greedy(kernel, k)))
    embeddings, queries = inputs
    theirs = retriever(DPPRetriever, embeddings, queries, ice_num=5, candidate_num=candidates, seed=1,
                       scale_factor=scale).retrieve()
    ours = get("dpp").select_per_query(5, pool_of(embeddings, queries), seed=0, candidates=candidates,
                                       scale_factor=scale)
    assert ours == theirs


def test_greedy_map_is_the_greedy_log_det_and_openicls(openicl, inputs):
    from openicl.icl_retriever.icl_dpp_retriever import fast_map_dpp

    embeddings, queries = inputs
    _, kernel = dpp_kernel(queries[0], embeddings[:15], 0.5)
    picks = []
    for _ in range(6):  # the definition: each step the item of largest log det of the kernel on the picks
        gains = [-np.inf if i in picks else np.linalg.slogdet(kernel[np.ix_(picks + [i], picks + [i])])[1]
                 for i in range(len(kernel))]
        picks.append(int(np.argmax(gains)))
    assert greedy_map(kernel, 6) == picks == fast_map_dpp(kernel, 6)
    # past the kernel's rank (3 here) every gain is ~0: algrid fills up by relevance, never repeating an item
    low = embeddings[:8, :3] / np.linalg.norm(embeddings[:8, :3], axis=1, keepdims=True)
    ours = greedy_map(low @ low.T, 6)
    assert len(set(ours)) == 6 and ours[:3] == greedy_map(low @ low.T, 3)


# ----------------------------------------------------------------------------- MDL


@pytest.mark.parametrize("candidates, select_time", [(10, 5), (8, 3)])
def test_mdl_picks_openicl_mdl(openicl, inputs, candidates, select_time):
    """OpenICL's MDLRetriever.topk_search with its model calls (cal_ce) and prompt text replaced by the fake
    model's losses, which algrid's mdl gets through Scorer.option_nll: the same candidate sets, the same pick."""
    from openicl.icl_retriever.icl_mdl_retriever import MDLRetriever

    embeddings, queries = inputs
    n_options = 3
    r = retriever(MDLRetriever, embeddings, queries, ice_num=4, candidate_num=candidates, select_time=select_time,
                  seed=3, labels=list(range(n_options)), ice_template=None, prompt_template=None, ice_eos_token="")
    r.tokenizer = lambda text, verbose=False: {"input_ids": [0]}
    r.generate_ice = lambda idx, ice_template=None: json.dumps([int(i) for i in idx])
    r.generate_label_prompt = lambda idx, ice, label, *a: json.dumps([idx, json.loads(ice), label])
    r.cal_ce = lambda prompts, mask_length=None: np.array(
        [losses(q, ice, n_options)[label] for q, ice, label in map(json.loads, prompts)])
    theirs = r.retrieve()
    model = FakeScorer(n_options=n_options)
    ours = get("mdl").select_per_query(4, pool_of(embeddings, queries, model), seed=3, candidates=candidates,
                                       select_time=select_time)
    assert ours == theirs
    assert model.calls == Q * select_time  # one prompt per query and candidate set


# ----------------------------------------------------------------------------- vote-k


def votek_reference(x, k, neighbours, rho, first_fraction, confidence):
    """Su et al. 2022, Algorithm 1, in exact arithmetic: each item votes for its ``neighbours`` nearest others
    (cosine, ties to the lower index); stage 1 takes round(k * first_fraction) items by the discounted score;
    stage 2 orders the rest by the model's confidence (with the stage-1 picks shown), most confident first,
    splits it into the k - |L| buckets of numpy.array_split and takes each bucket's best score. Score ties:
    more votes, then the lower index."""
    n = len(x)
    sim = x.astype(np.float64) @ x.T.astype(np.float64)
    out = {i: sorted((j for j in range(n) if j != i), key=lambda j: (-sim[i, j], j))[:neighbours] for i in range(n)}
    voters = {u: [v for v in range(n) if u in out[v]] for u in range(n)}
    picked = []

    def score(u):
        return sum(Fraction(1, int(rho) ** sum(1 for p in picked if p in out[v])) for v in voters[u]
                   if v not in picked)

    def best(among):
        return min(among, key=lambda u: (-score(u), -len(voters[u]), u))

    for _ in range(min(k, max(1, round(k * first_fraction)))):
        picked.append(best([u for u in range(n) if u not in picked]))
    rest = [u for u in range(n) if u not in picked]
    if len(picked) == k:
        return picked
    conf = confidence(rest, list(picked))
    order = [rest[i] for i in np.argsort(-np.asarray(conf), kind="stable")]
    for bucket in np.array_split(np.array(order), k - len(picked)):
        picked.append(best([int(u) for u in bucket]))
    return picked


@pytest.mark.parametrize("k, neighbours, first_fraction", [(6, 5, 0.1), (8, 3, 0.5), (4, 10, 1.0)])
def test_votek_equals_the_papers_algorithm(inputs, k, neighbours, first_fraction):
    embeddings, _ = inputs
    x = embeddings[:40]
    model = FakeScorer()
    selection = get("votek").select(k, pool_of(x, None, model), seed=0, neighbours=neighbours,
                                    first_fraction=first_fraction)
    expected = votek_reference(x, k, neighbours, 10, first_fraction, FakeScorer().confidence)
    assert selection.indices == expected
    first = min(k, max(1, round(k * first_fraction)))
    assert selection.info["first_stage"] == first
    assert selection.info["cost"]["model_calls"] == (len(x) - first if first < k else 0)


def test_votek_graph_is_openicls(openicl, inputs, tmp_path):
    from openicl.icl_retriever.icl_votek_retriever import VotekRetriever

    embeddings, _ = inputs
    vote_file = tmp_path / "votes.json"
    VotekRetriever.votek_select(None, embeddings=embeddings, select_num=1, k=5, overlap_threshold=1,
                                vote_file=str(vote_file))
    theirs = {int(u): sorted(v) for u, v in json.loads(vote_file.read_text()).items()}
    ours = {u: sorted(v.tolist()) for u, v in enumerate(vote_graph(embeddings, 5)) if len(v)}
    assert ours == theirs


# ----------------------------------------------------------------------------- set_search


def test_set_search_uses_the_best_candidate_on_dev_rows():
    rng = np.random.default_rng(0)
    model = FakeScorer(n_dev=12)
    pool = pool_of(unit_rows(rng, 30), None, model)
    selection = get("set_search").select(4, pool, seed=5, n_random=3, n_bootstrap=2, dev_size=8)
    info = selection.info
    assert info["candidates"] == ["random"] * 3 + ["bootstrap"] * 2 and info["dev_split"] == "dev"
    assert info["n_dev"] == 8
    check = FakeScorer(n_dev=12)
    assert info["dev_scores"][info["best"]] == max(info["dev_scores"])
    assert info["dev_scores"][info["best"]] == np.mean(check.correct("dev", list(range(8)), selection.indices))
    assert info["cost"]["model_calls"] == model.calls > 5 * 8  # dev scoring plus bootstrapping


def test_set_search_holds_out_pool_rows_without_a_dev_split():
    rng = np.random.default_rng(0)
    pool = pool_of(unit_rows(rng, 30), None, FakeScorer(n_dev=0))
    selection = get("set_search").select(4, pool, seed=5, dev_size=6)
    assert selection.info["dev_split"] == "pool" and selection.info["n_dev"] == 6
    again = get("set_search").select(4, pool_of(pool.embeddings, None, FakeScorer(n_dev=0)), seed=5, dev_size=6)
    assert again.indices == selection.indices


def test_dev_rows_never_overlap_eval_rows(tmp_path):
    """The split rules: dev comes after eval and drops every row whose input is an eval row's; the selection
    refuses a dev file that still shares a row with the eval split."""
    assert "eval" in earlier_splits("dev")
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, [{"input": f"question {i}", "target": str(i)} for i in range(12)])
    spec = {"family": "math", "path": str(source), "sample": "first"}
    eval_path, dev_path = tmp_path / "eval.jsonl", tmp_path / "dev.jsonl"
    evals = prepare_split({**spec, "limit": 5}, eval_path, key="eval", data_root=tmp_path)
    dev = prepare_split(spec, dev_path, key="dev", data_root=tmp_path, exclude=[eval_path])
    assert len(dev) == 7 and not {r["input"] for r in dev} & {r["input"] for r in evals}
    assert icl_demos.dev_rows({"dev": str(dev_path), "eval": str(eval_path)}, evals) == dev
    write_jsonl(dev_path, dev + [evals[2]])
    with pytest.raises(DataError, match="dev row .* also occurs in the eval split"):
        icl_demos.dev_rows({"dev": str(dev_path), "eval": str(eval_path)}, evals)


# ----------------------------------------------------------------------------- on SmolLM2


PREDICT = {"predict_by": "loglik", "loglik_norm": "mean", "choice_text": "letter", "max_new_tokens": 8,
           "batch_size": 8, "cache_prefix": True, "model": {}}


@pytest.fixture(scope="module")
def sst2(data_root, tmp_path_factory):
    """12 SST-2 pool rows, 3 eval rows and 4 dev rows (from ../shared/data), with random unit embeddings."""
    out = tmp_path_factory.mktemp("sst2")
    spec = {"family": "classification", "path": "{data_root}/sst2/train.tsv", "fields": {"input": "sentence",
            "target": "label"}, "labels": {0: "negative", 1: "positive"}, "sample": "first"}
    rows = load_split({**spec, "limit": 19}, key="sst2", data_root=data_root)
    files = {name: out / f"{name}.jsonl" for name in ("pool", "eval", "dev")}
    for name, part in (("pool", rows[:12]), ("eval", rows[12:15]), ("dev", rows[15:])):
        write_jsonl(files[name], part)
    rng = np.random.default_rng(0)
    np.save(out / "emb.npy", unit_rows(rng, 12, 8))
    np.save(out / "emb.eval.npy", unit_rows(rng, 3, 8))
    return {**{k: str(v) for k, v in files.items()}, "embeddings": str(out / "emb.npy"),
            "query_embeddings": str(out / "emb.eval.npy")}


def run_select(sst2, model_dir, tmp_path, strategy, k=2, params=None, predict_by="loglik"):
    files = {**sst2, "model": str(model_dir)}
    settings = {**PREDICT, "family": "classification", "metric": "label", "prompt": {}, "predict_by": predict_by}
    out = tmp_path / f"{strategy}.json"
    record = icl_demos.select_demos(files, out, strategy=strategy, k=k, seed=0, params=params or {},
                                    eval_limit=None, predict=settings)
    assert record == read_json(out)
    return record


def test_mdl_on_smollm2_scores_the_loglik_predictions_answers(sst2, model_dir, tmp_path):
    record = run_select(sst2, model_dir, tmp_path, "mdl", params={"candidates": 4, "select_time": 2})
    assert record["per_query"] and len(record["queries"]) == 3
    assert record["params"] == {"candidates": 4, "select_time": 2}
    assert record["cost"]["model_calls"] == 3 * 2 and record["cost"]["seconds"] > 0
    # Scorer.option_nll is what the loglik prediction compares, with the same demonstrations shown
    from algrid import models

    lm, tok = models.load_model(model_dir), models.load_tokenizer(model_dir)
    pool, rows = read_jsonl(sst2["pool"]), read_jsonl(sst2["eval"])
    scorer = ModelScorer(lm, tok, pool_rows=pool, queries=rows, dev_rows=[], family="classification",
                         metric="label", prompt={}, **{k: v for k, v in PREDICT.items() if k != "model"})
    demos = record["queries"][0]["indices"]
    nll = scorer.option_nll(0, [demos])[0]
    pc = predict.prompts.prompt_config("classification", {})
    expected = predict.predict_loglik(lm, tok, rows[:1], [[pool[i] for i in demos]], pc, metric="label")[0]["nll"]
    assert nll == pytest.approx([expected[c] for c in rows[0]["choices"]], abs=1e-5)


def test_votek_on_smollm2(sst2, model_dir, tmp_path):
    record = run_select(sst2, model_dir, tmp_path, "votek", k=3, params={"neighbours": 3})
    assert not record["per_query"] and len(set(record["indices"])) == 3
    info = record["info"]
    assert info["first_stage"] == 1 and info["n_confidence"] == 11
    assert record["cost"]["model_calls"] == info["cost"]["model_calls"] == 11
    assert all(c is None or c <= 0 for c in info["confidence"])  # mean log-probabilities


def test_set_search_on_smollm2_scores_sets_on_the_dev_split(sst2, model_dir, tmp_path):
    params = {"n_random": 2, "n_bootstrap": 1, "dev_size": 4, "bootstrap_tries": 4}
    record = run_select(sst2, model_dir, tmp_path, "set_search", params=params)
    info = record["info"]
    assert info["dev_split"] == "dev" and info["n_dev"] == 4 and len(info["dev_scores"]) == 3
    assert all(s in (0, 0.25, 0.5, 0.75, 1) for s in info["dev_scores"])
    assert info["dev_scores"][info["best"]] == max(info["dev_scores"])
    assert record["cost"]["model_calls"] == info["cost"]["model_calls"] >= 3 * 4 + 2  # dev rows, then bootstrap
    assert not {read_jsonl(sst2["pool"])[i]["id"] for i in record["indices"]} & {
        r["id"] for r in read_jsonl(sst2["eval"]) + read_jsonl(sst2["dev"])}


def test_votek_confidence_of_generated_answers_on_smollm2(sst2, model_dir, tmp_path):
    record = run_select(sst2, model_dir, tmp_path, "votek", k=2, params={"neighbours": 3}, predict_by="generate")
    assert record["cost"]["model_calls"] == 2 * 11  # the answer, then its log-likelihood
    assert all(math.isfinite(c) for c in record["info"]["confidence"] if c is not None)
