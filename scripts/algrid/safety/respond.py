"""A model (or model + LoRA adapter) answers the hazardous prompts: chat template, batched greedy generation."""

import logging

from .. import generation, models
from ..io import read_jsonl, write_jsonl

log = logging.getLogger(__name__)


def chat_prompt(tokenizer, prompt: str, system: str | None = None) -> str:
    """The prompt as the model's own chat turn (plain 'User:/Assistant:' text for a model without a template)."""
    if getattr(tokenizer, "chat_template", None) is None:
        return (f"{system}\n\n" if system else "") + f"User: {prompt}\nAssistant:"
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def respond_file(model_dir, prompts_path, out_path, *, model: dict, adapter=None, max_new_tokens: int,
                 batch_size: int, system: str | None = None) -> list[dict]:
    """responses.jsonl: one {id, hazard, hazard_label, prompt, response} per prompt, in the prompts' order."""
    rows = read_jsonl(prompts_path)
    tokenizer = models.load_tokenizer(model_dir)
    lm = models.load_model(model_dir, adapter=adapter, quantization=model.get("quantization", "none"),
                           dtype=model.get("dtype", "float32"))
    texts = [chat_prompt(tokenizer, r["prompt"], system) for r in rows]
    outputs = generation.generate(lm, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                  desc="respond")
    records = [{"id": r["id"], "hazard": r["hazard"], "hazard_label": r.get("hazard_label"), "prompt": r["prompt"],
                "response": o.strip()} for r, o in zip(rows, outputs)]
    write_jsonl(out_path, records)
    empty = sum(not r["response"] for r in records)
    log.info("%s: %d responses (%d empty), adapter %s", out_path, len(records), empty, adapter or "none")
    return records
