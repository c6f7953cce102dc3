"""The optimizer's prompt and the parsing of its proposals (a JSON list of {"api", "argument"}).

Parsing never raises. A reply is read as the first JSON list in it; failing that, every {...} object in it
that parses alone (repair: ``repaired``); an object with an API name that is an alias of a known one
("search", "information_retrieval", ...) is mapped to it (``repaired``); objects with an unknown API or without
a text argument are dropped and counted; more than ``max_calls`` calls are cut to the first ``max_calls``
(``truncated``). A reply with no valid call is an invalid proposal (``invalid_json`` or ``no_valid_calls``).
"""

import json
import random
import re

from . import APIS

ALIASES = {
    "retrieval": "retrieval", "retrieve": "retrieval", "information_retrieval": "retrieval", "ir": "retrieval",
    "search": "retrieval", "bm25": "retrieval", "information retrieval": "retrieval",
    "demonstrations": "demonstrations", "demonstration": "demonstrations", "demonstration_generation": "demonstrations",
    "generate_demonstrations": "demonstrations", "demo": "demonstrations", "demos": "demonstrations",
    "generate": "demonstrations", "demonstration generation": "demonstrations",
    "qa": "qa", "question_answering": "qa", "answer_question": "qa", "answer": "qa", "question answering": "qa",
}
ARGUMENT_KEYS = ("argument", "arg", "query", "topic", "question", "param", "input")

SYSTEM = ("You plan how to collect data that helps a small language model solve a task. "
          "Reply with a JSON list only.")
INSTRUCTION = """Task: {description}
Example inputs of the task:
{examples}

You may call these APIs (at most {max_calls} calls):
- "retrieval": search a collection of facts; the argument is a search query.
- "demonstrations": write example questions with answers; the argument is a topic.
- "qa": answer a question; the argument is the question.
{previous}
Reply with a JSON list such as
[{{"api": "retrieval", "argument": "..."}}, {{"api": "qa", "argument": "..."}}]"""
PREFILL = '[{"api": "'


def build_prompt(lm, *, description: str, inputs: list[str], previous: list[dict], max_calls: int,
                 n_examples: int, rng: random.Random) -> str:
    """One optimizer prompt: the task, a few of its inputs (no answers), the previous best trajectories."""
    shown = rng.sample(inputs, min(n_examples, len(inputs)))
    examples = "\n".join(f"- {' '.join(x.split())[:300]}" for x in shown)
    prev = ""
    if previous:
        lines = [f"reward {p['reward']:+.3f}: {json.dumps(p['calls'])}" for p in previous]
        prev = "\nYour best plans so far (higher reward is better):\n" + "\n".join(lines) + "\n"
    text = INSTRUCTION.format(description=description, examples=examples, max_calls=max_calls, previous=prev)
    return lm.chat(text, system=SYSTEM, prefill=PREFILL)


def _first_list(text: str):
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\[", text):
        try:
            value, _ = decoder.raw_decode(text[m.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
    return None


def _objects(text: str) -> list:
    found = []
    for m in re.finditer(r"\{[^{}]*\}", text):
        try:
            found.append(json.loads(m.group(0)))
        except json.JSONDecodeError:
            continue
    return found


def parse(text: str, *, max_calls: int) -> dict:
    """{calls: [{api, argument}], status, counts}; status ok | invalid_json | no_valid_calls."""
    counts = {"unknown_api": 0, "missing_argument": 0, "repaired": 0, "truncated": 0}
    items = _first_list(text)
    if items is None:
        items = _objects(text)
        if items:
            counts["repaired"] += 1
    if not items:
        return {"calls": [], "status": "invalid_json", "counts": counts}
    calls = []
    for item in items:
        if not isinstance(item, dict):
            counts["unknown_api"] += 1
            continue
        name = str(item.get("api", item.get("name", ""))).strip().lower()
        api = ALIASES.get(name) or ALIASES.get(name.replace("-", "_"))
        if api is None:
            counts["unknown_api"] += 1
            continue
        if api != name:
            counts["repaired"] += 1
        argument = next((item[k] for k in ARGUMENT_KEYS if isinstance(item.get(k), str) and item[k].strip()), None)
        if argument is None:
            counts["missing_argument"] += 1
            continue
        calls.append({"api": api, "argument": " ".join(argument.split())[:500]})
    if len(calls) > max_calls:
        counts["truncated"] = len(calls) - max_calls
        calls = calls[:max_calls]
    assert all(c["api"] in APIS for c in calls)
    return {"calls": calls, "status": "ok" if calls else "no_valid_calls", "counts": counts}
