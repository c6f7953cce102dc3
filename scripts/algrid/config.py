"""Config validation, before any job runs: the JSON schema (types, ranges, unknown keys with the closest
known key suggested), then the cross-key checks a schema cannot express. Every failure is one ConfigError
naming the key (both keys where two disagree)."""

import difflib
import functools
import hashlib
import json
import os
from pathlib import Path

from algrid import shards, strategies
from algrid.errors import ConfigError
from algrid.specs import check_disjoint, check_split_spec, hub_only, task_split_spec
from algrid.tasks import FEWSHOT_FROM_POOL, splits_key

ICL_CATEGORIES = ("classification", "multichoice", "commonsense", "math", "instruction")
TARGET_SPLIT_FORBIDDEN = ("eval", "pool", "fewshot")
COLD_START_STRATA_METRICS = ("label", "choice", "bbh")  # answer kinds whose pools have strata (labels, options)


# --- the schema ------------------------------------------------------------------------------------------


# Configs found valid, by digest of (config, schema file and its stat): validating costs about 0.2 s of each
# Snakemake start (importing jsonschema, reading the schema), so a config already found valid is not checked
# again while neither it nor the schema changes. Only valid configs are kept, so every error is still raised.
VALID_CACHE = Path(__file__).resolve().parents[1] / ".schemacheck.json"
VALID_KEEP = 64


@functools.lru_cache(maxsize=4)
def _validator(schema_path: str, stamp: tuple):
    """The schema's validator, read again when the file's stat (``stamp``) changes."""
    import jsonschema
    import yaml

    with open(schema_path) as f:
        schema = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return jsonschema.Draft202012Validator(schema)


def _config_digest(config: dict, schema_path) -> str | None:
    """sha256 of the config and the schema file's path and stat; None when the config is not JSON-like."""
    st = os.stat(schema_path)
    stamp = [str(Path(schema_path).resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    try:
        text = json.dumps([config, stamp], sort_keys=True, default=lambda o: f"<{type(o).__qualname__}>{o!r}")
    except (TypeError, ValueError):  # keys of mixed types, or a cycle
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _valid_digests() -> list[str]:
    try:
        found = json.loads(VALID_CACHE.read_text())
    except (OSError, ValueError):
        return []
    return found if isinstance(found, list) else []


def _remember_valid(digest: str) -> None:
    digests = [d for d in _valid_digests() if d != digest][-(VALID_KEEP - 1):] + [digest]
    tmp = VALID_CACHE.with_name(f"{VALID_CACHE.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(digests))
        os.replace(tmp, VALID_CACHE)
    except OSError:  # an unwritable scripts/ folder: simply no cache
        tmp.unlink(missing_ok=True)


def check_schema(config: dict, schema_path) -> None:
    """Raise ConfigError for the most relevant violation of config/schema.yaml."""
    digest = _config_digest(config, schema_path)
    if digest is not None and digest in _valid_digests():
        return
    import jsonschema

    st = os.stat(schema_path)
    errors = list(_validator(str(schema_path), (st.st_size, st.st_mtime_ns)).iter_errors(config))
    if not errors:
        if digest is not None:
            _remember_valid(digest)
        return
    error = jsonschema.exceptions.best_match(errors)
    key, problem = explain(error)
    raise ConfigError(key, problem)


def explain(error) -> tuple[str, str]:
    """(dotted key, one-line problem) of a jsonschema error; unknown keys and enum values get a suggestion."""
    path = [str(p) for p in error.absolute_path]
    key = ".".join(path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in known)
        name = unknown[0]
        return ".".join(path + [name]), f"unknown key{closest(name, known)}; known keys here: {', '.join(known)}"
    if error.validator == "enum" and isinstance(error.instance, str):
        choices = [str(c) for c in error.validator_value]
        return key or "(top level)", (f"{error.instance!r} is not one of {', '.join(choices)}"
                                      f"{closest(error.instance, choices)}")
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return ".".join(path + [missing]), "required key is missing"
    if error.validator == "dependentRequired":
        return key or "(top level)", f"{error.message} (a grid that names one of these names them all)"
    if error.validator == "pattern" and error.validator_value.startswith("^[a-z0-9]"):
        return key or "(top level)", f"{error.instance!r} is not a slug (lower-case letters, digits and '-')"
    if error.validator == "propertyNames":
        return key or "(top level)", f"{error.message}: ids are slugs (lower-case letters, digits and '-')"
    return key or "(top level)", error.message


def closest(name: str, known) -> str:
    """" (did you mean 'x'?)" for the closest known name, or ''."""
    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def schema_error(config, schema_path) -> str:
    """The most relevant violation as one line naming the config key ('' when the config is valid)."""
    try:
        check_schema(config, schema_path)
    except ConfigError as err:
        return str(err)
    return ""


# --- cross-key checks -------------------------------------------------------------------------------------


def data_root(config) -> str:
    return os.environ.get("ALGRID_DATA_ROOT", config.get("data_root", "../shared/data"))


def pool_size_bound(spec: dict):
    """An upper bound on a split's rows known without reading it (size/limit), else None."""
    bounds = [spec[k] for k in ("size", "limit") if spec.get(k) is not None]
    return min(bounds) if bounds else None


def check_registry(config, key: str, names, registry: str) -> None:
    known = config.get(registry) or {}
    for name in names:
        if name not in known:
            raise ConfigError(key, f"unknown {registry[:-1]} '{name}'{closest(name, known)}; "
                              f"known ({registry}): {', '.join(sorted(known)) or 'none'}")


def check_hub_only(config, key: str, names) -> None:
    """With data_source local, a grid that names a task on the Hugging Face Hub only (hf_splits, no local files)
    stops here: it needs data_source: hub."""
    tasks = config.get("tasks") or {}
    for name in names:
        if name in tasks and hub_only(tasks[name]):
            raise ConfigError(key, f"task '{name}' is on the Hugging Face Hub only (tasks.{name}.hf_splits, no local "
                              f"files): it needs data_source: hub (data_source is "
                              f"{config.get('data_source', 'local')})")


def check_icl_category(config, category: str) -> None:
    """A category target (icl.categories.<category>, or all_tasks: every category) whose tasks this data_source
    cannot read; checked when the target is planned, as other configs name the same categories offline."""
    categories = (config.get("icl") or {}).get("categories") or {}
    for name, tasks in categories.items():
        if category in (name, "all_tasks"):
            check_hub_only(config, f"icl.categories.{name}", tasks)


def check_config(config) -> None:
    """Cross-key checks of the finetune grid, the tasks it reads, scoring and icl."""
    ft = config.get("finetune") or {}
    for key, registry in (("tasks", "tasks"), ("eval_tasks", "tasks"), ("models", "models"), ("presets", "presets")):
        check_registry(config, f"finetune.{key}", ft.get(key, []), registry)
    for key in ("tasks", "eval_tasks"):
        check_hub_only(config, f"finetune.{key}", ft.get(key, []))
    for name in ft.get("strategies", []):
        strategies.get(name)
    for name, params in (config.get("strategies") or {}).items():
        strategies.get(name).resolve_params(params or {})
    if "bald" in ft.get("strategies", []):  # MC dropout over the adapter's LoRA dropout
        for preset in ft.get("presets", []):
            if not (config["presets"][preset].get("lora_dropout") or 0) > 0:
                raise ConfigError(f"presets.{preset}.lora_dropout", "is 0, but finetune.strategies has bald, which "
                                  "samples the LoRA adapter's dropout: set it above 0 or drop bald")
    if ft:
        check_registry(config, "finetune.embedder", [ft.get("embedder")], "embedders")
    for rounds in ft.get("rounds", []):
        if rounds < 1:
            raise ConfigError("finetune.rounds", f"rounds must be >= 1, got {rounds}")
        for budget in ft.get("budgets", []):
            if budget < rounds:
                raise ConfigError("finetune.budgets", f"budget {budget} is smaller than finetune.rounds {rounds}: "
                                  "a round would select no example")
    check_target_split(config)
    check_cold_start(config)
    used = set(ft.get("tasks", [])) | set(ft.get("eval_tasks", []))
    for task in sorted(used):
        check_task_files(config, task)
    for task in ft.get("tasks", []):
        size = pool_size_bound(config["tasks"][task]["splits"].get("pool", {}))
        for budget in ft.get("budgets", []):
            if size is not None and budget > size:
                raise ConfigError(
                    "finetune.budgets",
                    f"budget {budget} is larger than the pool of task "
                    f"'{task}' (at most {size} rows: tasks.{task}.splits.pool)",
                )
    for task in ft.get("eval_tasks", []):
        for preset in ft.get("presets", []):
            check_fewshot_k(config, task, f"presets.{preset}.fewshot_k", config["presets"][preset].get("fewshot_k", 0))
    for task in ft.get("tasks", []):
        check_fewshot_k(config, task, "scoring.fewshot_k", (config.get("scoring") or {}).get("fewshot_k", 0))
    check_icl_config(config)
    shard_size = (config.get("scoring") or {}).get("shard_size")
    if shard_size is not None:  # shards are counted from each pool's bound
        icl = config.get("icl") or {}
        for task in dict.fromkeys(ft.get("tasks", []) + list(icl.get("tasks", []))):
            bound = pool_size_bound(config["tasks"][task]["splits"].get("pool", {}))
            shards.shard_ranges(bound, shard_size, task=task)


def check_fewshot_k(config, task: str, key: str, k: int) -> None:
    """k fixed exemplars need a fewshot split (or, without one, the first 8 pool rows) that holds k rows."""
    splits = config["tasks"][task]["splits"]
    split_key = f"tasks.{task}.splits.fewshot"
    bound = pool_size_bound(splits["fewshot"]) if "fewshot" in splits else FEWSHOT_FROM_POOL
    if "fewshot" not in splits:
        split_key = f"tasks.{task}.splits.pool (its first {FEWSHOT_FROM_POOL} rows, no fewshot split)"
    if bound is not None and k > bound:
        raise ConfigError(key, f"{k} exemplars but {split_key} holds at most {bound} rows")


def check_task_files(config, task: str) -> None:
    """Each split spec of a task is sound and its local files (and prompt file) exist."""
    check_hub_only(config, f"tasks.{task}", [task])
    entry = config["tasks"][task]
    for split in entry.get("splits", {}):
        spec = task_split_spec(entry, split)
        group = splits_key(entry, config.get("data_source", "local"))
        check_split_spec(spec, key=f"tasks.{task}.{group}.{split}", data_root=data_root(config))
    prompt_file = entry.get("prompt_file")
    local_prompt = prompt_file and "://" not in prompt_file  # a URL (data_source hub) is fetched by a rule
    if local_prompt and not Path(prompt_file.replace("{data_root}", data_root(config))).is_file():
        raise ConfigError(f"tasks.{task}.prompt_file", f"file '{prompt_file}' does not exist")


def check_cold_start(config) -> None:
    """finetune.cold_start 'stratified' needs pool tasks whose answers are labels or of several kinds."""
    ft = config.get("finetune") or {}
    if ft.get("cold_start") == "stratified":
        for task in ft.get("tasks", []):
            if config["tasks"][task]["metric"] not in COLD_START_STRATA_METRICS:
                raise ConfigError("finetune.cold_start", f"'stratified' needs labels or answer kinds, but task '{task}' "
                                  f"has {config['tasks'][task]['metric']} answers; use random or kmeans")


def check_target_split(config) -> None:
    """Relevance strategies read the eval tasks' target split: declared, not eval, and provably not eval's rows."""
    ft = config.get("finetune") or {}
    relevance = [s for s in ft.get("strategies", []) if "queries" in strategies.get(s).needs]
    if not relevance:
        return
    split = ft["target_split"]
    if split in TARGET_SPLIT_FORBIDDEN:
        raise ConfigError(
            "finetune.target_split",
            f"'{split}' cannot be the target split; declare e.g. a 'dev' split of each eval task",
        )
    for task in ft.get("eval_tasks", []):
        splits = config["tasks"][task].get("splits", {})
        if split not in splits:
            raise ConfigError(
                f"tasks.{task}.splits",
                f"no '{split}' split, which finetune.target_split names for the relevance strategies "
                f"({', '.join(relevance)}); declare one whose rows are not eval rows",
            )
        check_disjoint(
            task_split_spec(config["tasks"][task], split),
            task_split_spec(config["tasks"][task], "eval"),
            keys=(f"tasks.{task}.splits.{split}", f"tasks.{task}.splits.eval"),
            data_root=data_root(config),
        )


def check_icl_config(config) -> None:
    """Cross-key checks of the icl block; the split files are checked for icl.tasks only (categories may name
    tasks whose data this machine lacks; they fail when requested)."""
    icl = config.get("icl") or {}
    if not icl:
        return
    tasks = config.get("tasks") or {}
    check_registry(config, "icl.tasks", icl.get("tasks", []), "tasks")
    check_hub_only(config, "icl.tasks", icl.get("tasks", []))
    for category, names in (icl.get("categories") or {}).items():
        if category not in ICL_CATEGORIES:
            raise ConfigError(f"icl.categories.{category}",
                              f"unknown category{closest(category, ICL_CATEGORIES)}; known: {', '.join(ICL_CATEGORIES)}")
        for name in names:
            if name not in tasks:
                raise ConfigError(f"icl.categories.{category}", f"unknown task '{name}'{closest(name, tasks)}")
    check_registry(config, "icl.models", icl.get("models", []), "models")
    if icl.get("judge"):
        check_registry(config, "icl.judge", [icl["judge"]], "models")
    for name in icl.get("strategies", []):
        if strategies.get(name).features:
            raise ConfigError("icl.strategies", f"'{name}' selects from a fine-tuned model's features: a finetune "
                              "strategy, not one for demonstrations")
    check_registry(config, "icl.embedder", [icl.get("embedder")], "embedders")
    sample, most_shots = icl.get("pool_sample"), max(icl.get("shots") or [0])
    if sample is not None and sample < most_shots:
        raise ConfigError("icl.pool_sample", f"{sample} candidates per run cannot give icl.shots' {most_shots} "
                          "demonstrations")
    for task in icl.get("tasks", []):
        check_task_files(config, task)
        size = pool_size_bound(config["tasks"][task]["splits"].get("pool", {}))
        for shots in icl.get("shots", []):
            if size is not None and shots > size:
                raise ConfigError("icl.shots", f"{shots} shots but the pool of task '{task}' has at most {size} rows "
                                  f"(tasks.{task}.splits.pool)")
