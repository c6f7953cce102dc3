"""Answer extraction and scoring: small hand cases, all real GSM8K and BBH answers, and real model outputs
with hand labels (tests/data/real_outputs)."""

import json
import re
from pathlib import Path

import pytest

from algrid.metrics import canonical_number, extract_answer, is_correct, score
from conftest import require_data

REAL_OUTPUTS = Path(__file__).resolve().parent / "data" / "real_outputs"


def real(path: str) -> Path:
    """A file of the real data in ../shared/data; missing data fails the test (CI has it)."""
    return require_data() / path


@pytest.mark.parametrize(("text", "expected"), [
    ("18.0", "18"), ("1,000", "1000"), ("$0.50", "0.5"), ("-7", "-7"), ("abc", None), ("", None), ("nan", None),
])
def test_canonical_number(text, expected):
    assert canonical_number(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("So 3 + 4 = 7.\n#### 7", "7"),
    ("#### 5\nlater 9\n#### $1,234.50 dollars", "1234.5"),
    ("The answer is 42. Then 7 more.", "42"),
    ("I have 3 apples and 5 pears", "5"),
    ("It is -3 degrees", "-3"),
    ("5-3=2", "2"),
    ("values 5,6", "6"),
    ("The total is 18.0 kg.", "18"),
    ("no numbers here", None),
    ("#### none", None),
    # an equation after the answer phrase: its result, not its first operand
    ("the answer is 676 - 224 = 452", "452"),
    ("Therefore, the answer (arabic numerals) is 9 + 8 = 17.", "17"),
    ("The answer is: \n\n31 + 11 - 5 = 37", "37"),
    ("#### 1600*3.5 = $5600", "5600"),
    ("The answer is 5 + 3 =", None),
    ("The answer is 12 (3 + 9 = 12) apples", "12"),
    ("Therefore, the answer (arabic numerals) is 452, not 17.", "452"),
    # a space as thousands separator
    ("The answer is 118 000.", "118000"),
    ("The answer is 1 234 567 dollars", "1234567"),
    ("The answer is 5 10", "5"),
    # an empty final answer phrase falls back to an earlier one; one without a number too
    ("The answer is 12.\nWe had 3 apples. So the answer is", "12"),
    ("The answer (arabic numerals) is 47.\nThe answer (words) is forty-seven.", "47"),
    # a phrase followed by no number at all is no answer: no fall back to the reasoning
    ("She has 5 apples.\nThe answer is unknown.", None),
    # a hedge between numbers is no answer; one value in two forms is one answer
    ("The answer is 5 or 6.", None),
    ("The answer is 0.6 or 3/5.", "0.6"),
    # a chain of thought that never reached "####" or an answer phrase is unparsed
    ("He has 3 apples.\nThen he buys 5 more", None),
])
def test_numeric_extraction(text, expected):
    assert extract_answer(text, "numeric") == expected


def test_numeric_correctness():
    assert is_correct("18.0", "18", "numeric")
    assert is_correct("118 000", "118000", "numeric")
    assert is_correct("1,000", "1000", "numeric")
    assert not is_correct("17", "18", "numeric")
    assert not is_correct(None, "18", "numeric")


def test_every_gsm8k_gold_answer_is_extracted():
    rows = [json.loads(line) for name in ("train.jsonl", "test.jsonl")
            for line in real(f"gsm8k/{name}").read_text().splitlines()]
    assert len(rows) == 8792
    for row in rows:
        gold = row["answer"].split("####")[-1].strip().replace(",", "")
        assert extract_answer(row["answer"], "numeric") == gold, row["answer"]
        reasoning = row["answer"].split("####")[0]
        assert extract_answer(f"{reasoning}\nThe answer is {gold}.", "numeric") == gold


@pytest.mark.parametrize(("text", "expected"), [
    ("Let's think. So the answer is (D).", "(D)"),
    ("the answer is valid.\n\nQ: next question ... the", "valid"),
    ("So the answer is } ] >.", "} ] >"),
    ("(B)", "(B)"),
    ("False", "False"),
    ("   ", None),
    # no answer phrase: a chain of thought cut off before "So the answer is" is unparsed, not its first line
    ("(B)\nQ: more", None),
    ("If today is 12/02/1987, then tomorrow is 12/03/1987. The date one month ago", None),
    ("Let's see.\nIf today is 12/02/1987, then", None),
    # an empty final phrase falls back to the one before it
    ("So the answer is (C).\nQ: x\nA: So the answer is", "(C)"),
    # a hedge is no answer
    ("So the answer is (A) or (B).", None),
    ("So the answer is A, B or C.", None),
    ("So the answer is (A) and (D).", None),
])
def test_bbh_extraction(text, expected):
    assert extract_answer(text, "bbh") == expected


@pytest.mark.parametrize(("pred", "target", "expected"), [
    ("D", "(D)", True), ("(D) 12/14/1937", "(D)", True), ("D)", "(D)", True), ("(C)", "(D)", False),
    ("true", "True", True), ("Invalid", "invalid", True), ("valid", "invalid", False), ("yes", "Yes", True),
    ("} ]  >", "} ] >", True), ("word sort", "Word sort", False), ("12", "12", True), ("12.0", "12", False),
    # letter targets: one option named as a whole answer, qualifiers skipped
    ("most likely (C)", "(C)", True), ("option D", "(D)", True), ("D. 12/14/1937", "(D)", True),
    ("(A) or (B)", "(A)", False), ("(A) or (B)", "(B)", False), ("A, B or C", "(C)", False),
    ("(A) and (D)", "(D)", False),
    ("I don't know", "(I)", False), ("A dog", "(A)", False), ("Invalid", "(I)", False),
])
def test_bbh_correctness(pred, target, expected):
    assert is_correct(pred, target, "bbh") is expected


def test_every_bbh_prompt_answer_is_extracted():
    files = sorted(real("bbh/cot-prompts").glob("*.txt"))
    assert len(files) == 27
    found = 0
    for path in files:
        for answer in path.read_text().split("\nA: ")[1:]:
            answer = answer.split("\n\nQ: ")[0]
            expected = re.search(r"So the answer is (.+)\.\s*$", answer).group(1)
            pred = extract_answer(answer, "bbh")
            assert pred == expected and is_correct(pred, expected, "bbh"), (path.name, answer)
            found += 1
    assert found == 81


def test_every_bbh_target_round_trips():
    for path in sorted(real("bbh/bbh").glob("*.json")):
        for example in json.loads(path.read_text())["examples"]:
            target = example["target"]
            pred = extract_answer(f"Step by step.\nSo the answer is {target}.", "bbh")
            assert is_correct(pred, target, "bbh"), (path.name, target, pred)


@pytest.mark.parametrize(("text", "choices", "expected"), [
    ("(B)", None, "B"),
    ("B) blue", ["red", "blue"], "B"),
    ("C. because", None, "C"),
    ("B", ["red", "blue"], "B"),
    ("Hmm (A) or (C)... the answer is (D).", None, "D"),
    ("Therefore, the answer is C because it fits", None, "C"),
    ("Option (A) is wrong, option (C) fits", None, None),  # no answer phrase, two options: no single answer
    ("I think (C) fits", None, "C"),
    ("I would pick blue.", ["red", "blue"], "B"),
    ("A car is red or blue", ["red", "blue"], None),
    ("E", ["red", "blue"], None),
    ("Nothing here", ["red", "blue"], None),
])
def test_choice_extraction(text, choices, expected):
    assert extract_answer(text, "choice", choices) == expected


FIVE = ["cold", "light", "heat", "wind", "rain"]


@pytest.mark.parametrize(("text", "expected"), [
    # a qualifier between the answer phrase and the letter
    ("So the answer is most likely C, heat.", "C"),
    ("The answer is probably B.", "B"),
    ("The answer is option D", "D"),
    ("The answer is: (E) rain", "E"),
    ("The correct option is (A).", "A"),
    # a hedge names several options: no answer, whichever the target is
    ("So the answer is (A) or (B).", None),
    ("So the answer is (A) and (D).", None),
    ("So the answer is A, B or C.", None),
    ("The answer is either A or B", None),
    ("(A) or (B)", None),
    ("(E) rain (C)", None),
    ("So the answer is (C) heat or (B) light.", None),
    # a letter after the phrase that is not an option is no answer: no fall back to the reasoning's (B)
    ("(B) looks right. So the answer is F.", None),
    ("(B) looks right. So the answer is I don't know.", None),
    ("(B) looks right. So the answer is unclear.", None),
    # the last answer phrase decides; an empty one falls back to the one before it
    ("The answer is (D) wind.\nAnswer: C So the answer is (C).", "C"),
    ("So the answer is (B).\nSo the answer is", "B"),
    # the phrase followed by an option's text
    ("So the answer is heat.", "C"),
    # a chain of thought without an answer phrase is unparsed, even if it mentions one option
    ("Heat rises.\nThe (C) option fits", None),
])
def test_choice_rules(text, expected):
    assert extract_answer(text, "choice", FIVE) == expected
    for target in "ABCDE":
        assert is_correct(extract_answer(text, "choice", FIVE), target, "choice") is (expected == target)


@pytest.mark.parametrize(("pred", "target", "expected"), [
    ("C", "C", True), ("(C)", "C", True), ("C", "(C)", True), ("B", "C", False),
    ("I don't know", "I", False), ("A dog", "A", False), ("(A) or (B)", "A", False), ("A, B or C", "B", False),
])
def test_choice_correctness_is_whole_answer(pred, target, expected):
    assert is_correct(pred, target, "choice") is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Positive.", "positive"),
    ("not negative at all, positive", "negative"),
    ("Negative words, but the answer is positive", "positive"),
    ("positively great", None),
    ("It is Sci/Tech news", "Sci/Tech"),
    ("The answer is positive or negative", None),  # a hedge
    ("There is no doubt.\nThe answer is not known.", None),  # no label after the phrase: no fall back
])
def test_label_extraction(text, expected):
    choices = ["negative", "positive", "Sci/Tech"]
    assert extract_answer(text, "label", choices) == expected


def test_label_needs_choices_and_kind_must_be_known():
    with pytest.raises(ValueError):
        extract_answer("positive", "label")
    with pytest.raises(ValueError, match="unknown answer kind"):
        extract_answer("x", "regex")


def test_text_extraction():
    assert extract_answer("  a reply \n", "text") == "a reply"
    assert extract_answer(" \n", "text") is None


def test_score_label_accuracy_and_macro_f1():
    rows = [{"pred": "positive", "target": "positive"}, {"pred": None, "target": "positive"},
            {"pred": "negative", "target": "negative"}, {"pred": "positive", "target": "negative"}]
    result = score(rows, "label")
    # positive: P 1/2, R 1/2 -> F1 1/2; negative: P 1, R 1/2 -> F1 2/3
    assert result == pytest.approx({"n_total": 4, "n_correct": 2, "n_unparsed": 1, "accuracy": 0.5,
                                    "macro_f1": (1 / 2 + 2 / 3) / 2})


def test_score_choice_normalises_letters():
    rows = [{"pred": "B", "target": "(B)"}, {"pred": "A", "target": "B"}, {"pred": "A", "target": "A"}]
    result = score(rows, "choice")
    # A: P 1/2, R 1 -> 2/3; B: P 1, R 1/2 -> 2/3
    assert result["n_correct"] == 2 and result["macro_f1"] == pytest.approx(2 / 3)


def test_score_text_rouge_l():
    rows = [{"pred": "the cat", "target": "the cat sat"},
            {"pred": "ignored", "output": "dog", "target": "a bird"}]
    result = score(rows, "text")
    # LCS 2 of 2 predicted and 3 reference tokens: F = 2 * 1 * 2/3 / (1 + 2/3) = 0.8; then 0
    assert result["rouge_l"] == pytest.approx(0.4)
    assert result["accuracy"] == 0


def test_score_numeric_and_empty():
    result = score([{"pred": "18", "target": "18.0"}, {"pred": None, "target": "3"}], "numeric")
    assert result == {"n_total": 2, "n_correct": 1, "n_unparsed": 1, "accuracy": 0.5}
    with pytest.raises(ValueError):
        score([], "numeric")


# Real model outputs (SmolLM2-135M-Instruct, greedy, algrid's prompts on ../shared/data), each labelled by
# hand with "expected": the answer a careful reader extracts, or null where the output names no single
# answer (cut off before answering, a hedge). Rows where algrid's documented rules and the reader differ
# are listed here with the reason; any other difference fails.
REAL_KINDS = {"gsm8k": "numeric", "multiarith": "numeric", "svamp": "numeric", "aqua": "choice",
              "commonsenseqa": "choice", "bbh": "bbh"}
KNOWN_MISSES = {
    # a chain of thought without "####" or an answer phrase is unparsed, though its last line states a result
    ("gsm8k", "test-301"): "no '####': 'So, there are 120 pieces of paper needed ...' is read as unparsed",
    ("aqua", "test-14"): "cut off, no answer phrase: 'Hence, there are 7! = 5040 ...' (option C) is read as unparsed",
    ("multiarith", "MultiArith-25"): "no answer phrase: '... we find the answer by dividing ...: 1010 / 29 = 4.4.'",
    ("multiarith", "MultiArith-32"): "no answer phrase: 'Therefore, Carol had 22 points at the end of the game.'",
    ("multiarith", "MultiArith-37"): "no answer phrase: 'Therefore, Roger has 3 dollars left.'",
}


def real_outputs():
    return sorted(REAL_OUTPUTS.glob("*.jsonl"))


def real_kind(path: Path) -> str:
    return REAL_KINDS[path.stem.split("_")[0]]


def same_answer(pred, expected, kind) -> bool:
    if pred is None or expected is None:
        return pred is None and expected is None
    return is_correct(pred, expected, kind)


def test_real_outputs_are_fixtures_not_data():
    assert len(real_outputs()) >= 8
    for path in real_outputs():
        for row in map(json.loads, path.read_text().splitlines()):
            assert set(row) <= {"id", "target", "choices", "output", "source", "expected"}, path.name
            assert row["source"] == "SmolLM2-135M-Instruct greedy, algrid prompt"


@pytest.mark.parametrize("path", real_outputs(), ids=lambda p: p.stem)
def test_real_outputs_agree_with_hand_labels(path):
    kind = real_kind(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    misses = set()
    for row in rows:
        pred = extract_answer(row["output"], kind, row.get("choices"))
        expected, target = row["expected"], str(row["target"])
        correct_by_label = expected is not None and is_correct(expected, target, kind)
        if not same_answer(pred, expected, kind) or is_correct(pred, target, kind) != correct_by_label:
            misses.add((path.stem.split("_")[0], row["id"]))
    print(f"{path.stem}: algrid agrees with the hand label on {len(rows) - len(misses)}/{len(rows)} rows")
    assert misses == {key for key in KNOWN_MISSES if key[0] == path.stem.split("_")[0]
                      and key[1] in {r["id"] for r in rows}}
