"""Few-shot prompts and the answers a log-likelihood prediction compares."""

from .. import prompts, tokens
from ..errors import DataError

LETTERS = "ABCDEFGHIJ"


def _bare(row: dict) -> dict:
    """A row without its rationale: it answers in the family's bare-answer format."""
    meta = {k: v for k, v in (row.get("meta") or {}).items() if k != "rationale"}
    return {**row, "meta": meta}


def loglik_prompt_config(pc: dict, choice_text: str) -> dict:
    if pc["family"] == "multichoice" and choice_text == "option":
        return {**pc, "bare_answer": "{target}"}
    return pc


def _as_option_text(row: dict) -> dict:
    """Multichoice row whose target is the text of its correct option (choice_text: option)."""
    letter = str(row["target"]).strip("() ")
    index = LETTERS.find(letter)
    if index < 0 or index >= len(row.get("choices") or []):
        raise DataError("demonstrations", f"row '{row['id']}' has target '{row['target']}' outside its choices")
    return {**row, "target": row["choices"][index]}


def answer_options(row: dict, pc: dict, choice_text: str) -> list[tuple[str, str]]:
    """(prediction, answer text) for every answer a loglik prediction compares."""
    choices = row.get("choices") or []
    if not choices:
        raise DataError("eval", f"row '{row['id']}' has no choices to compare (family {pc['family']})")
    if pc["family"] == "classification":
        return [(v, prompts.format_answer({"target": v}, pc)) for v in choices]
    if choice_text == "option":
        return [(LETTERS[i], c) for i, c in enumerate(choices)]
    return [(LETTERS[i], prompts.format_answer({"target": LETTERS[i]}, pc)) for i in range(len(choices))]


def loglik_demo(row: dict, pc: dict, choice_text: str) -> dict:
    row = _bare(row)
    return _as_option_text(row) if pc["family"] == "multichoice" and choice_text == "option" else row


def fit_prompt(tokenizer, pc: dict, row: dict, demos: list[dict], max_tokens: int | None) -> tuple[str, list[dict]]:
    """The prompt with as many of ``demos`` (kept from the front) as fit in ``max_tokens``."""
    demos = list(demos)
    text = prompts.build_prompt(tokenizer, pc, row, demos=demos)
    while max_tokens and demos and len(tokens.encode(tokenizer, text)) > max_tokens:
        demos.pop()
        text = prompts.build_prompt(tokenizer, pc, row, demos=demos)
    return text, demos


