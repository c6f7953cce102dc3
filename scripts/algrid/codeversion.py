"""A version of the code behind a rule: the entry script and every algrid module it can reach.

Snakemake reruns a job when its params change, but it does not follow the library modules a script
imports. Rules pass ``code_version(script)`` as a param, so a change to any module a rule's script
reaches (statically, including imports inside functions) reruns exactly the jobs of the rules that
reach it. Comments and formatting do not count: the hash is over each module's syntax tree. A package
counts with all its modules (the strategy registry loads every file of its folder).
"""

import ast
import functools
import hashlib
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]
PACKAGE = "algrid"
DYNAMIC = {"algrid.strategies"}  # packages that load every module of their folder (the strategy registry)


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


@functools.cache
def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """Names of the algrid modules a file imports (``from x import y``: x, and x.y in case y is a module)."""
    parts = list(path.relative_to(SCRIPTS).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            if base.split(".")[0] == PACKAGE:
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return frozenset(found)


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


@functools.cache
def code_version(script: str) -> str:
    """sha256 (16 hex digits) of the syntax trees of scripts/<script>.py and the algrid modules it reaches."""
    digest = hashlib.sha256()
    for path in reached_files(script):
        digest.update(str(path.relative_to(SCRIPTS)).encode())
        digest.update(_file_digest(path))
    return digest.hexdigest()[:16]


@functools.cache
def _file_digest(path: Path) -> bytes:
    return hashlib.sha256(ast.dump(_tree(path)).encode()).digest()
