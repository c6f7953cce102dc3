import json
import pkgutil

import numpy as np
import pandas as pd
import pytest
from fake_model import FakeScorer
from rank_bm25 import BM25Okapi

import algrid.strategies as strategies
from algrid.errors import ConfigError
from algrid.strategies import Pool, get, names
from algrid.strategies.bm25 import bm25_weights, term_counts, tokenize

COLUMNS = ["entropy", "least_confidence", "margin", "max_entropy", "perplexity"]
WORDS = "apple river stone cloud paper green orbit salt music tiger lamp honey".split()
N, Q = 40, 4
SELECTED = [0, 3, 5, 7]


def make_pool(n=N, selected=SELECTED, seed=0, tied=False, dim=8) -> Pool:
    rng = np.random.default_rng(seed)
    embeddings = rng.standard_normal((n, dim)).astype(np.float32)
    scores = pd.DataFrame({c: rng.random(n) for c in COLUMNS})
    texts = [" ".join(rng.choice(WORDS, size=6)) for _ in range(n)]
    if tied:  # many equal scores, duplicated embeddings and texts
        scores = scores.round(1)
        half = n // 2
        embeddings[half:] = embeddings[:n - half]
        texts[half:] = texts[:n - half]
    features = rng.standard_normal((n, dim)).astype(np.float32)  # model features (badge, bald, rds, less)
    labels = [f"label:{c}" for c in rng.choice(["a", "b", "c"], size=n)]
    if tied:
        features[half:] = features[:n - half]
    return Pool(n=n, selected=np.array(selected, dtype=np.int64), scores=scores, embeddings=embeddings,
                texts=texts, query_texts=[" ".join(rng.choice(WORDS, size=3)) for _ in range(Q)],
                query_embeddings=rng.standard_normal((Q, dim)).astype(np.float32), features=features,
                query_features=rng.standard_normal((Q, dim)).astype(np.float32),
                query_groups=np.array([0, 0, 1, 1][:Q]), labels=labels, model=FakeScorer())


def check_picks(picks, k, pool):
    assert len(picks) == k
    assert len(set(picks)) == k
    assert all(isinstance(i, int) and 0 <= i < pool.n for i in picks)
    assert not set(picks) & set(pool.selected.tolist())


@pytest.mark.parametrize("name", names())
def test_picks_new_distinct_items_with_json_info(name):
    pool = make_pool()
    selection = get(name).select(6, pool, seed=1)
    check_picks(selection.indices, 6, pool)
    info = json.loads(json.dumps(selection.info, allow_nan=False))
    assert info["strategy"] == name and info["k"] == 6 and info["seed"] == 1


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("name", names())
def test_same_seed_same_picks(name, tied):
    runs = [get(name).select(9, make_pool(tied=tied), seed=3).indices for _ in range(2)]
    check_picks(runs[0], 9, make_pool())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", names())
def test_k_zero_and_every_unselected_item(name):
    pool = make_pool()
    assert get(name).select(0, pool, seed=0).indices == []
    everything = get(name).select(N - len(SELECTED), pool, seed=0).indices
    assert sorted(everything) == sorted(set(range(N)) - set(SELECTED))


@pytest.mark.parametrize("name", names())
def test_k_larger_than_unselected_pool_is_a_config_error(name):
    with pytest.raises(ConfigError, match=r"k=37 .*36 unselected"):
        get(name).select(37, make_pool(), seed=0)


@pytest.mark.parametrize("name", names())
def test_missing_input_is_named(name):
    strategy = get(name)
    for need in strategy.needs:
        fields = ["query_texts", "query_embeddings", "query_features"] if need == "queries" else [need]
        pool = make_pool()
        for field in fields:
            setattr(pool, field, None)
        with pytest.raises(ConfigError, match=r"needs pool\.\w+, which is missing"):
            strategy.select(3, pool, seed=0)


@pytest.mark.parametrize("name", names())
def test_unknown_parameter_is_a_config_error(name):
    with pytest.raises(ConfigError, match=f"strategies.{name}.colour"):
        get(name).select(3, make_pool(), seed=0, colour="blue")


@pytest.mark.parametrize("name", names())
def test_per_query(name):
    pool, strategy = make_pool(), get(name)
    if not strategy.per_query:
        with pytest.raises(ConfigError, match="per query"):
            strategy.select_per_query(3, pool, seed=0)
        return
    lists = strategy.select_per_query(5, pool, seed=0)
    assert len(lists) == Q
    for picks in lists:
        check_picks(picks, 5, pool)
    assert strategy.select_per_query(0, pool, seed=0) == [[]] * Q


def test_registry():
    expected = {"all", "random", "entropy", "least_confidence", "margin", "max_entropy", "perplexity_high",
                "perplexity_low", "kmeans", "kcenter", "facility_location", "similarity", "bm25", "hybrid"}
    assert expected <= set(names()) and names() == sorted(names())
    modules = {m.name for m in pkgutil.iter_modules(strategies.__path__) if not m.name.startswith("_")}
    assert {type(get(n)).__module__.rsplit(".", 1)[1] for n in names()} == modules
    with pytest.raises(ConfigError, match=r"unknown strategy 'nope'; known: all, .*bm25, .*entropy"):
        get("nope")


def test_random_depends_on_seed():
    pool = make_pool()
    assert get("random").select(10, pool, seed=0).indices != get("random").select(10, pool, seed=1).indices


@pytest.mark.parametrize("name, column, low_first", [
    ("entropy", "entropy", False), ("least_confidence", "least_confidence", False),
    ("max_entropy", "max_entropy", False), ("margin", "margin", True),
    ("perplexity_high", "perplexity", False), ("perplexity_low", "perplexity", True)])
def test_score_ranking_order(name, column, low_first):
    pool = make_pool()
    values = pool.scores[column].to_numpy()
    order = [int(i) for i in np.argsort(values if low_first else -values) if i not in SELECTED]
    selection = get(name).select(8, pool, seed=0)
    assert selection.indices == order[:8]
    assert selection.info["scores"] == [values[i] for i in order[:8]]


def test_perplexity_low_and_high_are_opposite_orders():
    pool = make_pool(selected=[])
    low = get("perplexity_low").select(N, pool, seed=0).indices
    assert get("perplexity_high").select(N, pool, seed=0).indices == low[::-1]


def test_score_ties_are_broken_by_seed_and_nan_ranks_last():
    pool = make_pool(selected=[])
    pool.scores["entropy"] = 1.0
    pool.scores.loc[[2, 11], "entropy"] = [np.nan, 2.0]
    orders = {tuple(get("entropy").select(N, pool, seed=s).indices) for s in range(5)}
    assert len(orders) > 1
    assert all(order[0] == 11 and order[-1] == 2 for order in orders)


def brute_force_kcenter(x, selected, k):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    centers, picks = list(selected), []
    for _ in range(k):
        nearest = np.array([min(1 - x[i] @ x[c] for c in centers) for i in range(len(x))])
        nearest[centers] = -np.inf
        picks.append(int(np.argmax(nearest)))
        centers.append(picks[-1])
    return picks


def test_kcenter_picks_the_farthest_point():
    angles = np.radians([0, 10, 90, 180, 200])
    pool = Pool(n=5, selected=np.array([0]), embeddings=np.stack([np.cos(angles), np.sin(angles)], 1))
    assert get("kcenter").select(2, pool, seed=0).indices == [3, 2]


@pytest.mark.parametrize("selected", [[], [4, 9, 100]])
def test_kcenter_equals_brute_force(selected):
    rng = np.random.default_rng(5)
    blobs = rng.standard_normal((6, 16))  # clustered, so lazy bounds go stale often
    x = (blobs[rng.integers(0, 6, 300)] + 0.3 * rng.standard_normal((300, 16))).astype(np.float32)
    pool = Pool(n=300, selected=np.array(selected, dtype=np.int64), embeddings=x)
    selection = get("kcenter").select(40, pool, seed=0, start="mean")
    first = [] if selected else selection.indices[:1]
    assert selection.indices == first + brute_force_kcenter(x, selected + first, 40 - len(first))


def brute_force_facility_location(x, selected, k):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = 1 + x @ x.T

    def f(chosen):
        return sim[:, chosen].max(axis=1).sum() if chosen else 0.0

    chosen, picks = list(selected), []
    for _ in range(k):
        gains = [f(chosen + [j]) - f(chosen) if j not in chosen else -np.inf for j in range(len(x))]
        picks.append(int(np.argmax(gains)))
        chosen.append(picks[-1])
    return picks


@pytest.mark.parametrize("selected", [[], [1, 2, 30]])
def test_facility_location_equals_brute_force(selected):
    pool = make_pool(selected=selected, dim=6)
    selection = get("facility_location").select(10, pool, seed=0)
    assert selection.info["exact"] is True
    assert selection.indices == brute_force_facility_location(pool.embeddings, selected, 10)


def test_facility_location_large_pool_approximation():
    pool = make_pool(n=90)
    selection = get("facility_location").select(12, pool, seed=0, exact_max_n=32)
    check_picks(selection.indices, 12, pool)
    assert selection.info["exact"] is False and selection.info["parts"] == 3


@pytest.mark.parametrize("minibatch_above", [20000, 0])
def test_kmeans_picks_one_item_per_cluster(minibatch_above):
    rng = np.random.default_rng(0)
    centers = np.eye(3, 5) * 10
    x = np.repeat(centers, 10, axis=0) + rng.standard_normal((30, 5))
    pool = Pool(n=30, selected=np.array([], dtype=np.int64), embeddings=x)
    picks = get("kmeans").select(3, pool, seed=0, minibatch_above=minibatch_above)
    assert sorted(i // 10 for i in picks.indices) == [0, 1, 2]


def test_similarity_nearest_items_first():
    pool = make_pool()
    pool.query_embeddings = pool.embeddings[[10, 20, 30, 3]] * 2  # item 3 is already selected
    lists = get("similarity").select_per_query(2, pool, seed=0)
    assert [picks[0] for picks in lists[:3]] == [10, 20, 30]
    sims = [pool.embeddings[i] @ pool.embeddings[3] / np.linalg.norm(pool.embeddings[i]) for i in range(N)]
    assert lists[3][0] == max(set(range(N)) - set(SELECTED), key=lambda i: sims[i])
    selection = get("similarity").select(6, pool, seed=0)
    assert selection.indices[:4] == [10, 20, 30, lists[3][0]]
    assert selection.info["queries"] == [0, 1, 2, 3, 0, 1]


def test_round_robin_skips_items_another_query_took():
    pool = make_pool(selected=[])
    pool.query_embeddings = pool.embeddings[[10, 10]]
    lists = get("similarity").select_per_query(2, pool, seed=0)
    assert get("similarity").select(2, pool, seed=0).indices == lists[0][:2]


def test_bm25_ranks_the_document_sharing_the_query_words_first():
    texts = ["apple river", "stone cloud paper", "Quantum physics, and quantum fields.", "green orbit"]
    pool = Pool(n=12, selected=np.array([2]), texts=texts * 3,
                query_texts=["what is quantum physics?", "a paper"])
    lists = get("bm25").select_per_query(3, pool, seed=0)
    assert sorted(lists[0][:2]) == [6, 10] and sorted(lists[1]) == [1, 5, 9]


def test_bm25_scores_equal_rank_bm25():
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(WORDS, size=rng.integers(1, 9))) for _ in range(30)] + [""]
    queries = ["apple apple tiger", "unknown words", "salt"]
    weights, vocab = bm25_weights([tokenize(d) for d in docs], k1=1.2, b=0.7, epsilon=0.25)
    ours = (term_counts(queries, vocab) @ weights.T).toarray()
    model = BM25Okapi([tokenize(d) for d in docs], k1=1.2, b=0.7, epsilon=0.25)
    reference = np.array([model.get_scores(tokenize(q)) for q in queries])
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("score, low_first", [("entropy", False), ("margin", True)])
@pytest.mark.parametrize("diversity", ["kcenter", "kmeans"])
def test_hybrid_picks_only_from_the_uncertain_part(score, low_first, diversity):
    pool = make_pool(n=60, selected=[])
    values = pool.scores[score].to_numpy()
    uncertain = set(np.argsort(values if low_first else -values)[:15].tolist())
    selection = get("hybrid").select(8, pool, seed=0, filter_fraction=0.25, score=score, diversity=diversity)
    assert set(selection.indices) <= uncertain
    assert selection.info["kept"] == 15


def test_hybrid_keeps_at_least_k_items():
    pool = make_pool()
    assert len(get("hybrid").select(20, pool, seed=0, filter_fraction=0.1).indices) == 20


@pytest.mark.parametrize("params", [{"filter_fraction": 0}, {"filter_fraction": 1.5},
                                    {"filter_fraction": "half"}, {"score": "loss"}, {"diversity": "random"}])
def test_hybrid_rejects_bad_parameters(params):
    key = next(iter(params))
    with pytest.raises(ConfigError, match=f"strategies.hybrid.{key}"):
        get("hybrid").select(0, make_pool(), seed=0, **params)


def test_balanced_random_evens_out_the_cumulative_selection():
    labels = ["label:a"] * 20 + ["label:b"] * 6 + ["label:c"] * 2
    pool = Pool(n=len(labels), selected=np.array([0, 1, 2, 20]), labels=labels)  # a: 3, b: 1 before
    selection = get("balanced_random").select(7, pool, seed=0)
    check_picks(selection.indices, 7, pool)
    picked = [labels[i] for i in selection.indices]
    # c has 2 items only: both; b catches up with a (3 before); then they alternate
    assert picked.count("label:c") == 2 and picked.count("label:b") in (3, 4) and picked.count("label:a") in (1, 2)
    assert selection.info["stratum_counts"] == {s: picked.count(s) for s in sorted(set(picked))}
    assert get("balanced_random").select(7, pool, seed=1).indices != selection.indices


def test_answer_strata_labels_else_answer_kinds():
    from algrid.strategies._common import answer_strata

    classification = [{"target": t, "choices": ["pos", "neg"]} for t in ("pos", "neg", "pos")]
    assert answer_strata(classification) == ["label:pos", "label:neg", "label:pos"]
    bbh = [{"target": t} for t in ("True", "False") * 3]
    assert answer_strata(bbh)[:2] == ["label:True", "label:False"]
    math = [{"target": str(n)} for n in range(40)]
    assert set(answer_strata(math)) == {"kind:number"}
    mixed = [{"target": t} for t in ("12", "yes", "(B)", "a long free-text answer")]
    assert answer_strata(mixed) == ["kind:number", "kind:yes/no", "kind:option", "kind:text"]
