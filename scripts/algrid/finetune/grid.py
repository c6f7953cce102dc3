"""Seed 003's additions to the finetune grid, as pure functions of the config (no Snakemake): the eval subsample
per preset, checkpoint sweeps, existing adapters evaluated as grid entries, the safety file of each metrics
file, what final_metrics' denominators must be, and the cross-key checks of these keys."""

import difflib
import itertools

from ..errors import ConfigError
from ..safety.grid import check_adapter_source

RUN = "{task}/{model}/{preset}/{strategy}/b{budget}-m{rounds}/seed{seed}"
FT = f"results/finetune/{RUN}"
BASE = "results/base/{model}/{preset}"
ADAPTER_EVAL = "results/adapters-eval/{adapter}/{preset}"  # an existing adapter, evaluated without training
SAFETY_STANDALONE = "results/safety/{model}/{adapter}/metrics.json"  # rules/safety.smk's run of a model + adapter
CELL_KEYS = ("task", "model", "preset", "strategy", "budget", "rounds", "seed")
DEFAULT_EVAL_SEED = 42  # seed 003's subsample seed


def _ft(config) -> dict:
    return config.get("finetune") or {}


def _cells(config) -> list[dict]:
    ft = _ft(config)
    lists = [ft.get(k, []) for k in ("tasks", "models", "presets", "strategies", "budgets", "rounds", "seeds")]
    return [dict(zip(CELL_KEYS, values)) for values in itertools.product(*lists)]


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --- the eval subsample ----------------------------------------------------------------------------------------


def eval_fraction(config, preset: str) -> float:
    """The share of each eval split a preset's runs are scored on: 1.0 with finetune.full_eval (seed 003's
    --full-gsm8k-test), else the preset's eval_fraction (default 1.0)."""
    if _ft(config).get("full_eval", False):
        return 1.0
    return float(config["presets"][preset].get("eval_fraction", 1.0))


def subsample_params(config, preset: str) -> dict:
    """What a prediction job needs to draw the subsample; empty for the whole split (so grids that never
    subsample keep their parameters, and their results)."""
    fraction = eval_fraction(config, preset)
    if fraction >= 1:
        return {}
    return {"subsample": {"fraction": fraction, "seed": int(config["presets"][preset].get("eval_seed",
                                                                                        DEFAULT_EVAL_SEED))}}


# --- checkpoint sweeps -----------------------------------------------------------------------------------------


def checkpoint_count(config, preset: str) -> int:
    """Intermediate checkpoints a preset's training saves and evaluates (0: no sweep)."""
    spec = config["presets"][preset]
    return int(spec.get("max_checkpoints", 3)) if spec.get("checkpoint_sweep", False) else 0


def sweep_groups(config) -> dict[int, list[str]]:
    """Checkpoint count -> the presets that save that many (one training rule per count: declared outputs)."""
    groups: dict[int, list[str]] = {}
    for preset in config.get("presets") or {}:
        n = checkpoint_count(config, preset)
        if n:
            groups.setdefault(n, []).append(preset)
    return groups


def plain_presets(config) -> list[str]:
    return [p for p in config.get("presets") or {} if not checkpoint_count(config, p)]


def preset_pattern(presets) -> str:
    """A wildcard constraint that matches exactly these preset ids."""
    return "|".join(sorted(presets, key=len, reverse=True))


def checkpoint_score_files(config) -> list[str]:
    """{round}/checkpoint_scores.csv of every round of every cell whose preset sweeps checkpoints."""
    return sorted(
        f"{FT.format(**cell)}/round{i}/checkpoint_scores.csv"
        for cell in _cells(config)
        if checkpoint_count(config, cell["preset"])
        for i in range(1, int(cell["rounds"]) + 1)
    )


# --- existing adapters as grid entries ----------------------------------------------------------------------


def adapter_eval_cells(config) -> list[dict]:
    """finetune.adapters: adapter id -> the presets it is evaluated with; its model comes from adapters:."""
    registry = config.get("adapters") or {}
    cells = []
    for adapter, presets in (_ft(config).get("adapters") or {}).items():
        for preset in [presets] if isinstance(presets, str) else presets:
            cells.append({"adapter": adapter, "preset": preset, "model": registry[adapter]["model"]})
    return cells


def adapter_model(config, adapter: str) -> str:
    return config["adapters"][adapter]["model"]


def adapter_identity(config, adapter: str, preset: str) -> dict:
    """The row keys of final_metrics.csv for an evaluated adapter (strategy 'adapter', no task or round); the
    scoring job fills in eval_task for each of its files."""
    return {"family": "finetune", "model": adapter_model(config, adapter), "preset": preset, "strategy": "adapter",
            "adapter": adapter, "eval_task": None}


def adapter_eval_metric_files(config) -> list[str]:
    return sorted(f"{ADAPTER_EVAL.format(**c)}/metrics/{e}.json" for c in adapter_eval_cells(config)
                  for e in _ft(config).get("eval_tasks", []))


# --- what final_metrics joins and checks -----------------------------------------------------------------------


def safety_pairs(config) -> dict[str, str]:
    """metrics file -> the safety metrics.json of the same model (+ adapter): each round's, each base model's,
    each evaluated adapter's. Empty unless finetune.safety is set."""
    ft = _ft(config)
    if not ft.get("safety", False):
        return {}
    pairs = {}
    for cell in _cells(config):
        for i in range(1, int(cell["rounds"]) + 1):
            run = f"{FT.format(**cell)}/round{i}"
            pairs.update({f"{run}/metrics/{e}.json": f"{run}/safety/metrics.json" for e in ft.get("eval_tasks", [])})
    for model, preset in itertools.product(ft.get("models", []), ft.get("presets", [])):
        base = BASE.format(model=model, preset=preset)
        pairs.update({f"{base}/metrics/{e}.json": f"{base}/safety/metrics.json" for e in ft.get("eval_tasks", [])})
    for cell in adapter_eval_cells(config):
        run = ADAPTER_EVAL.format(**cell)
        pairs.update({f"{run}/metrics/{e}.json": SAFETY_STANDALONE.format(**cell) for e in ft.get("eval_tasks", [])})
    return pairs


def judge_validation_files(config) -> list[str]:
    """validation.json of every judge whose votes make a finetune run's safety rate (empty without
    finetune.safety): the agreement that stands beside each rate in final_metrics."""
    if not safety_pairs(config):
        return []
    return [f"results/judges/{j}/validation.json" for j in (config.get("safety") or {}).get("judges", [])]


def expectations(config) -> dict:
    """What the config implies for final_metrics' denominators, and the pass/fail thresholds: the eval split of
    each eval task (its rows are counted when the rule runs), each preset's eval fraction, the AILuminate
    prompts per run, the share of them that need a valid verdict (safety.min_valid), and ``thresholds``."""
    presets = set(_ft(config).get("presets", [])) | {c["preset"] for c in adapter_eval_cells(config)}
    return {
        "eval_files": {e: f"results/data/{e}/eval.jsonl" for e in _ft(config).get("eval_tasks", [])},
        "fractions": {p: eval_fraction(config, p) for p in sorted(presets)},
        "fraction_keys": {p: ("finetune.full_eval" if _ft(config).get("full_eval") else f"presets.{p}.eval_fraction")
                          for p in sorted(presets)},
        "safety_prompts": int(config["safety"]["n_prompts"]) if _ft(config).get("safety") else None,
        "safety_min_valid": float(config["safety"]["min_valid"]) if _ft(config).get("safety") else None,
        "thresholds": {p: dict(t) for p, t in (config.get("thresholds") or {}).items()},
    }


# --- cross-key checks ------------------------------------------------------------------------------------------


def check_finetune_extras(config) -> None:
    """One ConfigError naming the key: thresholds for an unknown preset, adapters to evaluate that are not in
    adapters: (or presets that are not in presets:) or whose local directory is not a PEFT adapter, a safety
    threshold of a preset in the grid without finetune.safety, strategy 'all' with a budget that is not the pool's
    size."""
    presets = config.get("presets") or {}
    for preset, spec in (config.get("thresholds") or {}).items():
        if preset not in presets:
            raise ConfigError(f"thresholds.{preset}", f"unknown preset '{preset}'{_closest(preset, presets)}; "
                              f"thresholds are per preset, known presets: {', '.join(sorted(presets))}")
    registry = config.get("adapters") or {}
    for adapter, chosen in (_ft(config).get("adapters") or {}).items():
        if adapter not in registry:
            raise ConfigError(f"finetune.adapters.{adapter}", f"unknown adapter '{adapter}'{_closest(adapter, registry)}"
                              f"; declare it under adapters: with its source and model "
                              f"(known: {', '.join(sorted(registry)) or 'none'})")
        for preset in [chosen] if isinstance(chosen, str) else chosen:
            if preset not in presets:
                raise ConfigError(f"finetune.adapters.{adapter}", f"unknown preset '{preset}'"
                                  f"{_closest(preset, presets)}; known presets: {', '.join(sorted(presets))}")
    for adapter in _ft(config).get("adapters") or {}:
        check_adapter_source(config, adapter)
    ft = _ft(config)
    graded = list(ft.get("presets", [])) + [c["preset"] for c in adapter_eval_cells(config)]
    for preset in dict.fromkeys(graded):
        if "safety" in ((config.get("thresholds") or {}).get(preset) or {}) and not ft.get("safety", False):
            raise ConfigError(f"thresholds.{preset}.safety", f"a safety threshold, but finetune.safety is off: every "
                              f"run of preset '{preset}' would fail for want of a safety rate; set finetune.safety: "
                              "true or drop the threshold")
    if "all" in ft.get("strategies", []):
        for task in ft.get("tasks", []):
            pool = config["tasks"][task]["splits"].get("pool", {})
            bound = pool.get("limit", pool.get("size"))
            for budget in ft.get("budgets", []):
                if bound is None or budget != bound:
                    raise ConfigError("finetune.budgets", f"strategy 'all' trains on the whole pool, so the budget "
                                      f"must equal its size: budget {budget}, but tasks.{task}.splits.pool "
                                      + (f"holds up to {bound} rows" if bound else "sets no limit (set limit to "
                                         "the pool's row count)"))
