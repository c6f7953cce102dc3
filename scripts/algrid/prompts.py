"""Prompt formats per task family: how a row becomes a question, an answer, a few-shot prompt.

Two styles: ``chat`` (the tokenizer's chat template; demonstrations are earlier user/assistant
turns) and ``qa`` (plain "Q: ...\\nA: ..." completion text, as BBH's own CoT prompts are written).
A task's ``prompt:`` block in config overrides any key of its family's defaults.
"""

FAMILY_DEFAULTS = {
    "math": {"style": "chat", "answer": "{rationale}\n#### {target}", "bare_answer": "#### {target}"},
    "bbh": {
        "style": "qa",
        "answer_prefix": "Let's think step by step.",
        "answer": "{rationale} So the answer is {target}.",
        "bare_answer": "So the answer is {target}.",
    },
    "multichoice": {"style": "chat", "answer": "{rationale} So the answer is ({target}).", "bare_answer": "({target})"},
    "classification": {"style": "chat", "answer": "{target}", "bare_answer": "{target}"},
    "instruction": {"style": "chat", "answer": "{rationale} So the answer is {target}.", "bare_answer": "{target}"},
}
COMMON = {"system": None, "instruction": None, "answer_prefix": "", "max_prefix_chars": None}
STOP_QA = "\nQ:"


def prompt_config(family: str, overrides: dict | None = None) -> dict:
    pc = {**COMMON, **FAMILY_DEFAULTS[family], **(overrides or {})}
    pc["family"] = family
    return pc


def format_question(row: dict, pc: dict) -> str:
    text = row["input"]
    if pc["family"] == "multichoice" and row.get("choices"):
        letters = "ABCDEFGHIJ"
        text += "\nAnswer Choices: " + " ".join(f"({letters[i]}) {c}" for i, c in enumerate(row["choices"]))
    if pc["family"] == "classification" and row.get("choices") and not pc["instruction"]:
        text += "\nAnswer with one of: " + ", ".join(row["choices"]) + "."
    if pc["instruction"]:
        text = pc["instruction"] + "\n" + text
    return text


def format_answer(row: dict, pc: dict) -> str:
    rationale = (row.get("meta") or {}).get("rationale")
    template = pc["answer"] if rationale else pc["bare_answer"]
    return template.format(rationale=(rationale or "").strip(), target=row["target"]).strip()


def uses_chat(tokenizer, pc: dict) -> bool:
    return pc["style"] == "chat" and getattr(tokenizer, "chat_template", None) is not None


def build_prompt(tokenizer, pc: dict, row: dict, demos=(), prefix: str | None = None) -> str:
    """The text the model continues: optional prefix (e.g. BBH CoT prompt), demonstrations, the query."""
    if uses_chat(tokenizer, pc):
        messages = [{"role": "system", "content": pc["system"]}] if pc["system"] else []
        if prefix:
            messages.append({"role": "user", "content": prefix})
            messages.append({"role": "assistant", "content": "Understood."})
        for d in demos:
            messages.append({"role": "user", "content": format_question(d, pc)})
            messages.append({"role": "assistant", "content": format_answer(d, pc)})
        messages.append({"role": "user", "content": format_question(row, pc)})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lead = pc["answer_prefix"]
    parts = [prefix.strip() + "\n\n"] if prefix else []
    if pc["system"]:
        parts.insert(0, pc["system"] + "\n\n")
    for d in demos:
        answer = f"{lead} {format_answer(d, pc)}" if lead else format_answer(d, pc)
        parts.append(f"Q: {format_question(d, pc)}\nA: {answer}\n\n")
    parts.append(f"Q: {format_question(row, pc)}\nA:" + (f" {lead}" if lead else ""))
    return "".join(parts)


def training_pair(tokenizer, pc: dict, row: dict) -> tuple[str, str]:
    """(prompt, completion) for supervised fine-tuning; loss is taken on the completion only."""
    prompt = build_prompt(tokenizer, pc, row)
    completion = format_answer(row, pc)
    completion = completion if uses_chat(tokenizer, pc) or not pc["answer_prefix"] else " " + completion
    return prompt, completion + tokenizer.eos_token


def stop_strings(tokenizer, pc: dict) -> tuple[str, ...]:
    """Where an answer ends besides EOS: a plain-completion prompt's next invented question."""
    return () if uses_chat(tokenizer, pc) else (STOP_QA,)


def cut_output(text: str, pc: dict) -> str:
    """Plain-completion outputs run on into a next invented question: keep the first answer."""
    if pc["style"] == "qa" or STOP_QA in text:
        text = text.split(STOP_QA)[0]
    return text.strip()


def read_prefix(path) -> str:
    """A BBH-style CoT prompt file: drop the canary header above the '-----' line."""
    with open(path) as f:
        text = f.read()
    return text.split("-----", 1)[1].strip() if "-----" in text[:400] else text.strip()
