"""The three data APIs behind one interface, ``ApiSet.call(api, argument) -> ApiResult``.

- ``retrieval``: BM25 over a document corpus (bm25s, method BM25+; its scores equal rank-bm25's ``BM25Plus`` on
  the same tokens, see tests/test_ads_apis.py), the top ``top_k`` documents that share a word with the query
  (BM25+ gives every document delta x idf per query word, so a document without any of them ranks below every
  one with one: those are not hits).
- ``demonstrations``: a model writes instruction-response pairs about a topic.
- ``qa``: a model answers a question, optionally with the best retrieved document as context.

Model calls go through ``CachedLM`` (algrid.generation, greedy), cached and accounted (``cache``).
"""

import logging
import re
from dataclasses import dataclass, field

from .. import generation
from ..errors import DataError
from . import APIS
from .cache import CallCache, Ledger, Timer, call_key

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


def _stopwords() -> frozenset:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens without English stopwords (the same for documents and queries)."""
    stop = _stopwords()
    return [t for t in _WORD.findall(text.lower()) if t not in stop]


# --- retrieval ----------------------------------------------------------------------------------------------------


class Bm25Index:
    """bm25s (BM25+, k1 1.5, b 0.75, delta 1 as rank-bm25's BM25Plus) over the tokenized documents."""

    def __init__(self, docs: list[dict], *, k1: float = 1.5, b: float = 0.75, delta: float = 1.0):
        import bm25s

        if not docs:
            raise DataError("corpus", "the corpus is empty: retrieval needs documents")
        self.docs = docs
        self.tokens = [tokenize(d["text"]) for d in docs]
        self.token_sets = [set(t) for t in self.tokens]
        self.retriever = bm25s.BM25(method="bm25+", k1=k1, b=b, delta=delta)
        self.retriever.index(self.tokens, show_progress=False)
        self.vocab = self.retriever.vocab_dict

    def scores(self, query_tokens: list[str]):
        import numpy as np

        known = [t for t in query_tokens if t in self.vocab]
        if not known:
            return np.zeros(len(self.docs), dtype="float32")
        return self.retriever.get_scores(known)

    def search(self, query: str, k: int) -> list[dict]:
        """The top ``k`` documents that share at least one word with the query ([] when none does: no hits)."""
        import numpy as np

        q = tokenize(query)
        words = set(q) & set(self.vocab)
        if not words:
            return []
        scores = self.scores(q)
        order = np.lexsort((np.arange(len(scores)), -np.round(scores.astype("float64"), 4)))  # ties: corpus order
        hits = []
        for i in order:
            if len(hits) == k:
                break
            if self.token_sets[i] & words:
                hits.append({**self.docs[i], "score": float(scores[i])})
        return hits


# --- model calls --------------------------------------------------------------------------------------------------


@dataclass
class CachedLM:
    """A loaded model whose generations are cached on disk (key: ``key``)."""

    model: object
    tokenizer: object
    name: str
    fingerprint: str
    cache: CallCache
    batch_size: int = 8

    def n_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def chat(self, user: str, system: str | None = None, prefill: str = "") -> str:
        """The prompt text for one user message (the model's chat template when it has one)."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            return (f"{system}\n\n" if system else "") + f"{user}\n\n{prefill}"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + prefill

    def key(self, api: str, prompt: str, *, max_new_tokens: int, stop_strings=()) -> str:
        """The cache key of one generation: api, model fingerprint (``cache.model_fingerprint``), batch size,
        prompt and decoding."""
        decoding = {"greedy": True, "max_new_tokens": max_new_tokens, "stop": list(stop_strings),
                    "batch_size": self.batch_size}
        return call_key(api=api, model=self.fingerprint, prompt=prompt, decoding=decoding)

    def generate(self, api: str, prompts: list[str], *, max_new_tokens: int, stop_strings=()) -> list[dict]:
        """One {output, tokens_in, tokens_out, seconds, cached} per prompt; only uncached prompts are generated."""
        keys = [self.key(api, p, max_new_tokens=max_new_tokens, stop_strings=stop_strings) for p in prompts]
        results = [self.cache.get(k) for k in keys]
        cached = [r is not None for r in results]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            with Timer() as t:
                outs = generation.generate(self.model, self.tokenizer, [prompts[i] for i in todo],
                                           max_new_tokens=max_new_tokens, batch_size=self.batch_size,
                                           stop_strings=stop_strings, desc=api)
            for i, out in zip(todo, outs):
                results[i] = {"api": api, "output": out, "tokens_in": self.n_tokens(prompts[i]), "tokens_out": self.n_tokens(out),
                              "seconds": t.seconds / len(todo)}
                self.cache.put(keys[i], results[i])
        return [{**r, "cached": c} for r, c in zip(results, cached)]


# --- the APIs -----------------------------------------------------------------------------------------------------

DEMO_PROMPT = ("Write {n} different short questions about the topic below, each with its correct answer.\n"
               "Topic: {topic}\n\nUse exactly this format:\nQuestion: ...\nAnswer: ...")
QA_PROMPT = "Answer the question in one or two sentences.\n{context}Question: {question}"
_PAIR = re.compile(r"(?:Question|Instruction|Q)\s*:\s*(.+?)\s*\n+\s*(?:Answer|Response|A)\s*:\s*(.+?)\s*(?=\n\s*\n|\n\s*(?:\d+[.)]\s*)?(?:Question|Instruction|Q)\s*:|$)",
                   re.S | re.I)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """(question, answer) pairs written as "Question: ...\\nAnswer: ..." (empty ones dropped)."""
    pairs = []
    for q, a in _PAIR.findall(text):
        q, a = " ".join(q.split()), " ".join(a.split())
        if q and a:
            pairs.append((q, a))
    return pairs


@dataclass
class ApiResult:
    api: str
    argument: str
    items: list = field(default_factory=list)  # collected rows: {kind, input, target} or {kind, text}
    status: str = "ok"  # ok | no_hits | empty_result


class ApiSet:
    """``call(api, argument)``: run one API call, account it in ``ledger`` and return what it collected."""

    def __init__(self, *, index: Bm25Index | None, lm: CachedLM | None, ledger: Ledger, top_k: int = 3,
                 demos_per_call: int = 2, qa_context: bool = True, max_new_tokens: dict):
        self.index, self.lm, self.ledger = index, lm, ledger
        self.top_k, self.demos_per_call, self.qa_context = top_k, demos_per_call, qa_context
        self.max_new_tokens = max_new_tokens

    def call(self, api: str, argument: str, **context) -> ApiResult:
        if api not in APIS:
            raise ValueError(f"unknown API {api!r}; known: {', '.join(APIS)}")  # propose.py drops these first
        return getattr(self, f"_{api}")(argument, context)

    def _retrieval(self, query: str, context: dict) -> ApiResult:
        with Timer() as t:
            hits = self.index.search(query, self.top_k) if self.index else []
        status = "ok" if hits else "no_hits"
        self.ledger.record("retrieval", query, model="bm25", tokens_in=len(tokenize(query)),
                           tokens_out=sum(len(h["text"].split()) for h in hits), seconds=t.seconds, cached=False,
                           status=status, n_results=len(hits), **context)
        items = [{"kind": "document", "text": h["text"], "doc_id": h["id"], "score": h["score"], "query": query}
                 for h in hits]
        return ApiResult("retrieval", query, items, status)

    def _demonstrations(self, topic: str, context: dict) -> ApiResult:
        prompt = self.lm.chat(DEMO_PROMPT.format(n=self.demos_per_call, topic=topic), prefill="Question:")
        r = self.lm.generate("demonstrations", [prompt], max_new_tokens=self.max_new_tokens["demonstrations"])[0]
        pairs = parse_pairs("Question:" + r["output"])[: self.demos_per_call]
        status = "ok" if pairs else "empty_result"
        self.ledger.record("demonstrations", topic, model=self.lm.name, tokens_in=r["tokens_in"],
                           tokens_out=r["tokens_out"], seconds=r["seconds"], cached=r["cached"], status=status,
                           n_results=len(pairs), **context)
        items = [{"kind": "demonstration", "input": q, "target": a, "topic": topic} for q, a in pairs]
        return ApiResult("demonstrations", topic, items, status)

    def _qa(self, question: str, context: dict) -> ApiResult:
        doc = self.index.search(question, 1) if self.index and self.qa_context else []
        ctx = f"Context: {doc[0]['text']}\n" if doc else ""
        prompt = self.lm.chat(QA_PROMPT.format(context=ctx, question=question))
        r = self.lm.generate("qa", [prompt], max_new_tokens=self.max_new_tokens["qa"])[0]
        answer = " ".join(r["output"].split())
        status = "ok" if answer else "empty_result"
        self.ledger.record("qa", question, model=self.lm.name, tokens_in=r["tokens_in"], tokens_out=r["tokens_out"],
                           seconds=r["seconds"], cached=r["cached"], status=status, n_results=int(bool(answer)),
                           **context)
        items = [{"kind": "qa", "input": question, "target": answer, "context": ctx.strip() or None}] if answer else []
        return ApiResult("qa", question, items, status)
