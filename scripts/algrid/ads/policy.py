"""The policy model conditioned on collected data, and the per-item score of its answers.

In context: retrieved documents become a "Background facts" prefix, generated demonstrations and answered
questions become demonstrations (the task's own prompt format, ``algrid.prompts``). For fine-tuning, the same
data becomes training rows (``training_rows``) for ``algrid.train.train_adapter``.

Score per item: ROUGE-L F of the answer for free-text tasks (metric ``text``), else 0/1 correctness
(``algrid.metrics``).
"""

from .. import metrics, prompts
from ..predict import to_records

FACTS_HEADER = "Background facts that may help:\n"


def demo_rows(collected: list[dict], choices=None, limit: int | None = None) -> list[dict]:
    rows = [{"id": f"collected-{i}", "input": c["input"], "target": c["target"],
             **({"choices": list(choices)} if choices else {}), "meta": {}}
            for i, c in enumerate(x for x in collected if x["kind"] in ("demonstration", "qa"))]
    return rows[:limit] if limit is not None else rows


def facts_prefix(collected: list[dict], limit: int) -> str | None:
    docs = list(dict.fromkeys(c["text"] for c in collected if c["kind"] == "document"))[:limit]
    return FACTS_HEADER + "\n".join(f"- {d}" for d in docs) if docs else None


def training_rows(collected: list[dict], choices=None) -> list[dict]:
    """Fine-tuning rows: demonstrations and answers as they are, each document as the answer to its query."""
    rows = demo_rows(collected, choices)
    for i, c in enumerate(x for x in collected if x["kind"] == "document"):
        rows.append({"id": f"document-{i}", "input": f"Tell me a fact about: {c['query']}", "target": c["text"],
                     **({"choices": list(choices)} if choices else {}), "meta": {}})
    return rows


def item_scores(records: list[dict], metric: str) -> list[float]:
    if metric == "text":
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        return [float(scorer.score(str(r["target"]), r.get("output") or "")["rougeL"].fmeasure) for r in records]
    return [float(metrics.is_correct(r["pred"], str(r["target"]), metric)) for r in records]


def predict(lm, rows: list[dict], pc: dict, *, metric: str, max_new_tokens: int, demos=(), prefix=None,
            demos_per_row=None) -> list[dict]:
    """Greedy answers of the (cached) policy; ``demos_per_row`` gives each row its own demonstrations."""
    per_row = demos_per_row if demos_per_row is not None else [list(demos)] * len(rows)
    texts = [prompts.build_prompt(lm.tokenizer, pc, r, demos=d, prefix=prefix) for r, d in zip(rows, per_row)]
    outs = lm.generate("policy", texts, max_new_tokens=max_new_tokens,
                       stop_strings=prompts.stop_strings(lm.tokenizer, pc))
    records = to_records(rows, [o["output"] for o in outs], per_row, pc, metric)
    for rec, score in zip(records, item_scores(records, metric)):
        rec["score"] = score
    return records


def mean_score(records: list[dict]) -> float:
    return sum(r["score"] for r in records) / len(records) if records else 0.0


def conditioned(collected: list[dict], *, choices, max_docs: int, max_demos: int) -> dict:
    """The in-context conditioning of one trajectory's data: {demos, prefix}."""
    return {"demos": demo_rows(collected, choices, max_demos), "prefix": facts_prefix(collected, max_docs)}
