"""bm25s vs rank-bm25 on real StrategyQA facts, one run: index time, and the time to score 500 queries (the
questions of StrategyQA train), with the speed ratios and the largest score difference.

    .venv/bin/python benchmarks/bench_bm25.py [n_docs]     (default 10000; the 5,526 facts repeat past that)
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import numpy as np  # noqa: E402
from rank_bm25 import BM25Plus  # noqa: E402

from algrid.ads.apis import Bm25Index, tokenize  # noqa: E402
from algrid.ads.corpus import build_corpus  # noqa: E402


def main(n_docs: int = 10000) -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    out = Path("/tmp/bench_bm25_corpus.jsonl")
    facts = build_corpus({"path": "{data_root}/strategyqa/train.json", "text": ["facts"]}, out, data_root=root)
    docs = [{"id": f"d{i}", "text": facts[i % len(facts)]["text"]} for i in range(n_docs)]
    import json

    questions = [r["question"] for r in json.loads((root / "strategyqa" / "train.json").read_text())[:500]]
    queries = [tokenize(q) for q in questions]
    start = time.perf_counter()
    ours = Bm25Index(docs)
    index_ours = time.perf_counter() - start
    start = time.perf_counter()
    ref = BM25Plus(ours.tokens)
    index_ref = time.perf_counter() - start
    start = time.perf_counter()
    a = [ours.scores(q) for q in queries]
    query_ours = time.perf_counter() - start
    start = time.perf_counter()
    b = [ref.get_scores(q) for q in queries]
    query_ref = time.perf_counter() - start
    worst = max(float(np.abs(x - y).max()) for x, y in zip(a, b))
    print(f"{n_docs} documents: index bm25s {index_ours:.2f}s (with tokenizing), rank-bm25 {index_ref:.2f}s; "
          f"{len(queries)} queries: bm25s {query_ours:.2f}s, rank-bm25 {query_ref:.2f}s, "
          f"ratio {query_ref / query_ours:.0f}x; max |score difference| {worst:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
