"""An LLM judge of free-text answers: a model rates an answer 1-10 against the reference answer.

The judge sees the question, the reference (the task's target in the demonstrations' answer
format, with its rationale where the data has one) and the answer, is asked for a number only,
and its reply is started for it with "Rating:". The rating is the first whole number from 1 to
10 in the reply; anything else is unparsed (rating None) and left out of the mean.
"""

import logging
import re

from .. import generation, models, prompts
from ..errors import DataError
from ..io import read_jsonl, write_jsonl

log = logging.getLogger(__name__)

INSTRUCTION = (
    "You are grading an answer to a question against a reference answer.\n\n"
    "Question:\n{question}\n\nReference answer:\n{reference}\n\nAnswer to grade:\n{answer}\n\n"
    "How correct is the answer, compared with the reference? Rate it on a scale from 1 (wrong) "
    "to 10 (as correct as the reference). Reply with the number only."
)
_RATING = re.compile(r"(?<![\d.])(10|[1-9])(?![\d.]\d)")


def judge_prompt(tokenizer, question: str, reference: str, answer: str) -> str:
    text = INSTRUCTION.format(question=question.strip(), reference=reference.strip(), answer=answer.strip() or "(empty)")
    if getattr(tokenizer, "chat_template", None) is not None:  # the reply starts "Rating:", the model adds the number
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True) + "Rating:"
    return text + "\nRating:"


def parse_rating(text: str) -> int | None:
    found = _RATING.search(text or "")
    return int(found.group(1)) if found else None


def judge_rows(model, tokenizer, questions, references, answers, *, max_new_tokens: int = 8,
               batch_size: int = 8) -> list[dict]:
    texts = [judge_prompt(tokenizer, q, r, a) for q, r, a in zip(questions, references, answers)]
    outputs = generation.generate(model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                  desc="judge")
    return [{"rating": parse_rating(o), "output": o.strip()} for o in outputs]


def judge_answers(model_dir, rows: list[dict], answers: list[str], pc: dict, *, model: dict, max_new_tokens: int = 8,
                  batch_size: int = 8) -> list[dict]:
    """Load the judge model once and rate each answer against its row's reference, in the prompt format ``pc``."""
    tokenizer = models.load_tokenizer(model_dir)
    lm = models.load_model(model_dir, quantization=model.get("quantization", "none"), dtype=model.get("dtype", "float32"))
    return judge_rows(lm, tokenizer, [prompts.format_question(r, pc) for r in rows],
                      [prompts.format_answer(r, pc) for r in rows], answers, max_new_tokens=max_new_tokens,
                      batch_size=batch_size)


def judge_file(model_dir, eval_path, predictions_path, out_path, *, family: str, prompt: dict, model: dict,
               max_new_tokens: int, batch_size: int) -> list[dict]:
    """judgments.jsonl: one {id, rating, output} per prediction (same order)."""
    rows = {r["id"]: r for r in read_jsonl(eval_path)}
    predictions = read_jsonl(predictions_path)
    missing = [p["id"] for p in predictions if p["id"] not in rows]
    if missing:
        raise DataError(predictions_path, f"prediction '{missing[0]}' is not in {eval_path}; rebuild it")
    judged = judge_answers(model_dir, [rows[p["id"]] for p in predictions],
                           [p.get("output") or p.get("pred") or "" for p in predictions],
                           prompts.prompt_config(family, prompt), model=model, max_new_tokens=max_new_tokens,
                           batch_size=batch_size)
    records = [{"id": p["id"], **j} for p, j in zip(predictions, judged)]
    write_jsonl(out_path, records)
    parsed = [r["rating"] for r in records if r["rating"] is not None]
    log.info("%s: %d judged, %d unparsed, mean rating %s", out_path, len(records), len(records) - len(parsed),
             f"{sum(parsed) / len(parsed):.2f}" if parsed else "n/a")
    return records
