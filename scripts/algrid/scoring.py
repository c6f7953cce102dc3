"""Uncertainty of the unlabeled pool under a model: the selector never sees the labels."""

import logging

import pandas as pd

from . import generation, models, prompts

log = logging.getLogger(__name__)

COLUMNS = ("entropy", "least_confidence", "margin", "max_entropy", "perplexity")


def score_pool(model, tokenizer, rows, pc: dict, *, max_new_tokens: int, batch_size: int, demos=()) -> pd.DataFrame:
    """One row per pool item (pool order): answer-token uncertainty of the greedy answer (after the fixed
    exemplars ``demos``, as at evaluation) + input perplexity."""
    texts = [prompts.build_prompt(tokenizer, pc, r, demos=demos) for r in rows]
    outputs, stats = generation.generate(model, tokenizer, texts, max_new_tokens=max_new_tokens,
                                         batch_size=batch_size, with_uncertainty=True, desc="score pool",
                                         stop_strings=prompts.stop_strings(tokenizer, pc))
    ppl = generation.perplexity(model, tokenizer, [r["input"] for r in rows], batch_size=batch_size)
    frame = pd.DataFrame(stats)
    frame.insert(0, "id", [r["id"] for r in rows])
    frame["perplexity"] = ppl
    frame["output"] = outputs
    log.info("scored %d pool items: mean entropy %.3f, mean perplexity %.1f",
             len(frame), frame.entropy.mean(), frame.perplexity.mean())
    return frame


def score_file(model_dir, pool_path, fewshot_path, out_path, *, adapter, family, prompt, model_spec, max_new_tokens,
               batch_size, fewshot_k=0, rows=None) -> None:
    """Score the pool, or its rows [start, stop) when ``rows`` is given (one shard; an empty one loads no model)."""
    from .io import atomic_path, read_jsonl

    pool = read_jsonl(pool_path)
    if rows is not None:
        pool = pool[rows[0]:rows[1]]
        if not pool:
            with atomic_path(out_path) as tmp:
                pd.DataFrame(columns=["id", *COLUMNS, "output"]).to_parquet(tmp, index=False)
            log.info("rows %s: past the end of the pool, nothing to score", rows)
            return
    tokenizer = models.load_tokenizer(model_dir)
    model = models.load_model(model_dir, adapter=adapter, quantization=model_spec.get("quantization", "none"),
                              dtype=model_spec.get("dtype", "float32"))
    rows = pool
    demos = read_jsonl(fewshot_path)[:fewshot_k]
    frame = score_pool(model, tokenizer, rows, prompts.prompt_config(family, prompt),
                       max_new_tokens=max_new_tokens, batch_size=batch_size, demos=demos)
    with atomic_path(out_path) as tmp:
        frame.to_parquet(tmp, index=False)
