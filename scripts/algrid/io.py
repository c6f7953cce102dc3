"""Atomic file output and jsonl helpers: a crash never leaves a half-written result.

Every output is written to a temporary sibling (``.<name>.<random>/<name>``), flushed to disk, and renamed onto
its path in one step, so a reader (or Snakemake after a kill) sees the old file, no file, or the whole new one.
A writer killed before the rename leaves only its temporary sibling, removed the next time that output is written.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import DataError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling path; move it onto ``path`` only if the block succeeds.

    Works for files and directories (the block creates whichever it needs).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        sync(tmp)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def remove_stale(path: Path) -> None:
    """Temporary siblings of ``path`` left by a writer that was killed (one job writes an output at a time)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}")
    for entry in path.parent.iterdir():
        if entry.is_dir() and pattern.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


def sync(path: Path) -> None:
    """fsync a file, or every file under a directory, so the rename publishes bytes that are on disk."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_jsonl(path, rows) -> None:
    write_text(path, "".join(json.dumps(r, default=_jsonable) + "\n" for r in rows))


def write_csv(path, frame, **kwargs) -> None:
    """A pandas DataFrame as CSV, atomically (index off unless given)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **{"index": False, **kwargs})


def write_parquet(path, frame, **kwargs) -> None:
    """A pandas DataFrame as parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, **kwargs)


def read_text(path) -> str:
    """A UTF-8 text file; a binary or undecodable file is a DataError naming file:line."""
    data = Path(path).read_bytes()
    if b"\x00" in data[:8192]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataError(path, "binary file (a NUL byte), expected UTF-8 text", line=line)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(path, f"not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start} cannot be "
                        "decoded; convert the file to UTF-8", line=line) from None


def read_json(path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(path, f"malformed JSON: {err.msg} (column {err.colno})", line=err.lineno) from None


def read_jsonl(path) -> list[dict]:
    rows = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(path, f"malformed JSON line: {err.msg} (column {err.colno})", line=number) from None
    return rows


def _jsonable(obj):
    """numpy scalars/arrays and paths into plain JSON values."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
