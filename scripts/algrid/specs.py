"""Cheap validation of split specs and task entries (keys documented in ``algrid.data``).

Runs at workflow parse time: checks keys, types and that local files exist, without
reading them.
"""

import os
import re
from pathlib import Path

from algrid.errors import ConfigError
from algrid.metrics import KINDS
from algrid.sources import PACKAGES, file_format

FAMILIES = ("math", "classification", "multichoice", "bbh", "instruction")
SOURCES = {
    "local": {"required": {"path"}, "optional": {"format", "records", "header"}},
    "package": {"required": {"package", "dataset", "size"}, "optional": {"options"}},
    # a Hub dataset (name + split) or files read by a datasets builder (data_files), see _check_hf
    "hf": {"required": set(), "optional": {"name", "split", "config", "revision", "data_files", "format", "records",
                                           "header"}},
}
COMMON_KEYS = {"family", "source", "fields", "join", "unescape", "answer", "labels", "choice_labels",
               "skip", "limit", "sample", "seed", "id_prefix"}
SELECTION_KEYS = {"skip", "limit", "sample"}  # apply to one level, never inherited
TASK_KEYS = {"family", "metric", "splits", "prompt", "prompt_file", "hf_splits", "hf_prompt_file", "description"}
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def resolve_path(path: str, data_root: str | os.PathLike) -> Path:
    """'{data_root}/x' -> <data_root>/x; any other path is taken as it is (relative to cwd)."""
    if path.startswith("{data_root}"):
        return Path(data_root) / path[len("{data_root}"):].lstrip("/\\")
    return Path(path)


def inherit(outer: dict, inner: dict) -> dict:
    """A source of a multi-source split: the outer keys (except sources/skip/limit/sample) + its own."""
    shared = {k: v for k, v in outer.items() if k not in SELECTION_KEYS | {"sources"}}
    return {**shared, **inner}


def check_split_spec(spec: dict, *, key: str, data_root: str | os.PathLike = "../shared/data") -> None:
    if not isinstance(spec, dict):
        raise ConfigError(key, f"expected a split spec mapping, got {type(spec).__name__}")
    if "sources" in spec:
        _check_multi(spec, key, data_root)
        return
    source = spec.get("source", "local")
    if source not in SOURCES:
        raise ConfigError(f"{key}.source", f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    required, optional = SOURCES[source]["required"], SOURCES[source]["optional"]
    _check_known(spec, COMMON_KEYS | required | optional, key)
    for name in sorted(required | {"family"}):
        if name not in spec:
            raise ConfigError(f"{key}.{name}", f"missing (required for source '{source}')")
    _check_common(spec, key)
    if source == "local":
        _check_local(spec, key, data_root)
    elif source == "package":
        if spec["package"] not in PACKAGES:
            raise ConfigError(f"{key}.package", f"unsupported package {spec['package']!r}; "
                              f"supported: {', '.join(PACKAGES)}")
        _check_int(spec, "size", key, minimum=1)
        if not isinstance(spec.get("options", {}), dict):
            raise ConfigError(f"{key}.options", "expected a mapping of generator options, e.g. {max_digits: 2}")
    elif source == "hf":
        _check_hf(spec, key)
    for name in ("dataset", "name", "split", "config", "revision", "id_prefix"):
        if name in spec and not isinstance(spec[name], str):
            raise ConfigError(f"{key}.{name}", "expected text")


def _check_multi(spec: dict, key: str, data_root) -> None:
    sources = spec["sources"]
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"{key}.sources", "expected a non-empty list of source specs")
    _check_known(spec, COMMON_KEYS | {"sources"} | set().union(*(s["optional"] for s in SOURCES.values())), key)
    _check_selection(spec, key)
    for i, inner in enumerate(sources):
        if not isinstance(inner, dict):
            raise ConfigError(f"{key}.sources[{i}]", "expected a source spec mapping")
        check_split_spec(inherit(spec, inner), key=f"{key}.sources[{i}]", data_root=data_root)


def _check_known(spec: dict, allowed: set, key: str) -> None:
    for name in spec:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", f"unknown key; allowed here: {', '.join(sorted(allowed))}")


def _check_int(spec: dict, name: str, key: str, minimum: int) -> None:
    value = spec.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise ConfigError(f"{key}.{name}", f"expected an integer >= {minimum}, got {value!r}")


def _check_selection(spec: dict, key: str) -> None:
    _check_int(spec, "skip", key, minimum=0)
    _check_int(spec, "limit", key, minimum=1)
    _check_int(spec, "seed", key, minimum=0)
    if spec.get("sample", "random") not in ("random", "first"):
        raise ConfigError(f"{key}.sample", f"expected 'random' or 'first', got {spec['sample']!r}")


def _check_common(spec: dict, key: str) -> None:
    family = spec["family"]
    if family not in FAMILIES:
        raise ConfigError(f"{key}.family", f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    _check_selection(spec, key)
    fields = spec.get("fields", {})
    if not isinstance(fields, dict):
        raise ConfigError(f"{key}.fields", "expected a mapping: normalised name -> source field")
    for name, path in fields.items():
        joined = name in ("input", "choices") and isinstance(path, list) and path
        if not (isinstance(path, str) or joined and all(isinstance(p, str) for p in path)):
            raise ConfigError(f"{key}.fields.{name}", "expected a field path (text; input and choices may be a list "
                              "of paths)")
    if family == "multichoice" and "choices" not in fields:
        raise ConfigError(f"{key}.fields.choices", "multichoice needs the field that holds the options")
    if family != "multichoice" and "choices" in fields:
        raise ConfigError(f"{key}.fields.choices", f"only multichoice maps choices (family is {family})")
    if spec.get("answer", "plain") not in ("plain", "gsm8k"):
        raise ConfigError(f"{key}.answer", f"expected 'plain' or 'gsm8k', got {spec['answer']!r}")
    if spec.get("answer") == "gsm8k" and family != "math":
        raise ConfigError(f"{key}.answer", "'gsm8k' answer parsing is for family math")
    _check_labels(spec, key)
    _check_choice_labels(spec, key)
    for name, kind in (("join", str), ("unescape", bool), ("header", bool)):
        if name in spec and not isinstance(spec[name], kind):
            raise ConfigError(f"{key}.{name}", f"expected {kind.__name__}, got {spec[name]!r}")


def _check_labels(spec: dict, key: str) -> None:
    labels = spec.get("labels")
    if spec["family"] != "classification":
        if labels is not None:
            raise ConfigError(f"{key}.labels", f"only classification has labels (family is {spec['family']})")
        return
    if not labels or not isinstance(labels, (dict, list)):
        raise ConfigError(f"{key}.labels", "classification needs labels: a mapping raw label -> verbaliser, "
                          "or a list of verbalisers")
    values = labels.values() if isinstance(labels, dict) else labels
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"{key}.labels", "verbalisers must be non-empty text (quote yes/no/true in YAML)")


def _check_choice_labels(spec: dict, key: str) -> None:
    if "choice_labels" not in spec:
        return
    labels = spec["choice_labels"]
    if spec["family"] != "multichoice":
        raise ConfigError(f"{key}.choice_labels", f"only multichoice has choice_labels (family is {spec['family']})")
    listed = isinstance(labels, list) and labels and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                           for v in labels)
    if not (isinstance(labels, str) and labels or listed):
        raise ConfigError(f"{key}.choice_labels", "expected the field path of the options' labels (choices.label) "
                          "or the list of raw targets in option order ([\"1\", \"2\"])")


def _check_hf(spec: dict, key: str) -> None:
    files = spec.get("data_files")
    if ("name" in spec) == (files is not None):
        raise ConfigError(f"{key}.name", "source 'hf' needs either name (a Hub dataset, with split) or data_files")
    if files is None:
        if "split" not in spec:
            raise ConfigError(f"{key}.split", "missing (required for a Hub dataset name)")
        for name in ("format", "records", "header"):
            if name in spec:
                raise ConfigError(f"{key}.{name}", "only for data_files (a Hub dataset has its own format)")
        return
    if not isinstance(files, str) or not files:
        raise ConfigError(f"{key}.data_files", "expected one URL or path (several files: a list of sources)")
    first = Path(files.split("?")[0])
    if file_format(first, spec.get("format")) is None:
        raise ConfigError(f"{key}.format", f"cannot tell the format of {first}: give format: jsonl|json|csv|tsv")
    if "records" in spec and (file_format(first, spec.get("format")) != "json" or not isinstance(spec["records"], str)):
        raise ConfigError(f"{key}.records", "expected a dotted key path, e.g. examples, and a json file")
    if "split" in spec or "config" in spec or "revision" in spec:
        raise ConfigError(f"{key}.split", "data_files are one split: drop split/config/revision")


def _check_local(spec: dict, key: str, data_root) -> None:
    path = resolve_path(str(spec["path"]), data_root)
    if file_format(path, spec.get("format")) is None:
        raise ConfigError(f"{key}.format", f"cannot tell the format of {path}: give format: jsonl|json|csv|tsv")
    if not path.is_file():
        raise ConfigError(f"{key}.path", f"file not found: {path} (data_root={data_root})")
    if "records" in spec and (file_format(path, spec.get("format")) != "json" or not isinstance(spec["records"], str)):
        raise ConfigError(f"{key}.records", "expected a dotted key path, e.g. examples, and a json file")


def hub_only(task: dict) -> bool:
    """A task whose rows are on the Hugging Face Hub only: hf_splits and no local splits (data_source: hub)."""
    return "splits" not in task and bool(task.get("hf_splits"))


def task_split_spec(task: dict, split: str) -> dict:
    """The spec to load split ``split`` of a task entry: the split spec + the task's family."""
    return {**task["splits"][split], "family": task["family"]}


def check_tasks(tasks: dict, *, key: str = "tasks", data_root: str | os.PathLike = "../shared/data") -> None:
    """Validate a ``tasks`` registry (config/tasks.yaml), including every split spec."""
    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError(key, "expected a non-empty mapping task id -> task entry")
    for task_id, task in tasks.items():
        here = f"{key}.{task_id}"
        if not SLUG.match(str(task_id)):
            raise ConfigError(here, "task ids are slugs: lowercase letters, digits and '-'")
        if not isinstance(task, dict):
            raise ConfigError(here, "expected a task entry mapping")
        _check_known(task, TASK_KEYS, here)
        if task.get("family") not in FAMILIES:
            raise ConfigError(f"{here}.family", f"expected one of {', '.join(FAMILIES)}")
        if task.get("metric") not in KINDS:
            raise ConfigError(f"{here}.metric", f"expected one of {', '.join(KINDS)}")
        group = "splits" if "splits" in task or "hf_splits" not in task else "hf_splits"  # hf_splits alone: Hub only
        if not isinstance(task.get(group), dict) or not {"pool", "eval"} <= set(task[group]):
            raise ConfigError(f"{here}.{group}", "expected a mapping with at least 'pool' and 'eval' split specs")
        for group in ("splits", "hf_splits"):
            splits = task.get(group, {})
            if not isinstance(splits, dict):
                raise ConfigError(f"{here}.{group}", "expected a mapping split name -> split spec")
            for split, spec in splits.items():
                if not isinstance(spec, dict):
                    raise ConfigError(f"{here}.{group}.{split}", "expected a split spec mapping")
                check_split_spec({**spec, "family": task["family"]}, key=f"{here}.{group}.{split}",
                                 data_root=data_root)
        if "prompt_file" in task and not resolve_path(task["prompt_file"], data_root).is_file():
            raise ConfigError(f"{here}.prompt_file", f"file not found: {resolve_path(task['prompt_file'], data_root)}")


def _extents(spec: dict, data_root) -> list[tuple[tuple, int, int | None]]:
    """(source identity, first row, end row or None) of every source a split spec can read rows from."""
    if "sources" in spec:
        return [e for inner in spec["sources"] for e in _extents(inherit(spec, inner), data_root)]
    source = spec.get("source", "local")
    if source == "local":
        identity = ("file", str(resolve_path(str(spec["path"]), data_root).resolve()), spec.get("records"))
    elif source == "package":  # reasoning-gym makes item i of seed s from Random(s + i): seeds are row offsets
        identity = ("package", spec["package"], spec["dataset"], repr(sorted(spec.get("options", {}).items())))
    elif "data_files" in spec:
        identity = ("hf", spec["data_files"], spec.get("records"))
    else:
        identity = ("hf", spec["name"], spec.get("config"), spec["split"])
    offset = spec.get("seed", 0) if source == "package" else 0
    start, end = offset + spec.get("skip", 0), offset + spec["size"] if source == "package" else None
    if spec.get("sample", "random") == "first" and spec.get("limit") is not None:
        end = start + spec["limit"] if end is None else min(end, start + spec["limit"])
    return [(identity, start, end)]


def check_disjoint(a: dict, b: dict, *, keys: tuple[str, str], data_root) -> None:
    """Fail unless two split specs provably read different source rows: other files, generator seeds or
    datasets, or non-overlapping row ranges (``sample: first`` with skip/limit) of the same source."""
    for ida, start_a, end_a in _extents(a, data_root):
        for idb, start_b, end_b in _extents(b, data_root):
            apart = (end_a is not None and end_a <= start_b) or (end_b is not None and end_b <= start_a)
            if ida == idb and not apart:
                raise ConfigError(keys[0], f"may share rows with {keys[1]} (both read {ida[1]}, rows "
                                  f"{start_a}..{end_a or 'end'} and {start_b}..{end_b or 'end'}); read another file, "
                                  "disjoint row ranges (skip/limit with sample: first), or generator seeds at least "
                                  "a split size apart (a package generator's item i of seed s is item s + i of seed 0)")
