"""Running a judge: its model on (prompt, response) pairs, parsed by algrid.safety.judges; over a responses file,
its verdict per response with the raw text kept (judges/<judge>.jsonl)."""

import logging
from collections import Counter
from pathlib import Path

from ..errors import ConfigError
from ..io import read_jsonl, write_jsonl
from . import judges

log = logging.getLogger(__name__)


def load_judge_model(ref: str, key: str, load: dict):
    """Tokenizer and model of a judge: a prepared model directory, or a Hugging Face id (needs internet once)."""
    from .. import models

    try:
        tokenizer = models.load_tokenizer(ref)
        model = models.load_model(ref, quantization=load.get("quantization", "none"),
                                  dtype=load.get("dtype", "float32"))
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(key, f"cannot load judge model '{ref}' (a Hugging Face id needs internet on first use, "
                          f"or a models: registry id): {first}") from None
    return tokenizer, model


def _truncate(tokenizer, text: str, max_tokens: int | None) -> str:
    if not max_tokens:
        return text
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens]) + " [...]"


def _chat(tokenizer, messages, thinking: bool) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             enable_thinking=thinking)
    except TypeError:  # a template without the enable_thinking switch
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def judge_texts(tokenizer, spec: dict, guidelines: str | None, prompts, responses) -> list[str]:
    """The text each judge model continues."""
    texts = []
    for prompt, response in zip(prompts, responses):
        response = _truncate(tokenizer, response, spec.get("max_response_tokens"))
        if spec["kind"] == "guard":  # the guard's own template turns the conversation into its classification prompt
            messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            texts.append(_chat(tokenizer, messages, False))
            continue
        content = guidelines.replace("{prompt}", prompt.strip()).replace("{response}", response.strip())
        if getattr(tokenizer, "chat_template", None) is None:
            texts.append(content + "\n" + spec.get("prefill", ""))
        else:
            texts.append(_chat(tokenizer, [{"role": "user", "content": content}], spec.get("thinking", False))
                         + spec.get("prefill", ""))
    return texts


def judge_pairs(spec: dict, prompts, responses, *, model_ref=None, key: str = "judges", guidelines=None,
                load: dict | None = None, model=None) -> list[dict]:
    """One {verdict, how, refusal, raw} per (prompt, response); an empty response gets no verdict.
    ``model`` is an already loaded (tokenizer, model) pair, else ``model_ref`` is loaded."""
    from .. import generation

    responses = [r or "" for r in responses]
    results = [None] * len(responses)
    todo = [i for i, r in enumerate(responses) if r.strip()]
    for i in set(range(len(responses))) - set(todo):
        results[i] = {"verdict": None, "how": "empty response", "refusal": None, "raw": None}
    if spec["kind"] == "refusal":
        for i in todo:
            results[i] = judges.judge_refusal(responses[i], spec.get("opening_chars", 400))
        return results
    if not todo:
        return results
    tokenizer, lm = model or load_judge_model(model_ref, f"{key}.model", load or {})
    texts = judge_texts(tokenizer, spec, guidelines, [prompts[i] for i in todo], [responses[i] for i in todo])
    outputs = generation.generate(lm, tokenizer, texts, max_new_tokens=spec.get("max_new_tokens", 16),
                                  batch_size=spec.get("batch_size", 8), desc=f"judge {key}")
    for i, out in zip(todo, outputs):
        raw = spec.get("prefill", "") + out
        results[i] = {**judges.parse(spec, raw), "raw": raw}
    return results


def judge_file(responses_path, out_path, *, judge: str, spec: dict, model_ref=None, guidelines=None,
               load: dict | None = None) -> list[dict]:
    """{id, judge, verdict, how, refusal, raw} per response. A judge whose every answer fails to parse is an
    error naming it (its config is wrong, not the responses unsafe); one that fails on some is a warning with the
    count (the run's metrics record it per judge: per_judge.<judge>.n_invalid)."""
    rows = read_jsonl(responses_path)
    text = Path(guidelines).read_text() if guidelines else None
    results = judge_pairs(spec, [r["prompt"] for r in rows], [r["response"] for r in rows],
                                 model_ref=model_ref, key=f"judges.{judge}", guidelines=text, load=load)
    records = [{"id": r["id"], "judge": judge, **res} for r, res in zip(rows, results)]
    answered = [r for r in records if r["how"] != "empty response"]
    if answered and all(r["verdict"] is None for r in answered):
        example = (answered[0]["raw"] or "").strip().replace("\n", " ")[:80]
        raise ConfigError(f"judges.{judge}", f"no parseable verdict in any of its {len(answered)} answers "
                          f"(first: {example!r}); check its kind/format/prefill against the model's output")
    write_jsonl(out_path, records)
    unparsed = sum(r["verdict"] is None for r in answered)
    if unparsed:  # never safe: safety rates count them against SAFE, and a run below safety.min_valid fails
        log.warning("judges.%s: no parseable verdict in %d of its %d answers (%.1f%%)", judge, unparsed,
                    len(answered), 100 * unparsed / len(answered))
    counts = Counter(r["verdict"] for r in records)
    log.info("%s: %d safe, %d unsafe, %d invalid (%s)", out_path, counts[judges.SAFE], counts[judges.UNSAFE],
             counts[None], ", ".join(f"{k} {v}" for k, v in Counter(r["how"] for r in records).most_common()))
    return records
