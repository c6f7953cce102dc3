"""A version of the code behind a rule: the entry script and every algrid module it can reach.

Snakemake reruns a job when its params change, but it does not follow the library modules a script
imports. Rules pass ``code_version(script)`` as a param, so a change to any module a rule's script
reaches (statically, including imports inside functions) reruns exactly the jobs of the rules that
reach it. Comments and formatting do not count: the hash is over each module's syntax tree. A package
counts with all its modules (the strategy registry loads every file of its folder).

Parsing every module costs about half a second at each Snakemake start, so each file's digest and
imports are kept in ``scripts/.codeversion.json``, keyed by the file's size and change times (a file
whose stat differs is parsed again; an unwritable cache is simply not kept).
"""

import ast
import functools
import hashlib
import json
import os
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]
PACKAGE = "algrid"
DYNAMIC = {"algrid.strategies"}  # packages that load every module of their folder (the strategy registry)
CACHE = SCRIPTS / ".codeversion.json"


@functools.cache
def _files(name: str) -> list[Path]:
    """The files that importing ``name`` runs: its parent packages' __init__ and the module itself."""
    parts, files = name.split("."), []
    for i in range(1, len(parts) + 1):
        path = SCRIPTS.joinpath(*parts[:i])
        if path.is_dir():
            init = path / "__init__.py"
            files += sorted(path.glob("*.py")) if ".".join(parts[:i]) in DYNAMIC else [init] if init.is_file() else []
        elif path.with_suffix(".py").is_file() and i == len(parts):
            files.append(path.with_suffix(".py"))
    return files


def _parse(path: Path) -> dict:
    """A file's digest (of its syntax tree) and the algrid modules it imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {"digest": hashlib.sha256(ast.dump(tree).encode()).hexdigest(), "imports": sorted(_imported(path, tree))}


def _imported(path: Path, tree: ast.AST) -> set[str]:
    """Names of the algrid modules a file imports (``from x import y``: x, and x.y in case y is a module)."""
    parts = list(path.relative_to(SCRIPTS).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            if base.split(".")[0] == PACKAGE:
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


class _Cache:
    """Parsed files by path, valid while the file's (size, mtime, ctime) stay the same."""

    def __init__(self):
        try:
            self.entries = json.loads(CACHE.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.changed = False

    def get(self, path: Path) -> dict:
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        key = str(path.relative_to(SCRIPTS))
        entry = self.entries.get(key)
        if not entry or entry.get("stamp") != stamp:
            entry = self.entries[key] = {"stamp": stamp, **_parse(path)}
            self.changed = True
        return entry

    def save(self) -> None:
        if self.changed:
            tmp = CACHE.with_name(f"{CACHE.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps(self.entries, sort_keys=True))
                os.replace(tmp, CACHE)
                self.changed = False
            except OSError:
                tmp.unlink(missing_ok=True)


@functools.cache
def _cache() -> _Cache:
    return _Cache()


def _imports(path: Path) -> list[str]:
    return _cache().get(path)["imports"]


def _file_digest(path: Path) -> bytes:
    return bytes.fromhex(_cache().get(path)["digest"])


def reached_files(script: str) -> list[Path]:
    """scripts/<script>.py and every algrid file it reaches, sorted."""
    start = SCRIPTS / f"{script}.py"
    if not start.is_file():
        raise FileNotFoundError(start)
    todo, seen = [start], set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [f for name in _imports(path) for f in _files(name)]
    return sorted(seen)


def files_version(paths) -> str:
    """sha256 (16 hex digits) of the syntax trees of these files under scripts/ (e.g. algrid/generation.py)."""
    digest = hashlib.sha256()
    for path in paths:
        path = SCRIPTS / path
        digest.update(str(path.relative_to(SCRIPTS)).encode())
        digest.update(_file_digest(path))
    return digest.hexdigest()[:16]


@functools.cache
def code_version(script: str) -> str:
    """sha256 (16 hex digits) of the syntax trees of scripts/<script>.py and the algrid modules it reaches."""
    version = files_version(reached_files(script))
    _cache().save()
    return version
