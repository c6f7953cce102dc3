"""Load a task split from its spec into normalised rows.

A normalised row is ``{"id", "input", "target", "choices" (multichoice and classification
only), "meta"}``; ``meta.rationale`` holds chain-of-thought text when the source has one.

Split spec keys
---------------
family       required: math | classification | multichoice | bbh | instruction (a task entry
             in config/tasks.yaml gives it once for all its splits, see ``task_split_spec``)
source       local (default) | package | hf
  local:     path     file; "{data_root}/..." is resolved against ``data_root``, any other
                      path against the current directory
             format   jsonl | json | csv | tsv (default: the file suffix)
             records  json only: dotted key path of the list of records, e.g. "examples"
                      (default: the top level is the list)
             header   csv/tsv: the first row names the columns (default true); without a
                      header the columns are named "0", "1", ...
  package:   package  "reasoning_gym"; dataset (e.g. "gsm_symbolic"), size (rows to generate),
                      seed (generator seed, default 0; item i of seed s is item s + i of seed 0
                      for most generators, so splits need seeds a split size apart) and
                      options (the generator's keyword arguments)
  hf:        name, config (optional), split: ``datasets.load_dataset(name, config, split=split)``,
             imported only when such a split is loaded
fields       normalised name -> source field path (default {input: input, target: target}).
             Paths are dotted ("question.stem"); a number indexes a list ("lSolutions.0");
             "*" maps over a list ("question.choices.*.text"). ``input`` may be a list of
             paths, joined with ``join``. ``id`` names an id field, ``choices`` the options
             (multichoice only); any other name (``rationale``, ...) goes to ``meta``.
join         separator for a list ``input`` (default " ")
unescape     replace the two characters "\\n" by a newline in all text (Flan tsv; default false)
answer       plain (default) | gsm8k: the target field is "<reasoning> #### <number>"; the
             number is the target, the reasoning (calculator annotations <<..>> removed)
             becomes meta.rationale
choice_labels  multichoice: the target is one of the options' own labels, not a letter: the field path of
             the labels (ARC: "choices.label", which may be "1".."4") or their list in option order
             (HellaSwag ["0", "1", "2", "3"], WinoGrande ["1", "2"]); the target becomes the letter of the
             labelled option. ``choices`` may also be a list of fields, one per option ([sol1, sol2]).
labels       classification: raw label -> verbaliser ({0: negative, 1: positive}), or a list
             of verbalisers when the raw labels are the verbalisers; raw labels compare as
             text; ``choices`` = the verbalisers in this order
skip         drop the first N source rows (default 0)
limit        keep at most N rows (default all; more than available keeps all, no error)
sample       random (default): the N rows with the smallest sha256("<seed>:<id>"), a seeded
             sample that does not depend on library versions and is kept in source order;
             first: the first N rows
seed         seed of ``sample: random`` (and of a package generator), default 0
id_prefix    id prefix (default: the file stem; package: "<dataset>-s<seed>"; hf: "<name>-<split>")
sources      a list of source specs concatenated into one split; each inherits the outer
             keys except skip/limit/sample, which the outer spec applies to the concatenation

Ids are the mapped ``id`` field, else "<id_prefix>-<row index in the source>" (index
before ``skip``), so they are stable across runs, limits and seeds.

Family rules: math targets are canonical numbers ("39.0" -> "39", "1,000" -> "1000") and a
trailing "#### N" line is dropped from the rationale; multichoice inputs are the question
stem, choices the option texts (a leading "A)" or "(A)" is removed) and the target the
option letter (given as "C", "(C)" or the option text); bbh and instruction keep input and
target as given. StrategyQA is a classification task with verbalisers yes/no.
"""

import hashlib
import os
import re
from string import ascii_uppercase
from typing import Any

from algrid.errors import ConfigError
from algrid.metrics import canonical_number
from algrid.sources import Raw, Source, file_format, read_hf, read_local, read_package
from algrid.specs import check_split_spec, check_tasks, inherit, resolve_path, task_split_spec

__all__ = ["load_split", "check_split_spec", "remove_overlap", "check_tasks", "task_split_spec",
           "resolve_path"]

CORE_FIELDS = ("id", "input", "target", "choices")
_CALCULATOR = re.compile(r"<<[^<>]*>>")
_FINAL_ANSWER_LINE = re.compile(r"\n?[ \t]*####[^\n]*\s*$")


def load_split(spec: dict, *, key: str, data_root: str | os.PathLike = "../shared/data") -> list[dict]:
    check_split_spec(spec, key=key, data_root=data_root)
    return _load(spec, key, data_root)


def remove_overlap(pool: list[dict], *others: list[dict]) -> list[dict]:
    """Pool rows whose input (whitespace-collapsed, case-folded) is in none of ``others``."""
    taken = {_comparable(row["input"]) for rows in others for row in rows}
    return [row for row in pool if _comparable(row["input"]) not in taken]


def _comparable(text: str) -> str:
    return " ".join(text.split()).casefold()


def _load(spec: dict, key: str, data_root) -> list[dict]:
    if "sources" in spec:
        rows: list[dict] = []
        for i, inner in enumerate(spec["sources"]):
            rows += _load(inherit(spec, inner), f"{key}.sources[{i}]", data_root)
        ids = [row["id"] for row in rows]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"{key}.sources", f"duplicate id {duplicate!r} across sources; "
                              "give each source its own id_prefix")
        return _select(rows, spec)
    source = _read(spec, key, data_root)
    rows, first_seen = [], {}
    for raw in source.rows[spec.get("skip", 0):]:
        row = _normalise(source, raw, spec)
        if row["id"] in first_seen:
            raise source.error(raw, f"duplicate id {row['id']!r} (also {first_seen[row['id']]})")
        first_seen[row["id"]] = f"line {raw.line}" if raw.line else f"row {raw.index}"
        rows.append(row)
    return _select(rows, spec)


def _read(spec: dict, key: str, data_root) -> Source:
    source = spec.get("source", "local")
    if source == "package":
        return read_package(spec, key)
    if source == "hf":
        return read_hf(spec, key)
    path = resolve_path(str(spec["path"]), data_root)
    return read_local(path, file_format(path, spec.get("format")), records=spec.get("records"),
                      header=spec.get("header", True), name=spec.get("id_prefix", path.stem))


def _select(rows: list[dict], spec: dict) -> list[dict]:
    limit = spec.get("limit")
    if limit is None or limit >= len(rows):
        return rows
    if spec.get("sample", "random") == "first":
        return rows[:limit]
    seed = spec.get("seed", 0)
    rank = sorted(range(len(rows)), key=lambda i: hashlib.sha256(f"{seed}:{rows[i]['id']}".encode()).digest())
    return [rows[i] for i in sorted(rank[:limit])]


def _normalise(source: Source, raw: Raw, spec: dict) -> dict:
    fields = {"input": "input", "target": "target", **spec.get("fields", {})}
    unescape = spec.get("unescape", False)

    def text(name: str, path: str) -> str:
        value = _lookup(source, raw, path)
        if isinstance(value, (dict, list)):
            raise source.error(raw, f"field '{path}' ({name}) holds a {type(value).__name__}, expected text")
        value = "" if value is None else str(value)
        return (value.replace("\\n", "\n") if unescape else value).strip()

    paths = fields["input"] if isinstance(fields["input"], list) else [fields["input"]]
    row: dict[str, Any] = {
        "id": text("id", fields["id"]) if "id" in fields else f"{source.name}-{raw.index}",
        "input": spec.get("join", " ").join(part for p in paths if (part := text("input", p))),
        "target": text("target", fields["target"]),
    }
    meta = {name: text(name, path) for name, path in fields.items() if name not in CORE_FIELDS}
    for name in ("id", "input", "target"):
        if not row[name]:
            where = " + ".join(paths) if name == "input" else fields[name]
            raise source.error(raw, f"empty {name} (field '{where}')")
    family = spec["family"]
    if family == "math":
        _math(source, raw, spec, row, meta, fields["target"])
    elif family == "classification":
        _classification(source, raw, spec["labels"], row, fields["target"])
    elif family == "multichoice":
        if isinstance(fields["choices"], list):  # one field per option (option1, option2)
            choices = [_lookup(source, raw, path) for path in fields["choices"]]
        else:
            choices = _lookup(source, raw, fields["choices"])
        if not isinstance(choices, list) or not choices or any(isinstance(c, (dict, list)) for c in choices):
            raise source.error(raw, f"field '{fields['choices']}' (choices) must be a non-empty list of texts")
        choices = [str(c).replace("\\n", "\n") if unescape else str(c) for c in choices]
        if "choice_labels" in spec:
            row["target"] = _choice_letter(source, raw, spec["choice_labels"], len(choices), row["target"],
                                           fields["target"])
        _multichoice(source, raw, choices, row, fields["target"])
    row["meta"] = meta
    return row


def _math(source: Source, raw: Raw, spec: dict, row: dict, meta: dict, field: str) -> None:
    answer = row["target"]
    if spec.get("answer") == "gsm8k":
        if "####" not in answer:
            raise source.error(raw, f"answer has no '####' separator (field '{field}'); expected "
                               "'<reasoning> #### <number>', or set answer: plain for a bare number")
        meta["rationale"], answer = answer.rsplit("####", 1)
        if not answer.strip():
            raise source.error(raw, f"empty answer after '####' (field '{field}')")
    number = canonical_number(answer)
    if number is None:
        raise source.error(raw, f"target {answer.strip()!r} is not a number (field '{field}')")
    row["target"] = number
    if "rationale" in meta:
        meta["rationale"] = _FINAL_ANSWER_LINE.sub("", _CALCULATOR.sub("", meta["rationale"])).strip()


def _classification(source: Source, raw: Raw, labels, row: dict, field: str) -> None:
    mapping = {str(k): v for k, v in labels.items()} if isinstance(labels, dict) else {v: v for v in labels}
    if row["target"] not in mapping:
        raise source.error(raw, f"unknown label {row['target']!r} (field '{field}'); known labels: "
                           f"{', '.join(mapping)}; add it to `labels`")
    row["target"] = mapping[row["target"]]
    row["choices"] = list(dict.fromkeys(mapping.values()))


def _choice_letter(source: Source, raw: Raw, labels, n: int, target: str, field: str) -> str:
    """The option letter of a raw target given as one of the options' labels (ARC's "1".."4" or "A".."E", a
    0-based "0".."3", a 1-based "1"/"2"): ``labels`` is their field path or the list of them in option order."""
    if isinstance(labels, str):
        found = _lookup(source, raw, labels)
        if not isinstance(found, list) or any(isinstance(v, (dict, list)) for v in found):
            raise source.error(raw, f"field '{labels}' (choice_labels) must be a list of labels")
        labels = found
    labels = [str(v).strip() for v in labels]
    if target not in labels or labels.index(target) >= n:
        raise source.error(raw, f"target {target!r} (field '{field}') is not the label of one of the {n} options "
                           f"(choice_labels: {', '.join(labels[:n])})")
    return ascii_uppercase[labels.index(target)]


def _multichoice(source: Source, raw: Raw, choices: list[str], row: dict, field: str) -> None:
    letters = ascii_uppercase[: len(choices)]
    row["choices"] = [re.sub(rf"^\s*\(?{letter}\)\s*", "", c).strip() for letter, c in zip(letters, choices)]
    target = row["target"]
    found = re.fullmatch(r"\(?([A-Z])\)?", target)
    if found:
        letter = found.group(1)
    else:
        named = [i for i, c in enumerate(row["choices"]) if c.casefold() == target.casefold()]
        letter = letters[named[0]] if named else None
    if letter is None or letter not in letters:
        raise source.error(raw, f"target {target!r} (field '{field}') is neither an option letter "
                           f"A-{letters[-1]} nor one of the {len(choices)} choices")
    row["target"] = letter


def _lookup(source: Source, raw: Raw, path: str) -> Any:
    try:
        return _dig(raw.record, path.split("."))
    except LookupError as e:
        where, have = e.args
        holder = f"'{where}' has" if where else "the row has"
        raise source.error(raw, f"missing field '{path}': {holder} {have}") from None


def _dig(value: Any, parts: list[str], done: str = "") -> Any:
    for i, part in enumerate(parts):
        if part == "*" and isinstance(value, list):
            return [_dig(item, parts[i + 1:], f"{done}.*".lstrip(".")) for item in value]
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            have = f"keys: {', '.join(map(str, value))}" if isinstance(value, dict) else (
                f"a list of {len(value)} items" if isinstance(value, list) else f"the value {value!r}")
            raise LookupError(done, have)
        done = f"{done}.{part}".lstrip(".")
    return value
