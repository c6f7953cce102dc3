"""The safety grid from config (pure functions, no Snakemake): runs, files, judge settings, cross-key checks."""

import functools
import os
from pathlib import Path

from ..config import check_registry, closest
from ..errors import ConfigError

SAFETY_RUN = "results/safety/{model}/{adapter}"  # the standalone grid
SAFETY_BASE = "results/base/{model}/{preset}/safety"  # a finetune preset's base model
ROUND_KEYS = ("task", "model", "preset", "strategy", "budget", "rounds", "seed", "round")
BASE_ADAPTER = "base"
GUIDELINES = "resources/safety/judge_guidelines.txt"  # relative to the workflow
WORKFLOW_DIR = Path(__file__).resolve().parents[3]  # relative guidelines paths are read from here (rules' basedir)
GUIDELINES_PATH = str(WORKFLOW_DIR / GUIDELINES)
JUDGE_KEYS = ("kind", "format", "prefill", "max_new_tokens", "batch_size", "max_response_tokens", "thinking",
              "controversial", "opening_chars")


def data_root(config) -> str:
    return os.environ.get("ALGRID_DATA_ROOT", config.get("data_root", "../shared/data"))


def safety_cells(config) -> list[dict]:
    """(model, adapter) runs: each model's base and the listed adapters made for that model."""
    safety = config.get("safety") or {}
    registry = config.get("adapters") or {}
    cells = []
    for model in safety.get("models", []):
        for adapter in safety.get("adapters", []):
            if adapter == BASE_ADAPTER or (registry.get(adapter) or {}).get("model") == model:
                cells.append({"model": model, "adapter": adapter})
    return cells


def safety_metric_files(config) -> list[str]:
    return [f"{SAFETY_RUN.format(**c)}/metrics.json" for c in safety_cells(config)]


def safety_judges(config) -> list[str]:
    return list((config.get("safety") or {}).get("judges", []))


def judge_spec(config, judge: str) -> dict:
    spec = config["judges"][judge]
    return {k: spec[k] for k in JUDGE_KEYS if k in spec} | {"model": spec.get("model")}


def judge_model_dir(config, judge: str) -> list[str]:
    """The prepared model a judge reads (a models: id), or nothing (a Hugging Face id, or no model)."""
    model = config["judges"][judge].get("model")
    return [f"results/models/{model}"] if model in (config.get("models") or {}) else []


def judge_gpus(config, judge: str) -> int:
    """GPUs a judge job asks for: none for the refusal detector (it reads text only), one for a model judge."""
    return 0 if config["judges"][judge]["kind"] == "refusal" else 1


def judge_model_ref(config, judge: str):
    model = config["judges"][judge].get("model")
    if config["judges"][judge]["kind"] == "refusal":
        return None
    return f"results/models/{model}" if model in (config.get("models") or {}) else model


def judge_load(config, judge: str) -> dict:
    """dtype and quantization of a judge model: its models: entry's, or the judge's own (a Hugging Face id)."""
    spec = config["judges"][judge]
    entry = (config.get("models") or {}).get(spec.get("model"), spec)
    return {"dtype": entry.get("dtype", "float32"), "quantization": entry.get("quantization", "none")}


def judge_guidelines(config, judge: str) -> list[str]:
    spec = config["judges"][judge]
    return [spec.get("guidelines", GUIDELINES)] if spec["kind"] == "llm" else []


def reference_metrics(config) -> str | None:
    ref = (config.get("safety") or {}).get("reference")
    return f"{SAFETY_RUN.format(**ref)}/metrics.json" if ref else None


def reference_name(config) -> str | None:
    ref = (config.get("safety") or {}).get("reference")
    return f"{ref['model']}/{ref['adapter']}" if ref else None


def prompts_file(config) -> str:
    return config["safety"]["prompts"].replace("{data_root}", data_root(config))


def pyrit_root(config) -> str:
    return config["safety"]["pyrit_root"].replace("{data_root}", data_root(config))


def check_safety(config) -> None:
    """Cross-key checks of the judges, adapters and safety sections (one ConfigError naming the key)."""
    models = config.get("models") or {}
    judges = config.get("judges") or {}
    adapters = config.get("adapters") or {}
    for judge, spec in judges.items():
        model = spec.get("model")
        if spec["kind"] != "refusal" and not model:
            raise ConfigError(f"judges.{judge}.model", f"a {spec['kind']} judge needs a model (a models: id or a "
                              "Hugging Face id such as Qwen/Qwen3-4B-SafeRL)")
        if model and "/" not in model and model not in models:
            raise ConfigError(f"judges.{judge}.model", f"'{model}' is neither a models: id{closest(model, models)} "
                              "nor a Hugging Face id (owner/name)")
    for adapter, spec in adapters.items():
        if adapter == BASE_ADAPTER:
            raise ConfigError(f"adapters.{adapter}", "'base' stands for no adapter; name the adapter otherwise")
        check_registry(config, f"adapters.{adapter}.model", [spec["model"]], "models")
    safety = config.get("safety") or {}
    check_registry(config, "safety.models", safety.get("models", []), "models")
    check_registry(config, "safety.judges", safety.get("judges", []), "judges")
    for adapter in safety.get("adapters", []):
        if adapter == BASE_ADAPTER:
            continue
        check_registry(config, "safety.adapters", [adapter], "adapters")
        if adapters[adapter]["model"] not in safety.get("models", []):
            raise ConfigError("safety.adapters", f"adapter '{adapter}' is for model '{adapters[adapter]['model']}' "
                              f"(adapters.{adapter}.model), which is not in safety.models")
    cells = safety_cells(config)
    for model in safety.get("models", []):
        if not any(c["model"] == model for c in cells):
            raise ConfigError("safety.models", f"model '{model}' has no run: safety.adapters "
                              f"({', '.join(safety.get('adapters', [])) or 'empty'}) holds neither 'base' nor an "
                              "adapter made for it (adapters.<id>.model); add 'base' or drop the model")
    ref = safety.get("reference")
    if ref and ref not in cells:
        runs = ", ".join(f"{c['model']}/{c['adapter']}" for c in cells) or "none"
        raise ConfigError("safety.reference", f"{ref['model']}/{ref['adapter']} is not a run of the safety grid "
                          f"(safety.models x safety.adapters): {runs}")
    # the files the runs read: local adapters, the judges' guidelines, the prompts and PyRIT's sets
    for adapter in safety.get("adapters", []):
        if adapter != BASE_ADAPTER:
            check_adapter_source(config, adapter)
    for judge in safety.get("judges", []):
        spec = judges[judge]
        path = Path(spec.get("guidelines", GUIDELINES))
        if spec["kind"] == "llm" and not (WORKFLOW_DIR / path).is_file():  # an absolute path stays itself
            where = "" if path.is_absolute() else f" in the workflow's directory, {WORKFLOW_DIR}"
            raise ConfigError(f"judges.{judge}.guidelines", f"file '{path}' does not exist{where}")
    if safety_in_use(config):
        check_safety_files(config)


def safety_in_use(config) -> bool:
    """Whether any run answers the AILuminate prompts: the standalone grid has a run, or finetune.safety is set."""
    return bool(safety_cells(config)) or bool((config.get("finetune") or {}).get("safety", False))


def check_adapter_source(config, adapter: str) -> None:
    """A local adapter directory exists and holds a PEFT adapter (a Hub id is checked when it is downloaded)."""
    source = config["adapters"][adapter]["source"]
    if isinstance(source, str):
        from .adapters import check_adapter, fetch

        key = f"adapters.{adapter}.source"
        check_adapter(fetch(source, key), key)


@functools.lru_cache(maxsize=4)
def _prompt_rows(path: str, stamp: tuple) -> int:
    """Rows of an AILuminate csv, read again when its stat (``stamp``) changes."""
    from .prompts import load_ailuminate

    return len(load_ailuminate(path))


def check_safety_files(config) -> None:
    """The AILuminate file exists and holds safety.n_prompts rows; safety.pyrit_root holds the PyRIT sets that
    validate_judge scores the judges on."""
    safety = config["safety"]
    path = prompts_file(config)
    if not Path(path).is_file():
        raise ConfigError("safety.prompts", f"file '{path}' does not exist (the AILuminate prompt csv)")
    st = os.stat(path)
    rows = _prompt_rows(path, (st.st_size, st.st_mtime_ns))
    if safety["n_prompts"] > rows:
        raise ConfigError("safety.n_prompts", f"{safety['n_prompts']} prompts asked for, but the AILuminate file "
                          f"{path} (safety.prompts) holds {rows}; set at most {rows}")
    from .validate import SETS, scores_refusal

    judges = config.get("judges") or {}
    needed = ["objective"]
    if any(scores_refusal(judges[j]) for j in safety.get("judges", [])):
        needed += ["refusal", "refusal_extra"]
    root = Path(pyrit_root(config))
    for name in needed:
        pattern = SETS[name][0]
        if not any(root.glob(pattern)):
            raise ConfigError("safety.pyrit_root", f"'{root}' holds no {pattern}: PyRIT's human-labelled {name} set, "
                              "on which validate_judge scores the judges")


# --- rule inputs and params (w: a rule's wildcards) ---------------------------------------------------------


def _keys(w) -> dict:
    return {k: w[k] for k in w.keys()}


def judge_inputs(w, config, run: str | None, basedir: str) -> dict:
    """What a judge job reads: the run's responses (none for validate_judge), its model, its guidelines."""
    return {
        "responses": [f"{run.format(**_keys(w))}/responses.jsonl"] if run else [],
        "model": judge_model_dir(config, w.judge),
        "guidelines": [os.path.join(basedir, p) for p in judge_guidelines(config, w.judge)],
    }


def safety_score_inputs(w, config, run: str) -> dict:
    run = run.format(**_keys(w))
    inputs = {"responses": f"{run}/responses.jsonl",
              "judges": [f"{run}/judges/{j}.jsonl" for j in safety_judges(config)]}
    reference = reference_metrics(config)
    if reference and reference != f"{run}/metrics.json":  # the reference run is graded against itself
        inputs["reference"] = reference
    return inputs


def safety_generation(w, config) -> dict:
    """Generation settings of a run: one safety.max_new_tokens for every run (trained, base model, published
    adapter), so the rates they are compared by come from answers of the same length."""
    return {"max_new_tokens": int(config["safety"]["max_new_tokens"]),
            "batch_size": config["safety"]["batch_size"], "system": config["safety"].get("system")}


def safety_identity(w) -> dict:
    """The keys of a run's metrics.json: model + adapter (standalone), the finetune cell + round (adapter
    'round'), or model + preset (adapter 'base', a finetune preset's base model)."""
    keys = _keys(w)
    if "round" in keys:
        ints = ("budget", "rounds", "seed", "round")
        return {**{k: int(keys[k]) if k in ints else keys[k] for k in ROUND_KEYS},
                "adapter": "round"}
    if "preset" in keys:
        return {"model": keys["model"], "preset": keys["preset"], "adapter": "base"}
    return {"model": keys["model"], "adapter": keys["adapter"]}
