"""Answer extraction, scoring and aggregation over seeds.

Answer kinds (``kind`` argument):

- ``numeric``: GSM8K style. The number after the last ``####`` if there is one, else the
  first number after the last "answer is", else the last number in the text. Thousands
  commas, ``$`` and units are dropped and the number is canonical ("1,000.50" -> "1000.5",
  "18.0" -> "18"). None if the text holds no number.
- ``bbh``: the text after the last "the answer is" (so also "So the answer is") up to the
  end of that line, without a trailing "."; without that phrase, the first non-empty line.
  Compared exactly (whitespace runs collapsed); "(D)", "D" and "D)" are equal when the
  target is a letter option; True/False/valid/invalid/Yes/No ignore case.
- ``choice``: the letter of a multiple-choice answer: "(B)", "B)", "B.", "answer is B",
  the last "(B)" in the text, or the text of exactly one choice -> its letter.
- ``label``: the first verbaliser (one of ``choices``) mentioned, case-insensitive, whole
  words; after the last "answer is" when the text has one.
- ``text``: the text itself, stripped; accuracy is exact match (case and whitespace
  insensitive), the main score is ROUGE-L F (rouge-score, no stemming).
"""

import math
import re
from decimal import Decimal, InvalidOperation
from string import ascii_uppercase

import numpy as np

KINDS = ("numeric", "bbh", "choice", "label", "text")

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer is", re.IGNORECASE)
_LETTER_TARGET = re.compile(r"^\(?([A-Z])\)?$")
_CASELESS = {"true", "false", "valid", "invalid", "yes", "no"}
_UNPARSED = "<unparsed>"


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
    """The answer a model gave in ``text``, or None when none can be found."""
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


def _after_answer_is(text: str) -> str | None:
    found = list(_ANSWER_IS.finditer(text))
    return text[found[-1].end():] if found else None


def _numeric(text: str) -> str | None:
    if "####" in text:
        numbers = _NUMBER.findall(text.rsplit("####", 1)[1])
        return canonical_number(numbers[0]) if numbers else None
    tail = _after_answer_is(text)
    if tail is not None and (numbers := _NUMBER.findall(tail)):
        return canonical_number(numbers[0])
    numbers = _NUMBER.findall(text)
    return canonical_number(numbers[-1]) if numbers else None


def _bbh(text: str) -> str | None:
    tail = _after_answer_is(text)
    lines = (tail if tail is not None else text).strip().splitlines()
    answer = lines[0].strip() if lines else ""
    return answer.removesuffix(".").strip() or None


def _choice(text: str, choices: list[str] | None) -> str | None:
    letters = ascii_uppercase[: len(choices)] if choices else "ABCDE"
    tail = _after_answer_is(text)
    if tail is not None:
        found = re.match(r"\s*[:\-]?\s*\(?([A-Z])\)?(?!\w)", tail)
        if found and found.group(1) in letters:
            return found.group(1)
    found = re.match(r"\s*(?:\(([A-Z])\)|([A-Z])(?:[).:]|\s*$))", text)
    if found and (found.group(1) or found.group(2)) in letters:
        return found.group(1) or found.group(2)
    options = [letter for letter in re.findall(r"\(([A-Z])\)", text) if letter in letters]
    if options:
        return options[-1]
    if choices:
        segment = tail if tail is not None else text
        named = [i for i, c in enumerate(choices) if _find_word(c, segment) is not None]
        if len(named) == 1:
            return letters[named[0]]
    return None


def _find_word(word: str, text: str) -> int | None:
    found = re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", text, re.IGNORECASE)
    return found.start() if found else None


def _label(text: str, verbalisers: list[str]) -> str | None:
    tail = _after_answer_is(text)
    for segment in ([tail] if tail is not None else []) + [text]:
        found = [(pos, v) for v in verbalisers if (pos := _find_word(v, segment)) is not None]
        if found:
            return min(found, key=lambda pair: pair[0])[1]
    return None


def _letter(answer: str) -> str | None:
    found = re.match(r"\(?([A-Z])\)?(?!\w)", answer.strip())
    return found.group(1) if found else None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def is_correct(pred: str | None, target: str, kind: str) -> bool:
    if pred is None:
        return False
    if kind == "numeric":
        return canonical_number(pred) is not None and canonical_number(pred) == canonical_number(target)
    if kind == "bbh":
        if _LETTER_TARGET.match(target.strip()):
            return _letter(pred) == _letter(target)
        pred, target = _collapse(pred), _collapse(target)
        if target.lower() in _CASELESS:
            return pred.lower() == target.lower()
        return pred == target
    if kind == "choice":
        return _letter(pred) is not None and _letter(pred) == _letter(target)
    if kind in ("label", "text"):
        return _collapse(pred).casefold() == _collapse(target).casefold()
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {', '.join(KINDS)}")


def _class_name(answer: str | None, kind: str) -> str:
    if answer is None:
        return _UNPARSED
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

        truth = [_class_name(str(r["target"]), kind) for r in records]
        preds = [_class_name(r["pred"], kind) for r in records]
        labels = sorted((set(truth) | set(preds)) - {_UNPARSED})
        result["macro_f1"] = float(f1_score(truth, preds, labels=labels, average="macro", zero_division=0))
    if kind == "text":
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rougeL"])
        texts = [r.get("output", r["pred"]) or "" for r in records]
        result["rouge_l"] = float(np.mean(
            [scorer.score(str(r["target"]), t)["rougeL"].fmeasure for r, t in zip(records, texts)]
        ))
    return result


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, lo, hi): a t-distribution confidence interval of the mean.

    With one value the std is 0 and the interval is the value itself.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return mean, 0.0, mean, mean
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1)) * std / math.sqrt(x.size)
    return mean, std, mean - half, mean + half


def paired_diff(a, b) -> tuple[float, float | None]:
    """(mean of a - b, two-sided paired t-test p value) over paired seeds.

    p is None with fewer than two pairs; when all differences are equal (zero variance)
    p is 1.0 if they are 0, else 0.0.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"paired_diff needs two equally long, non-empty lists, got {x.shape} and {y.shape}")
    diff = x - y
    mean = float(diff.mean())
    if diff.size < 2:
        return mean, None
    if np.all(diff == diff[0]):
        return mean, 1.0 if mean == 0 else 0.0
    from scipy import stats

    return mean, float(stats.ttest_rel(x, y).pvalue)
