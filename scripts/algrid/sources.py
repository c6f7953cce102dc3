"""Raw rows from data sources: local files (jsonl/json/csv/tsv), PyPI packages, Hugging Face.

Every row keeps where it came from (file and line, or row index) so that errors found
later, while normalising, can name the place to fix. See ``algrid.data`` for the spec keys.
"""

import bisect
import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algrid.errors import ConfigError, DataError
from algrid.io import read_text

FORMATS = ("jsonl", "json", "csv", "tsv")
PACKAGES = ("reasoning_gym",)


@dataclass(frozen=True)
class Raw:
    """One source row: ``index`` in the source (0-based), ``line`` in the file (1-based) if any."""

    index: int
    line: int | None
    record: Any


@dataclass(frozen=True)
class Source:
    origin: str  # file path or "hf:name/config:split", used in error messages
    name: str  # id prefix: "<name>-<index>"
    rows: list[Raw]

    def error(self, row: Raw, problem: str) -> DataError:
        if row.line is not None:
            return DataError(self.origin, problem, line=row.line)
        return DataError(self.origin, f"row {row.index}: {problem}")


def file_format(path: Path, given: str | None) -> str | None:
    fmt = given or path.suffix.lstrip(".").lower()
    return fmt if fmt in FORMATS else None


def read_local(path: Path, fmt: str, *, records: str | None, header: bool, name: str) -> Source:
    if not path.is_file():
        raise DataError(path, "file not found")
    return parse(path, read_text(path), fmt, records=records, header=header, name=name)


def parse(path, text: str, fmt: str, *, records: str | None, header: bool, name: str) -> Source:
    """Rows of a file's text; ``path`` (a path or URL) names it in errors."""
    if not text.strip():
        raise DataError(path, "file is empty (no rows)")
    if fmt == "jsonl":
        rows = _jsonl(path, text)
    elif fmt == "json":
        rows = _json(path, text, records)
    else:
        rows = _delimited(path, text, "\t" if fmt == "tsv" else ",", header)
    if not rows:
        raise DataError(path, "no data rows" + (" after the header" if fmt in ("csv", "tsv") and header else ""))
    return Source(str(path), name, rows)


def _jsonl(path: Path, text: str) -> list[Raw]:
    rows = []
    for line_no, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is text
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"malformed JSON line: {e.msg} (column {e.colno})", line=line_no) from None
        if not isinstance(record, dict):
            raise DataError(path, f"expected a JSON object per line, got {type(record).__name__}", line=line_no)
        rows.append(Raw(len(rows), line_no, record))
    return rows


def _json(path: Path, text: str, records: str | None) -> list[Raw]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "; the file holds several JSON values: set format: jsonl" if e.msg == "Extra data" else ""
        raise DataError(path, f"malformed JSON: {e.msg} (column {e.colno}){hint}", line=e.lineno) from None
    keys = records.split(".") if records else []
    for depth, key in enumerate(keys):
        if not isinstance(doc, dict) or key not in doc:
            where = ".".join(keys[:depth]) or "the top level"
            have = ", ".join(doc) if isinstance(doc, dict) else type(doc).__name__
            raise DataError(path, f"records '{records}': no key '{key}' in {where} (it has: {have})")
        doc = doc[key]
    if not isinstance(doc, list):
        have = f"an object with keys {', '.join(doc)}" if isinstance(doc, dict) else type(doc).__name__
        raise DataError(path, f"expected a list of records at '{records or 'the top level'}', found {have}; "
                        "set `records` to the key that holds the list")
    lines = _element_lines(text, keys)
    return [Raw(i, line, record) for i, (line, record) in enumerate(zip(lines, doc))]


def _element_lines(text: str, keys: list[str]) -> list[int]:
    """1-based line of each element of the list at ``keys`` in a (valid) JSON text."""
    decoder = json.JSONDecoder()
    newlines = [m.start() for m in re.finditer("\n", text)]
    ws = re.compile(r"\s*")

    def skip(pos: int) -> int:
        return ws.match(text, pos).end()

    pos = skip(0)
    for key in keys:  # walk into nested objects: at "{"
        pos = skip(pos + 1)
        while True:
            name, pos = decoder.raw_decode(text, pos)
            pos = skip(skip(pos) + 1)  # past ":"
            if name == key:
                break
            _, pos = decoder.raw_decode(text, pos)
            pos = skip(skip(pos) + 1)  # past ","
    starts = []
    pos = skip(pos + 1)  # past "["
    while text[pos] != "]":
        starts.append(pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = skip(pos)
        if text[pos] == ",":
            pos = skip(pos + 1)
    return [bisect.bisect_left(newlines, start) + 1 for start in starts]


def _delimited(path: Path, text: str, delimiter: str, header: bool) -> list[Raw]:
    # tsv files are not quoted (SST-2 sentences hold bare quotes); csv files may be
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    names: list[str] | None = None
    rows: list[Raw] = []
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if header and names is None:
            names = cells
            continue
        expected = len(names) if names else len(rows[0].record) if rows else len(cells)
        if len(cells) != expected:
            raise DataError(path, f"row has {len(cells)} columns, expected {expected} "
                            f"(separator {delimiter!r})", line=line)
        keys = names or [str(i) for i in range(len(cells))]
        rows.append(Raw(len(rows), line, dict(zip(keys, cells))))
    return rows


def read_package(spec: dict, key: str) -> Source:
    """reasoning-gym: ``size`` examples of dataset ``dataset`` generated with ``seed`` and the generator's
    ``options`` (e.g. {min_digits: 2, operators: ["+"]})."""
    import reasoning_gym

    dataset, size, seed = spec["dataset"], spec["size"], spec.get("seed", 0)
    try:
        generated = reasoning_gym.create_dataset(dataset, size=size, seed=seed, **spec.get("options", {}))
    except (KeyError, ValueError, TypeError, AssertionError) as e:
        raise ConfigError(f"{key}.dataset", f"reasoning_gym cannot make {dataset!r}: {e}") from None
    rows = [Raw(i, None, dict(entry)) for i, entry in enumerate(generated)]
    return Source(f"reasoning_gym:{dataset}:seed{seed}", spec.get("id_prefix", f"{dataset}-s{seed}"), rows)


def read_hf(spec: dict, key: str) -> Source:
    """Rows through Hugging Face ``datasets``: a Hub dataset (``name``, ``config``, ``split``, ``revision``) with
    ``load_dataset``; or one file ``data_files`` (URL, ``hf://`` path or local path), which ``load_dataset``'s
    text builder fetches and caches whole and ``parse`` reads as a local file (same rows, ids and line numbers:
    the json/csv builders would re-type cells and round floats to 10 digits)."""
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"{key}.source", "source 'hf' needs the 'datasets' package; "
                          "install it or use the local files (data_source: local)") from None
    files = spec.get("data_files")
    if files is not None:
        (text,) = datasets.load_dataset("text", data_files=files, split="train", sample_by="document")["text"]
        stem = Path(files.split("?")[0]).stem
        return parse(files, text, file_format(Path(files.split("?")[0]), spec.get("format")),
                     records=spec.get("records"), header=spec.get("header", True), name=spec.get("id_prefix", stem))
    name, config, split = spec["name"], spec.get("config"), spec["split"]
    loaded = datasets.load_dataset(name, config, split=split, revision=spec.get("revision"))
    rows = [Raw(i, None, dict(entry)) for i, entry in enumerate(loaded)]
    origin = f"hf:{name}{'/' + config if config else ''}:{split}"
    if not rows:
        raise DataError(origin, "no rows")
    return Source(origin, spec.get("id_prefix", f"{name.rstrip('/').rsplit('/', 1)[-1]}-{split}"), rows)
