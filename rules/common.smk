"""Pure helpers for the workflow: grid expansion, paths, input functions, config checks.

Plain Python (no Snakemake globals), so tests import it directly.
"""

import hashlib
import itertools

from algrid import shards, strategies
from algrid.codeversion import code_version
from algrid.config import (
    ICL_CATEGORIES,
    check_config,
    check_icl_category,
    check_icl_config,
    check_schema,
    data_root,
    pool_size_bound,
)
from algrid.ads.grid import ads_metric_files, ads_targets
from algrid.finetune.feature_files import feature_inputs, feature_params
from algrid.finetune.cold_start import needs as cold_start_needs
from algrid.finetune.grid import adapter_eval_cells, checkpoint_score_files, judge_validation_files, subsample_params
from algrid.errors import AlgridError, ConfigError
from algrid.safety.grid import safety_cells
from algrid.tasks import earlier_splits, for_source, split_source, splits_key

SLUG = r"[a-z0-9][a-z0-9-]*"
STRATEGY = r"[a-z0-9][a-z0-9_]*"  # strategy names are Python module names
RUN = "{task}/{model}/{preset}/{strategy}/b{budget}-m{rounds}/seed{seed}"
FT = f"results/finetune/{RUN}"
ROUND = f"{FT}/round{{round}}"  # one round of one cell
CELL_KEYS = ("task", "model", "preset", "strategy", "budget", "rounds", "seed")


def round_sizes(budget: int, rounds: int) -> list[int]:
    """Budget B over m rounds: B // m each, the remainder to the earliest rounds."""
    if rounds < 1:
        raise ConfigError("finetune.rounds", f"rounds must be >= 1, got {rounds}")
    base, extra = divmod(int(budget), int(rounds))
    return [base + (1 if i < extra else 0) for i in range(rounds)]


def finetune_cells(config) -> list[dict]:
    ft = config.get("finetune") or {}
    grid = itertools.product(
        ft.get("tasks", []),
        ft.get("models", []),
        ft.get("presets", []),
        ft.get("strategies", []),
        ft.get("budgets", []),
        ft.get("rounds", []),
        ft.get("seeds", []),
    )
    return [dict(zip(CELL_KEYS, values)) for values in grid]


def run_dir(cell) -> str:
    return FT.format(**cell)


def finetune_round_files(config, name: str) -> list[str]:
    """A per-round file (e.g. diagnostics.json) of every round of every cell."""
    return [
        f"{run_dir(cell)}/round{i}/{name}" for cell in finetune_cells(config) for i in range(1, int(cell["rounds"]) + 1)
    ]


def finetune_metric_files(config) -> list[str]:
    """Every round's metrics for every cell and eval task, plus the base model's (round 0)."""
    ft = config.get("finetune") or {}
    files = []
    for cell in finetune_cells(config):
        for i in range(1, int(cell["rounds"]) + 1):
            files += [f"{run_dir(cell)}/round{i}/metrics/{e}.json" for e in ft.get("eval_tasks", [])]
    files += [
        f"results/base/{m}/{p}/metrics/{e}.json"
        for m in ft.get("models", [])
        for p in ft.get("presets", [])
        for e in ft.get("eval_tasks", [])
    ]
    return sorted(set(files))


def strategy_needs(name: str) -> frozenset:
    return strategies.get(name).needs


def local_files(split_spec: dict, root: str) -> list[str]:
    """Local files a split reads (so editing a data file reruns what depends on it)."""
    specs = split_spec.get("sources", [split_spec]) if isinstance(split_spec, dict) else []
    paths = [
        s["path"].replace("{data_root}", root) for s in specs if s.get("source", "local") == "local" and "path" in s
    ]
    return sorted(set(paths))


def prompt_files(config, task: str) -> list[str]:
    """The task's CoT prompt file (BBH), if it has one; a URL (data_source hub) is fetched by prepare_prompt."""
    path = config["tasks"][task].get("prompt_file")
    if path and "://" in path:
        return [f"results/data/{task}/prompt.txt"]
    return [path.replace("{data_root}", data_root(config))] if path else []


def split_inputs(w, config) -> dict:
    """A split reads its local files and the earlier splits of its task, whose rows it must not repeat."""
    _, spec, _ = split_source(config["tasks"][w.task], w.split)
    return {
        "files": local_files(spec, data_root(config)),
        "exclude": [f"results/data/{w.task}/{s}.jsonl" for s in earlier_splits(w.split)],
    }


def select_inputs(w, config) -> dict:
    """Round i reads round i-1's selection; scores come from the base model (round 1) or round i-1's adapter."""
    ft = config["finetune"]
    i = int(w.round)
    base = FT.format(**{k: w[k] for k in CELL_KEYS})
    needs = strategy_needs(w.strategy)
    inputs = {"pool": f"results/data/{w.task}/pool.jsonl"}
    if i > 1:
        inputs["previous"] = f"{base}/round{i - 1}/selected.json"
    cold = cold_start(w, config)
    if cold:  # round 1 picked by finetune.cold_start: what it reads, and no base-model scores
        if "embeddings" in cold_start_needs(cold["method"]):
            inputs["embeddings"] = f"results/embeddings/{w.task}/{ft['embedder']}.npy"
        return inputs
    if "scores" in needs:
        inputs["scores"] = (
            f"results/scores/{w.task}/{w.model}/base.parquet" if i == 1 else f"{base}/round{i}/scores.parquet"
        )
    if "embeddings" in needs:
        inputs["embeddings"] = f"results/embeddings/{w.task}/{ft['embedder']}.npy"
    if "queries" in needs:  # relevance to the eval tasks: their target split (never eval), embedded where used
        split = ft["target_split"]
        inputs["queries"] = [f"results/data/{e}/{split}.jsonl" for e in ft["eval_tasks"]]
        if "embeddings" in needs:
            inputs["query_embeddings"] = [
                f"results/embeddings/{e}/{ft['embedder']}.{split}.npy" for e in ft["eval_tasks"]
            ]
    inputs.update(feature_inputs(w, config))  # model features (badge, bald, rds, less)
    return inputs


def cold_start(w, config) -> dict | None:
    """Round 1's finetune.cold_start ({method, params}) in a cell of two or more rounds whose strategy reads pool
    scores (round 1's would be the base model's); None where the strategy picks the round itself."""
    method = config["finetune"].get("cold_start", "none")
    if method == "none" or int(w["round"]) != 1 or int(w["rounds"]) < 2:
        return None
    if "scores" not in strategy_needs(w["strategy"]):
        return None
    params = {} if method == "stratified" else (config.get("strategies") or {}).get(method, {})
    return {"method": method, "params": params}


def stopping_cells(config) -> list[dict]:
    """What results/stopping_criteria.csv reads of each finetune cell, rounds 0 (the base model) to m
    (algrid.finetune.stopping.cell_rounds): round r's pool answers are those that chose round r + 1."""
    ft, cells = config["finetune"], []
    for cell in finetune_cells(config):
        run, m = run_dir(cell), int(cell["rounds"])
        scored = "scores" in strategy_needs(cell["strategy"])
        cold = cold_start({**cell, "round": 1}, config)
        sizes = round_sizes(int(cell["budget"]), m)
        base = f"results/base/{cell['model']}/{cell['preset']}"
        base_scores = f"results/scores/{cell['task']}/{cell['model']}/base.parquet"
        rounds = [
            {
                "n_labels": 0,
                "scores": base_scores if scored and not cold else None,
                "diagnostics": None,
                "metrics": {e: f"{base}/metrics/{e}.json" for e in eval_tasks(config)},
            }
        ]
        rounds += [
            {
                "n_labels": sum(sizes[:r]),
                "scores": f"{run}/round{r + 1}/scores.parquet" if scored and r < m else None,
                "diagnostics": f"{run}/round{r}/diagnostics.json",
                "metrics": {e: f"{run}/round{r}/metrics/{e}.json" for e in eval_tasks(config)},
            }
            for r in range(1, m + 1)
        ]
        cells.append(
            {
                "keys": {k: cell[k] for k in CELL_KEYS},
                "cold_start": cold["method"] if cold else "none",
                "kind": config["tasks"][cell["task"]]["metric"],
                "pool": f"results/data/{cell['task']}/pool.jsonl",
                "model_dir": f"results/models/{cell['model']}" if scored else None,
                "rounds_files": rounds,
            }
        )
    return cells


def stopping_files(config) -> list[str]:
    files = []
    for cell in stopping_cells(config):
        files += [cell["pool"]] + ([cell["model_dir"]] if cell["model_dir"] else [])
        for spec in cell["rounds_files"]:
            files += [f for f in (spec["scores"], spec["diagnostics"]) if f] + list(spec["metrics"].values())
    return list(dict.fromkeys(files))


def train_inputs(w, config) -> dict:
    base = FT.format(**{k: w[k] for k in CELL_KEYS})
    inputs = {
        "model": f"results/models/{w.model}",
        "pool": f"results/data/{w.task}/pool.jsonl",
        "selected": f"{base}/round{w.round}/selected.json",
    }
    if config["presets"][w.preset].get("retrain", "scratch") == "continue" and int(w.round) > 1:
        inputs["init_adapter"] = f"{base}/round{int(w.round) - 1}/adapter"
    return inputs


def cell_identity(w) -> dict:
    """The row keys of final_metrics.csv for one metrics file; round 0 is the base model."""
    keys = {k: w.get(k) for k in ("model", "preset", "eval_task")}  # eval_task None for per-round files
    if "round" not in w.keys():
        return {
            "family": "finetune",
            "task": None,
            "strategy": "base",
            "budget": 0,
            "rounds": 0,
            "seed": None,
            "round": 0,
            "n_labels": 0,
            **keys,
        }
    sizes = round_sizes(int(w.budget), int(w.rounds))
    return {
        "family": "finetune",
        "task": w.task,
        "strategy": w.strategy,
        "budget": int(w.budget),
        "rounds": int(w.rounds),
        "seed": int(w.seed),
        "round": int(w.round),
        "n_labels": sum(sizes[: int(w.round)]),
        **keys,
    }


def round_k(w) -> int:
    return round_sizes(int(w.budget), int(w.rounds))[int(w.round) - 1]


def round_seed(w) -> int:
    """Distinct, reproducible randomness per (seed, round)."""
    return int(w.seed) * 1000 + int(w.round)


def default_targets(config) -> list[str]:
    """What `snakemake` with no target builds: each family's tables and plots, for the families the grid has."""
    targets = []
    if finetune_cells(config):
        targets += [
            "results/final_metrics.csv",
            "results/plots/learning_curve.png",
            "results/selection_diagnostics.csv",
            "results/plots/selection_vs_rounds.png",
            "results/stopping_criteria.csv",  # when each stopping criterion would have stopped, and the accuracy
        ]
        targets += checkpoint_score_files(config)  # seed 003's checkpoint sweeps
        targets += ["results/compute/cells.csv"]  # accuracy against compute per cell
        targets += ["results/savings.csv"]  # labels needed to match random (families with two or more budgets)
    if adapter_eval_cells(config):  # existing adapters evaluated without training (finetune.adapters)
        targets += ["results/final_metrics.csv"]
    if icl_cells(config):
        targets += ["results/final_metrics.csv", "results/icl_summary.csv", "results/plots/icl_accuracy.png"]
    targets += ads_targets(config)
    if safety_cells(config):
        targets += ["results/safety_summary.csv"]
    if safety_cells(config) or judge_validation_files(config):  # every judge behind a reported rate, validated
        targets += ["results/judges/validation.csv", "results/plots/judge_validation.png"]
    if "results/final_metrics.csv" in targets:
        targets += ["results/final_metrics.html", "results/compute/rules.csv"]  # the report's tables
    if not targets:
        raise ConfigError(
            "finetune, icl, ads, safety", "the grid is empty: no finetune cells, icl tasks, ads runs or safety models"
        )
    return list(dict.fromkeys(targets))


def scoring_params(config) -> dict:
    """What a scoring job passes to algrid.scoring (shard_size only shapes the DAG)."""
    return {k: v for k, v in config["scoring"].items() if k != "shard_size"}


def score_shards(config, task: str) -> list:
    """[start, stop) pool rows of each scoring shard of a task (scoring.shard_size), counted from the pool's bound."""
    bound = pool_size_bound(config["tasks"][task]["splits"].get("pool", {}))
    return shards.shard_ranges(bound, config["scoring"].get("shard_size"), task=task)


def shard_files(config, task: str, stem: str) -> list[str]:
    return [f"{stem}.shard{i}.parquet" for i in range(len(score_shards(config, task)))]


# --- icl family (seed 000): demonstration selection, no training -------------------------------------------

ICL = "results/icl/{task}/{model}/{strategy}/k{shots}/seed{seed}"
ICL_KEYS = ("task", "model", "strategy", "shots", "seed")
ICL_ALL = "all_tasks"  # the union of every category


def icl_tasks(config, category: str | None = None) -> list[str]:
    """The tasks of the ``icl`` grid (icl.tasks), of one category, or of all categories (``all_tasks``)."""
    icl = config.get("icl") or {}
    if category is None:
        return list(icl.get("tasks", []))
    categories = icl.get("categories") or {}
    if category == ICL_ALL:
        return list(dict.fromkeys(t for c in categories.values() for t in c))
    return list(categories.get(category, []))


def icl_cells(config, category: str | None = None) -> list[dict]:
    icl = config.get("icl") or {}
    grid = itertools.product(
        icl_tasks(config, category),
        icl.get("models", []),
        icl.get("strategies", []),
        icl.get("shots", []),
        icl.get("seeds", []),
    )
    return [dict(zip(ICL_KEYS, values)) for values in grid]


def icl_metric_files(config, category: str | None = None) -> list[str]:
    """metrics.json of every icl cell (of icl.tasks, or of a category's tasks)."""
    return sorted({f"{ICL.format(**cell)}/metrics.json" for cell in icl_cells(config, category)})


def icl_select_inputs(w, config) -> dict:
    """The pool and eval rows, plus what the strategy needs: base-model scores, embeddings of pool and queries."""
    icl = config["icl"]
    needs = strategy_needs(w.strategy)
    inputs = {"pool": f"results/data/{w.task}/pool.jsonl", "eval": f"results/data/{w.task}/eval.jsonl"}
    if "scores" in needs:
        inputs["scores"] = f"results/scores/{w.task}/{w.model}/base.parquet"
    if "embeddings" in needs:
        inputs["embeddings"] = f"results/embeddings/{w.task}/{icl['embedder']}.npy"
        if "queries" in needs:
            inputs["query_embeddings"] = f"results/embeddings/{w.task}/{icl['embedder']}.eval.npy"
    if "model" in needs:  # strategies that call the model while they select (mdl, votek, set_search)
        inputs["model"] = f"results/models/{w.model}"
        task = config["tasks"][w.task]
        if "dev" in task.get(splits_key(task, config.get("data_source", "local")), {}):
            inputs["dev"] = f"results/data/{w.task}/dev.jsonl"
    return inputs


def icl_select_predict(w, config) -> dict | None:
    """What a strategy that calls the model needs of icl_predict's settings (None for the others)."""
    return icl_predict_params(w, config) if "model" in strategy_needs(w.strategy) else None


def icl_identity(w) -> dict:
    """The row keys of final_metrics.csv for one icl metrics file (finetune-only columns stay empty)."""
    return {
        "family": "icl",
        "task": w.task,
        "model": w.model,
        "strategy": w.strategy,
        "shots": int(w.shots),
        "seed": int(w.seed),
        "eval_task": w.task,
    }


ICL_PREDICT_KEYS = ("predict_by", "loglik_norm", "choice_text", "max_new_tokens", "batch_size", "cache_prefix")


def icl_category_files(category: str) -> list[str]:
    """A category's metrics files, once its tasks are readable with this data_source: a category naming a task on
    the Hugging Face Hub only stops the plan under data_source local, with one line (planned only when requested:
    the categories of one config serve several data sources)."""
    try:
        check_icl_category(config, category)
    except AlgridError as err:
        sys.exit(f"algrid: {err}")
    return icl_metric_files(config, category)


def icl_predict_params(w, config) -> dict:
    icl, task = config["icl"], config["tasks"][w.task]
    return {
        "family": task["family"],
        "metric": task["metric"],
        "prompt": task.get("prompt", {}),
        "model": model_load(config, w.model),
        "eval_limit": icl.get("eval_limit"),
        **{k: icl[k] for k in ICL_PREDICT_KEYS},
    }


def icl_judge(w, config):
    """The judge model of a free-text task (metric text), or None (icl.judge unset, or answers that are not text)."""
    judge = config["icl"].get("judge")
    return judge if judge and config["tasks"][w.task]["metric"] == "text" else None


def icl_score_inputs(w, config) -> dict:
    run = ICL.format(**{k: w[k] for k in ICL_KEYS})
    inputs = {"predictions": f"{run}/predictions.jsonl"}
    if icl_judge(w, config):
        inputs["judgments"] = f"{run}/judgments.jsonl"
    return inputs


def eval_tasks(config) -> list[str]:
    return list((config.get("finetune") or {}).get("eval_tasks", []))


def eval_suite_file(config) -> str:
    """The file with every eval task's rows, few-shot rows and CoT prompt, named by the eval task list: a
    prediction job declares it and not three files per eval task (Snakemake's planning cost grows with inputs)."""
    digest = hashlib.sha256("\n".join(eval_tasks(config)).encode()).hexdigest()[:12]
    return f"results/data/eval_suites/{digest}.json"


def eval_suite_files(config) -> dict:
    """Per eval task: the eval and fewshot files and the CoT prompt file (or None) the eval suite is built from."""
    return {
        e: {
            "eval": f"results/data/{e}/eval.jsonl",
            "fewshot": f"results/data/{e}/fewshot.jsonl",
            "prefix": (prompt_files(config, e) or [None])[0],
        }
        for e in eval_tasks(config)
    }


# Rules receive only the keys they use, so a change reruns exactly the jobs it can affect (the model's
# source reaches only prepare_model, whose output the other rules read; training keys only train_adapter).
MODEL_LOAD_KEYS = {"dtype": "float32", "quantization": "none"}
TRAIN_KEYS = (
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "lr",
    "warmup_ratio",
    "weight_decay",
    "epochs",
    "batch_size",
    "grad_accum",
    "max_grad_norm",
    "max_length",
    "retrain",
)
EVAL_KEYS = ("fewshot_k", "max_new_tokens", "eval_batch_size")


def model_load(config, model: str) -> dict:
    """How a prepared model is loaded (dtype, quantization): what model rules other than prepare_model need."""
    spec = config["models"][model]
    return {k: spec.get(k, default) for k, default in MODEL_LOAD_KEYS.items()}


def train_params(config, preset: str) -> dict:
    return {k: v for k, v in config["presets"][preset].items() if k in TRAIN_KEYS}


def eval_metrics(config) -> dict[str, str]:
    """Eval task -> its metric: what a scoring job (one per round, every eval task) needs."""
    return {e: config["tasks"][e]["metric"] for e in eval_tasks(config)}


def eval_params(w, config) -> list[dict]:
    """Per eval task (one prediction job evaluates them all with one model load): its format and metric, and the
    preset's generation settings."""
    preset = config["presets"][w.preset]
    params = []
    for e in eval_tasks(config):
        task = config["tasks"][e]
        params.append(
            {
                "eval_task": e,
                "family": task["family"],
                "metric": task["metric"],
                "prompt": task.get("prompt", {}),
                **{k: preset[k] for k in EVAL_KEYS},
                **subsample_params(config, w.preset),  # seed 003: a seeded share of the eval split
            }
        )
    return params


# model feature jobs (rules/features.smk)


def feature_rule_params(kind):
    """What a feature job passes to algrid.finetune.features beyond its files: the kind's strategy parameters,
    and pool scoring's generation settings for the kinds that answer (badge, bald)."""
    answers = kind in ("badge", "bald")
    return {
        "kind": kind,
        "strategy": feature_params(config, kind),
        "scoring": scoring_params(config) if answers else None,
    }


def less_warmup_params(w):
    return {"warmup": feature_params(config, "less", strategies.get("less").warmup_params)}
