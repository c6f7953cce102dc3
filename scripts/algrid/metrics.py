"""Answer extraction, scoring and aggregation over seeds.

Answer kinds (``kind`` argument) and the rules ``extract_answer`` / ``is_correct`` follow.

Shared rules
------------
- Answer phrase: "answer is" in its usual forms: "So the answer is", "The final answer is",
  "the answer would be", "Answer:", "the answer (arabic numerals) is", "the correct option
  is". The answer is read from the text after the **last** answer phrase (up to the next
  one). An empty final phrase (nothing but whitespace, "." or ":" after it, e.g. a chain of
  thought cut off at "So the answer is") falls back to the phrase before it; a non-empty one
  decides, and what follows it that is no valid answer is None, never a fall back to an
  answer-like string of the reasoning.
- One answer only: a prediction names exactly one answer. A hedge that names several options
  ("(A) or (B)", "(A) and (D)", "A, B or C", "either A or B", "(E) rain (C)"), labels
  ("positive or negative") or numbers ("5 or 6"; "0.6 or 3/5" is one value) is no answer
  (None), whichever of them the target is.
- Option letters are whole answers: "(D)", "D", "D)", "D.", "D:" and "D," (all but "D" also
  followed by the option's text, e.g. "(D) 12/14/1937") name option D; a bare letter followed
  by more words does not ("I don't know" is not option (I), "A dog" not option (A)).
  Qualifiers before the letter are skipped ("most likely C", "probably (B)", "option D").
- Chains of thought: an output of several lines without an answer phrase (or "####") never
  reached its answer (cut at max_new_tokens): it is unparsed (None) in numeric, bbh and
  choice, not scored by whatever its first line or last number happens to be.

Kinds
-----
- ``numeric``: the answer after the last "####" if there is one, else after the last answer
  phrase; a phrase followed by no number at all ("The answer (in words) is forty-seven") is
  skipped like an empty one, and when no phrase has a number there is no answer. After
  "####" or the phrase the answer is the first number, unless it starts an equation: then
  the result after its last "=" ("the answer is 676 - 224 = 452" -> 452; "5 + 3 =" -> None).
  Without either, a one-line output's last number ("It is -3 degrees"). Thousands
  separators "," and a single space ("118 000" -> 118000), "$" and units are dropped and the
  number is canonical ("1,000.50" -> "1000.5", "18.0" -> "18").
- ``bbh``: the first non-empty line after the last non-empty answer phrase, without a
  trailing "."; a hedge between options is None. Without an answer phrase, a direct answer
  (one line and no sentence break: "(B)", "False", "} ] >") is the answer, anything else is
  None: every algrid bbh prompt ends its answers with "So the answer is X.", so such an
  output is a chain of thought that never finished, not a wrong answer on its first line.
  Compared exactly (whitespace runs collapsed); when the target is a letter option the
  option rules above apply ("(D) 12/14/1937" equals "(D)"); True/False/valid/invalid/Yes/No
  ignore case.
- ``choice``: the option letter (among the first ``len(choices)`` letters, A-E without
  choices). After the last answer phrase: the letter at its start, qualifiers skipped (a
  letter that is not an option is None); without a letter there, the one "(B)" or the one
  option text on its first line ("So the answer is heat."); several or none -> None.
  Without an answer phrase: a leading option ("(B)", "B) blue", "C. because", "B"); else,
  in a one-line output only, the one "(B)" or the one option text it names.
- ``label``: the first verbaliser (one of ``choices``) mentioned, case-insensitive, whole
  words, after the last non-empty answer phrase (None if none follows it), else in the whole
  text; None when it is joined to another verbaliser by "or"/"and"/"/"/",".
- ``text``: the text itself, stripped; accuracy is exact match (case and whitespace
  insensitive), the main score is ROUGE-L F (rouge-score, no stemming).

Where algrid differs from published scorers, deliberately
---------------------------------------------------------
- BIG-Bench Hard (Suzgun et al.) scores exact match of the text after "So the answer is":
  "(D) 12/14/1937" or "most likely (D)" are wrong there and right here, "(A) or (B)" is wrong
  in both. On the published code-davinci-002 outputs (27 tasks) algrid's correctness agrees
  with that exact match on every row: 6,511 of 6,511 CoT and 6,511 of 6,511 direct answers.
- Kojima et al.'s zero_shot_cot takes the first number (first capital A-E) after "Therefore,
  the answer (arabic numerals) is": algrid takes an equation's result ("9 + 8 = 17" -> 17),
  compares numbers canonically ("12.30" = "12.3"), counts hedges ("B or D") as no answer and
  reads option texts ("the answer is California" is no "C"). On their published logs (11
  datasets, last_letters left out) algrid's correctness agrees on 98.7% of the 9,206
  zero_shot_cot rows and 99.6% of the 9,206 zero_shot rows.
- Real model outputs (SmolLM2-135M-Instruct, algrid prompts) with hand labels are checked in
  tests/test_metrics.py (tests/data/real_outputs/).
"""

import re
from decimal import Decimal, InvalidOperation
from string import ascii_uppercase

import numpy as np

KINDS = ("numeric", "bbh", "choice", "label", "text")

_SPACE_GROUP = "[ \u00a0\u202f]"  # one space, no-break space or narrow no-break space between digit groups
_NUMBER = re.compile(
    r"(?<![^\W_])(?<!\.)-?(?:\d{1,3}(?:,\d{3})+"
    rf"|\d{{1,3}}(?:{_SPACE_GROUP}\d{{3}})+(?!\d|[.,]\d|-[^\W\d_])"
    r"|\d+)(?:\.\d+)?"
)
_ANSWER_PHRASE = re.compile(
    r"\b(?:answer(?:\s+(?:choice|option))?(?:\s+to\s+(?:this|the)\s+(?:question|problem))?"
    r"(?:\s*\([^()\n]{0,40}\))?\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be|=|:)"
    r"|(?:correct|right|best|final)\s+(?:option|choice)\s+(?:is|would\s+be))(?![\w'’])",
    re.IGNORECASE,
)
_QUALIFIERS = re.compile(
    r"\s*(?i:(?:[:\-–—]|\b(?:most|very|quite|more|likely|probably|possibly|definitely|certainly|clearly|surely|"
    r"obviously|therefore|thus|then|so|indeed|actually|the|correct|right|best|final|answer|option|choice|"
    r"letter|either|would|be|is)\b)\s*)*"
)
# an option letter: "(B)" or a bare capital letter that is not a word's first letter ("I'm" or "I think" are no letter)
_LETTER = r"(?:\(([A-Z])\)|\b([A-Z])(?![\w'’])(?!(?<=I)\s+[a-z]))"
_OPTION = re.compile(_LETTER)
_HEDGE = re.compile(  # what joins a second option to the first: "(A) or (B)", "A, B or C", "(A) and (D)"
    r"\s*(?:[,/&;]\s*)?(?:(?i:or|and|nor|vs\.?|versus)\s+)?(?:(?i:option|choice)\s+)?" + _LETTER
)
_LEADING = re.compile(r"\s*(?:\(([A-Z])\)|([A-Z])(?=[).:]|\s*$))")
_SENTENCE_BREAK = re.compile(r"[.?!:;]\s")
_LETTER_TARGET = re.compile(r"^\(?([A-Z])\)?$")
_CASELESS = {"true", "false", "valid", "invalid", "yes", "no"}
UNPARSED = "<unparsed>"


def canonical_number(text: str) -> str | None:
    """'1,000' -> '1000', '$39.0' -> '39', '0.50' -> '0.5'; None if not a number."""
    try:
        value = Decimal(text.strip().replace(",", "").replace("$", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_answer(text: str, kind: str, choices: list[str] | None = None) -> str | None:
    """The answer a model gave in ``text``, or None when none (or more than one) can be found."""
    if kind == "numeric":
        return _numeric(text)
    if kind == "bbh":
        return _bbh(text)
    if kind == "choice":
        return _choice(text, choices)
    if kind == "label":
        if not choices:
            raise ValueError("kind 'label' needs the task's verbalisers as choices")
        return _label(text, choices)
    if kind == "text":
        return text.strip() or None
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {', '.join(KINDS)}")


def _empty(segment: str) -> bool:
    return not segment.strip(" \t\r\n.:")


def _segments(text: str, marks: list[re.Match]) -> list[str]:
    """The non-empty texts after each mark (up to the next mark), the last first."""
    ends = [m.start() for m in marks[1:]] + [len(text)]
    segments = [text[mark.end():end] for mark, end in zip(marks, ends)]
    return [segment for segment in reversed(segments) if not _empty(segment)]


def _answer_segments(text: str) -> list[str]:
    return _segments(text, list(_ANSWER_PHRASE.finditer(text)))


def _first_found(segments: list[str], parse) -> tuple[bool, str | None]:
    """(found, answer) of the last segment in which ``parse`` finds a number.

    A segment without one ("the answer (in words) is forty-seven") is skipped like an empty one;
    one with a number decides, even when it is no valid answer (a hedge, an equation without a
    result): then the answer is None and no earlier segment is read."""
    for segment in segments:
        found, answer = parse(segment)
        if found:
            return True, answer
    return False, None


def _to_number(text: str) -> str | None:
    return canonical_number(re.sub(rf"(?<=\d){_SPACE_GROUP}(?=\d{{3}}(?!\d))", "", text))


# from the answer's first number on: numbers, operators and "=" (a "." only as a decimal point)
_EQUATION = re.compile(r"(?:[\d$€£,()+\-*/×÷=^%\u00a0\u202f \t]|\.(?=\d)|(?<=\s)[x×](?=\s))*")
_NUMBER_HEDGE = re.compile(r"\s*(?:[^\W\d_]+\s+)?or\s+\$?(-?[\d,. \u00a0\u202f]*\d(?:\s*/\s*\d+)?)")


def _numeric(text: str) -> str | None:
    for marks in (list(re.finditer("####", text)), list(_ANSWER_PHRASE.finditer(text))):
        if marks:
            found, answer = _first_found(_segments(text, marks), _number_after)
            if found or _segments(text, marks):
                return answer
    if "\n" in text.strip():  # a chain of thought that never reached "####" or an answer phrase
        return None
    numbers = _NUMBER.findall(text)
    return _to_number(numbers[-1]) if numbers else None


def _number_after(segment: str) -> tuple[bool, str | None]:
    """The answer that starts ``segment``: its first number, or the result of the equation it starts."""
    first = _NUMBER.search(segment)
    if first is None:
        return False, None
    run = _EQUATION.match(segment, first.start()).group()
    if "=" in run:
        result = _NUMBER.search(run.rsplit("=", 1)[1])
        if result is None:
            return True, None
        end = first.start() + len(run.rsplit("=", 1)[0]) + 1 + result.end()
        answer = result.group()
    else:
        end, answer = first.end(), first.group()
    if (other := _NUMBER_HEDGE.match(segment, end)) and _value(other.group(1)) != _value(answer):
        return True, None
    return True, _to_number(answer)


def _value(number: str) -> Decimal | None:
    """'3/5' -> 0.6, '1,000' -> 1000: to tell "0.6 or 3/5" (one value) from "5 or 6" (a hedge)."""
    top, _, bottom = number.partition("/")
    try:
        value = Decimal(_to_number(top) or "NaN") / (Decimal(_to_number(bottom) or "NaN") if bottom else 1)
    except (InvalidOperation, ArithmeticError):
        return None
    return value.normalize() if value.is_finite() else None


def _bbh(text: str) -> str | None:
    segments = _answer_segments(text)
    segment = segments[0] if segments else None
    if segment is None:
        # no answer phrase: a direct answer ("(B)", "False", "} ] >") is one line without a sentence break;
        # anything else is a chain of thought that never reached "So the answer is": unparsed
        direct = text.strip()
        segment = direct if direct and "\n" not in direct and not _SENTENCE_BREAK.search(direct) else ""
    lines = [line.strip() for line in segment.splitlines() if line.strip()]
    answer = lines[0].removesuffix(".").strip() if lines else ""
    if not answer or _hedged_option(answer):
        return None
    return answer


def _parse_option(text: str) -> tuple[str | None, int, bool]:
    """(letter, end, bare) of an option named at the start of ``text`` after qualifiers; letter None if none."""
    start = _QUALIFIERS.match(text).end()
    found = _OPTION.match(text, start)
    if not found:
        return None, start, False
    return found.group(1) or found.group(2), found.end(), found.group(1) is None


def _hedged(rest: str, letter: str, letters: str | None, choices: list[str] | None = None) -> bool:
    """Whether ``rest`` (the text right after option ``letter``) names another option: a list joined by
    "or"/"and"/","/"/" ("(A) or (B)", "A, B or C"), or another "(X)" on the same line."""
    if choices and letters and letter in letters:
        skip = re.match(rf"\s*[).:,\-]?\s*{re.escape(choices[letters.index(letter)].strip())}(?![\w])",
                        rest, re.IGNORECASE)
        rest = rest[skip.end():] if skip else rest
    line = rest.split("\n", 1)[0]
    while found := _HEDGE.match(rest):
        other = found.group(1) or found.group(2)
        if other != letter and (letters is None or other in letters):
            return True
        rest = rest[found.end():]
    # another "(X)" on the answer's line: "(E) connecticut (C)", "(B) valley, but (D) fits too"
    return any(other != letter and (letters is None or other in letters) for other in re.findall(r"\(([A-Z])\)", line))


def _hedged_option(answer: str) -> bool:
    letter, end, _ = _parse_option(answer)
    return letter is not None and _hedged(answer[end:], letter, None)


def _choice(text: str, choices: list[str] | None) -> str | None:
    letters = ascii_uppercase[: len(choices)] if choices else "ABCDE"

    def after_phrase(segment: str) -> tuple[bool, str | None]:
        letter, end, _ = _parse_option(segment)
        if letter is not None:
            return True, letter if letter in letters and not _hedged(segment[end:], letter, letters, choices) else None
        line = segment.strip().split("\n", 1)[0]
        for named in (_options_named(line, letters), _choices_named(line, letters, choices)):
            if named:
                return True, named.pop() if len(named) == 1 else None
        return False, None

    segments = _answer_segments(text)
    if segments:  # the last non-empty answer phrase decides
        return after_phrase(segments[0])[1]
    found = _LEADING.match(text)
    if found:
        letter = found.group(1) or found.group(2)
        return letter if letter in letters and not _hedged(text[found.end():], letter, letters, choices) else None
    if "\n" in text.strip():  # a chain of thought that never reached an answer phrase
        return None
    for named in (_options_named(text, letters), _choices_named(text, letters, choices)):
        if named:
            return named.pop() if len(named) == 1 else None
    return None


def _options_named(text: str, letters: str) -> set[str]:
    return {m for m in re.findall(r"\(([A-Z])\)", text) if m in letters}


def _choices_named(text: str, letters: str, choices: list[str] | None) -> set[str]:
    return {letters[i] for i, c in enumerate(choices or []) if c.strip() and _find_word(c, text) is not None}


def _find_word(word: str, text: str) -> int | None:
    found = re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", text, re.IGNORECASE)
    return found.start() if found else None


def _label(text: str, verbalisers: list[str]) -> str | None:
    def first_label(segment: str) -> tuple[bool, str | None]:
        found = [(pos, v) for v in verbalisers if (pos := _find_word(v, segment)) is not None]
        if not found:
            return False, None
        pos, first = min(found, key=lambda pair: pair[0])
        rest = segment[pos + len(first.strip()):]
        for other in verbalisers:
            if other != first and re.match(rf"\s*(?:,\s*)?(?:or|and|/|,)\s*{re.escape(other.strip())}(?!\w)",
                                           rest, re.IGNORECASE):
                return True, None
        return True, first

    segments = _answer_segments(text)  # the last non-empty answer phrase decides
    return first_label(segments[0] if segments else text)[1]


def _letter(answer: str) -> str | None:
    """The option letter ``answer`` names as a whole answer ("(D)", "D", "D) text", "most likely D"), else None."""
    text = answer.strip().removesuffix(".").strip()
    letter, end, bare = _parse_option(text)
    if letter is None:
        return None
    rest = text[end:]
    if bare and rest and not re.match(r"[).:,]", rest):
        return None  # "I don't know", "A dog": a word, not an option
    if _hedged(rest, letter, None):
        return None
    return letter


def _collapse(text: str) -> str:
    return " ".join(text.split())


def is_correct(pred: str | None, target: str, kind: str) -> bool:
    if pred is None:
        return False
    if kind == "numeric":
        return _to_number(pred) is not None and _to_number(pred) == _to_number(target)
    if kind == "bbh":
        if _LETTER_TARGET.match(target.strip()):
            return _letter(pred) is not None and _letter(pred) == _letter(target)
        pred, target = _collapse(pred), _collapse(target)
        if target.lower() in _CASELESS:
            return pred.lower() == target.lower()
        return pred == target
    if kind == "choice":
        return _letter(pred) is not None and _letter(pred) == _letter(target)
    if kind in ("label", "text"):
        return _collapse(pred).casefold() == _collapse(target).casefold()
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {', '.join(KINDS)}")


def class_name(answer: str | None, kind: str) -> str:
    if answer is None:
        return UNPARSED
    if kind == "choice":
        return _letter(answer) or _collapse(answer)
    return _collapse(answer).casefold()


def score(records: list[dict], kind: str) -> dict:
    """Accuracy over rows {pred, target, output?}; macro-F1 for label/choice, ROUGE-L for text.

    Unparsed predictions (pred None) count as wrong. In macro-F1 they are a class of their
    own that is not averaged over, so they lower the recall of the true class only.
    ROUGE-L uses ``output`` (the raw text) when present, else ``pred`` (None -> "").
    """
    if not records:
        raise ValueError("no records to score")
    correct = [is_correct(r["pred"], str(r["target"]), kind) for r in records]
    result = {
        "n_total": len(records),
        "n_correct": sum(correct),
        "n_unparsed": sum(r["pred"] is None for r in records),
        "accuracy": sum(correct) / len(records),
    }
    if kind in ("label", "choice"):
        from sklearn.metrics import f1_score  # heavy imports stay out of workflow parsing

        truth = [class_name(str(r["target"]), kind) for r in records]
        preds = [class_name(r["pred"], kind) for r in records]
        labels = sorted((set(truth) | set(preds)) - {UNPARSED})
        result["macro_f1"] = float(f1_score(truth, preds, labels=labels, average="macro", zero_division=0))
    if kind == "text":
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        texts = [r.get("output", r["pred"]) or "" for r in records]
        result["rouge_l"] = float(np.mean(
            [scorer.score(str(r["target"]), t)["rougeL"].fmeasure for r, t in zip(records, texts)]
        ))
    return result
