"""ads: retrieval (bm25s against rank-bm25 on real StrategyQA facts), the corpus, the call cache and the ledger,
the optimizer's proposals (invalid JSON, unknown APIs, repairs)."""

import json

import numpy as np
import pytest

from algrid.ads import apis, cache, propose
from algrid.ads.corpus import build_corpus
from algrid.errors import DataError
from conftest import require_data


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    root = require_data()
    out = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    return build_corpus({"path": "{data_root}/strategyqa/train.json", "text": ["facts"], "limit": 3000}, out,
                        data_root=root)


def test_bm25s_scores_and_rankings_equal_rank_bm25(facts):
    from rank_bm25 import BM25Plus

    index = apis.Bm25Index(facts)
    reference = BM25Plus(index.tokens)  # the same tokens; rank-bm25's defaults k1 1.5, b 0.75, delta 1
    queries = ["Genghis Khan children", "Julius Caesar", "Is the Eiffel Tower taller than Big Ben?",
               "photosynthesis plants oxygen", "Mongol Empire descendants DNA"]
    for query in queries:
        q = apis.tokenize(query)
        ours, theirs = index.scores(q), reference.get_scores(q)
        assert np.count_nonzero(np.abs(ours - theirs) > 1e-4) == 0
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
        top = [h["id"] for h in index.search(query, 10)]  # hits: documents sharing a word with the query
        words = set(q)
        ranked = sorted(range(len(facts)), key=lambda i: (-round(float(theirs[i]), 4), i))
        order = [facts[i]["id"] for i in ranked if index.token_sets[i] & words][:10]
        assert top == order and top, query
    assert len(facts) == 3000


def test_retrieval_finds_the_fact_and_reports_no_hits(facts):
    index = apis.Bm25Index(facts)
    hits = index.search("How many children did Genghis Khan have?", 3)
    assert hits and "Genghis Khan" in hits[0]["text"]
    assert index.search("zzzqqq xylophonist-unknownword", 3) == []
    assert index.search("the of and", 3) == []  # stopwords only: no query words


def test_empty_corpus_is_one_clear_error(tmp_path):
    empty = tmp_path / "records.json"
    empty.write_text(json.dumps([{"question": "q", "facts": []}]))
    with pytest.raises(DataError, match="the corpus is empty"):
        build_corpus({"path": str(empty), "text": ["facts"]}, tmp_path / "c.jsonl", data_root=".")
    with pytest.raises(DataError, match="the corpus is empty"):
        apis.Bm25Index([])
    with pytest.raises(DataError, match="corpus file not found"):
        build_corpus({"path": str(tmp_path / "missing.json"), "text": ["facts"]}, tmp_path / "c.jsonl", data_root=".")


def test_no_hits_is_counted_in_the_ledger(facts):
    ledger = cache.Ledger({"per_call": {"retrieval": 0.5}, "per_1k_tokens_in": 1.0, "per_1k_tokens_out": 2.0})
    api = apis.ApiSet(index=apis.Bm25Index(facts[:200]), lm=None, ledger=ledger, top_k=2,
                      max_new_tokens={"demonstrations": 8, "qa": 8})
    miss = api.call("retrieval", "qqqzzz")
    hit = api.call("retrieval", "Genghis Khan")
    assert miss.status == "no_hits" and miss.items == []
    assert hit.status == "ok" and len(hit.items) <= 2
    assert [r["status"] for r in ledger.records] == ["no_hits", "ok"]
    assert ledger.records[0]["cost"] == pytest.approx(0.5 + 1 / 1000)  # 1 query word, no documents
    assert ledger.total()["api_calls"] == 2
    with pytest.raises(ValueError, match="unknown API"):
        api.call("browse", "x")


def test_cache_round_trip_and_keys(tmp_path):
    store = cache.CallCache(tmp_path)
    key = cache.call_key(api="qa", model="m", prompt="p", decoding={"max_new_tokens": 4})
    assert store.get(key) is None
    store.put(key, {"output": "x", "tokens_in": 3, "tokens_out": 1, "seconds": 0.5})
    assert store.get(key)["output"] == "x" and (store.hits, store.misses) == (1, 1)
    assert key != cache.call_key(api="qa", model="m", prompt="p", decoding={"max_new_tokens": 5})
    assert cache.CallCache(None).get(key) is None


def test_parse_valid_list_and_aliases():
    out = propose.parse('[{"api": "retrieval", "argument": "Genghis Khan"}, {"api": "question_answering", '
                        '"argument": "How many children?"}, {"api": "demo", "topic": "Mongols"}]', max_calls=5)
    assert out["status"] == "ok"
    assert out["calls"] == [{"api": "retrieval", "argument": "Genghis Khan"},
                            {"api": "qa", "argument": "How many children?"},
                            {"api": "demonstrations", "argument": "Mongols"}]
    assert out["counts"]["repaired"] == 2


def test_parse_no_json_unknown_api_missing_argument_and_truncation():
    assert propose.parse("I would search for facts about the Khan.", max_calls=3)["status"] == "invalid_json"
    assert propose.parse("", max_calls=3)["status"] == "invalid_json"
    unknown = propose.parse('[{"api": "browse_web", "argument": "x"}]', max_calls=3)
    assert unknown["status"] == "no_valid_calls" and unknown["counts"]["unknown_api"] == 1
    missing = propose.parse('[{"api": "qa"}, {"api": "qa", "argument": "  "}, 7]', max_calls=3)
    assert missing["status"] == "no_valid_calls"
    assert missing["counts"]["missing_argument"] == 2 and missing["counts"]["unknown_api"] == 1
    cut = propose.parse(json.dumps([{"api": "qa", "argument": str(i)} for i in range(5)]), max_calls=2)
    assert len(cut["calls"]) == 2 and cut["counts"]["truncated"] == 3


def test_parse_repairs_a_broken_list_from_its_objects():
    broken = '[{"api": "retrieval", "argument": "Awesome question"}, {"api": "qa", "argument": "why"}}]'
    out = propose.parse(broken, max_calls=3)
    assert out["status"] == "ok" and len(out["calls"]) == 2 and out["counts"]["repaired"] == 1


def test_parse_pairs_of_generated_demonstrations():
    text = "Question: What is 2+2?\nAnswer: 4\n\nQuestion: Capital of France?\nAnswer: Paris"
    assert apis.parse_pairs(text) == [("What is 2+2?", "4"), ("Capital of France?", "Paris")]
    assert apis.parse_pairs("no pairs here") == []


def test_an_nf4_and_a_float_configuration_of_one_folder_never_share_cache_entries(tmp_path, model_dir):
    """The call key covers quantization, dtype, device, the full weights, the generation code and the batch size:
    a float run's generation is never served to an nf4 run of the same prepared folder (or another batch size)."""
    from algrid import models

    tok = models.load_tokenizer(model_dir)
    store = cache.CallCache(tmp_path / "cache")

    def lm(batch_size=4, **config):
        return apis.CachedLM(None, tok, name="smollm2-135m", fingerprint=cache.model_fingerprint(model_dir, **config),
                             cache=store, batch_size=batch_size)

    float32, nf4 = lm(quantization="none", dtype="float32"), lm(quantization="nf4", dtype="float32")
    assert float32.fingerprint == lm(quantization="none", dtype="float32").fingerprint  # stable
    others = [nf4, lm(quantization="none", dtype="bfloat16"), lm(quantization="none", dtype="float32", device="cuda"),
              lm(batch_size=1, quantization="none", dtype="float32")]
    prompt = float32.chat("Is the sky blue?")
    key = float32.key("qa", prompt, max_new_tokens=8)
    store.put(key, {"api": "qa", "output": "yes", "tokens_in": 5, "tokens_out": 1, "seconds": 0.1})
    assert store.get(key)["output"] == "yes"
    for other in others:
        assert other.key("qa", prompt, max_new_tokens=8) != key
        assert store.get(other.key("qa", prompt, max_new_tokens=8)) is None



def test_the_generation_code_version_is_in_the_fingerprint(model_dir, monkeypatch):
    assert "algrid/generation.py" in cache.GENERATION_MODULES and "algrid/ads/apis.py" in cache.GENERATION_MODULES
    now = cache.model_fingerprint(model_dir)
    monkeypatch.setattr(cache, "GENERATION_MODULES", cache.GENERATION_MODULES[1:])  # other code, other version
    cache.generation_code_version.cache_clear()
    try:
        assert cache.model_fingerprint(model_dir) != now
    finally:
        monkeypatch.undo()
        cache.generation_code_version.cache_clear()
    assert cache.model_fingerprint(model_dir) == now


def test_the_fingerprint_covers_every_byte_of_the_weights(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    weights = bytearray(3 << 20)
    (folder / "model.safetensors").write_bytes(bytes(weights))
    (folder / "config.json").write_text("{}")
    before = cache.model_fingerprint(folder)
    weights[(2 << 20) + 7] = 1  # past the first MiB, same size
    (folder / "model.safetensors").write_bytes(bytes(weights))
    assert cache.model_fingerprint(folder) != before
    changed = cache.model_fingerprint(folder)
    (folder / "generation_config.json").write_text('{"eos_token_id": 2}')  # stopping changes the outputs too
    assert cache.model_fingerprint(folder) != changed
