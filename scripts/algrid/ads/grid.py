"""The ads grid for the workflow: cells, paths, what each rule reads and is given, and the config checks.

Pure functions of the config (no Snakemake), imported by rules/common.smk and rules/ads.smk and tested directly.
"""

import itertools
from pathlib import Path

from ..config import check_hub_only, check_registry, check_task_files, closest, data_root, pool_size_bound
from ..errors import ConfigError

ADS = "results/ads/{task}/{model}/{optimizer}/seed{seed}"  # one cell: task x policy x optimizer x seed
ADS_KEYS = ("task", "model", "optimizer", "seed")
ADS_ITER = f"{ADS}/iter{{iter}}"
ADS_BASELINE = "results/ads/baselines/{task}/{model}/{method}/seed{seed}"
ITER_FILES = ("trajectories.jsonl", "api_calls.jsonl", "collected.jsonl", "scores.json")
MODE_STRATEGY = {"icl": "ads_icl", "lora": "ads_lora"}
FAMILY_DESCRIPTIONS = {
    "classification": "answer each question with one of the given labels (e.g. yes or no)",
    "instruction": "follow each instruction and write the response a user wants",
    "bbh": "solve each reasoning puzzle and give the final answer",
    "math": "solve each math word problem and give the number",
    "multichoice": "pick the correct option of each multiple-choice question",
}
# settings that shape the search (iteration jobs) and those that only shape the test evaluation
LOOP_KEYS = ("trajectories", "max_calls", "show_previous", "n_examples", "heldout", "top_k", "demos_per_call",
             "qa_context", "max_docs", "max_demos", "lambda", "budget", "cost", "max_new_tokens", "batch_size",
             "cache_dir")
EVAL_KEYS = ("eval_limit", "shots", "max_docs", "max_demos", "max_new_tokens", "batch_size", "cache_dir")


def ads(config) -> dict:
    return config.get("ads") or {}


def ads_cells(config) -> list[dict]:
    a = ads(config)
    if not a.get("optimizer"):
        return []
    grid = itertools.product(a.get("tasks", []), a.get("models", []), [a["optimizer"]], a.get("seeds", []))
    return [dict(zip(ADS_KEYS, values)) for values in grid]


def ads_metric_files(config) -> list[str]:
    """metrics.json of every ads run (each mode) and of every baseline, for results/final_metrics.csv."""
    a = ads(config)
    files = [f"{ADS.format(**cell)}/eval/{mode}/metrics.json" for cell in ads_cells(config) for mode in a["modes"]]
    files += [f"{ADS_BASELINE.format(method=m, **cell)}/metrics.json" for cell in ads_cells(config)
              for m in a["baselines"]]
    return sorted(set(files))


def ads_iteration_files(config) -> list[str]:
    return [f"{ADS_ITER.format(iter=i, **cell)}/{name}" for cell in ads_cells(config)
            for i in range(1, ads(config)["iterations"] + 1) for name in ITER_FILES]


def ads_targets(config) -> list[str]:
    if not ads_cells(config):
        return []
    return ["results/final_metrics.csv", "results/ads/summary.csv", "results/ads/verdicts.csv",
            "results/plots/ads_score_vs_cost.png"]


def iteration_inputs(w, config) -> dict:
    """Iteration i reads the models, the pool, the corpus and iteration i-1's files (i >= 2)."""
    inputs = {"policy": f"results/models/{w.model}", "optimizer": f"results/models/{w.optimizer}",
              "pool": f"results/data/{w.task}/pool.jsonl", "corpus": "results/ads/corpus.jsonl"}
    i = int(w.iter)
    if i > 1:
        prev = ADS_ITER.format(iter=i - 1, **{k: w[k] for k in ADS_KEYS})
        inputs.update(previous_trajectories=f"{prev}/trajectories.jsonl", previous_collected=f"{prev}/collected.jsonl",
                      previous_scores=f"{prev}/scores.json")
    return inputs


def last_iteration(w, config) -> str:
    return ADS_ITER.format(iter=ads(config)["iterations"], **{k: w[k] for k in ADS_KEYS})


def judge_name(config, task: str) -> str | None:
    """The judge model of a free-text (ROUGE-L) task's test answers, where ``ads.judge`` names one."""
    return ads(config).get("judge") if config["tasks"][task]["metric"] == "text" else None


def _with_judge(inputs: dict, w, config) -> dict:
    judge = judge_name(config, w.task)
    return {**inputs, "judge": f"results/models/{judge}"} if judge else inputs


def evaluate_inputs(w, config) -> dict:
    last = last_iteration(w, config)
    inputs = {"model": f"results/models/{w.model}", "eval": f"results/data/{w.task}/eval.jsonl",
              "scores": f"{last}/scores.json", "collected": f"{last}/collected.jsonl"}
    if w.mode == "lora":
        inputs["adapter"] = f"{ADS.format(**{k: w[k] for k in ADS_KEYS})}/adapter"
    return _with_judge(inputs, w, config)


def baseline_inputs(w, config) -> dict:
    inputs = {"model": f"results/models/{w.model}", "eval": f"results/data/{w.task}/eval.jsonl",
              "pool": f"results/data/{w.task}/pool.jsonl"}
    return _with_judge(inputs, w, config)


def judge_params(config, task: str) -> dict | None:
    judge = judge_name(config, task)
    return model_params(config, judge) if judge else None


def task_params(config, task: str) -> dict:
    spec = config["tasks"][task]
    description = ads(config).get("descriptions", {}).get(task) or FAMILY_DESCRIPTIONS[spec["family"]]
    return {"name": task, "family": spec["family"], "metric": spec["metric"], "prompt": spec.get("prompt", {}),
            "description": description}


def model_params(config, model: str) -> dict:
    spec = config["models"][model]
    return {"name": model, "dtype": spec.get("dtype", "float32"), "quantization": spec.get("quantization", "none")}


def loop_settings(config) -> dict:
    return {k: ads(config)[k] for k in LOOP_KEYS}


def eval_settings(config) -> dict:
    return {k: ads(config)[k] for k in EVAL_KEYS}


def identity(w, strategy: str) -> dict:
    """The row keys of final_metrics.csv for one ads metrics file."""
    return {"family": "ads", "task": w.task, "model": w.model, "strategy": strategy, "seed": int(w.seed),
            "eval_task": w.task, "optimizer": w.get("optimizer")}


def check_ads_config(config) -> None:
    """Cross-key checks of the ads block; raises ConfigError naming the key."""
    a = ads(config)
    if not (a.get("tasks") or a.get("models") or a.get("seeds")):
        return
    for key in ("tasks", "models", "seeds"):
        if not a.get(key):
            raise ConfigError(f"ads.{key}", "is empty, but the ads grid names tasks, models or seeds")
    if not a.get("optimizer"):
        raise ConfigError("ads.optimizer", "no optimizer model; name one of models")
    check_registry(config, "ads.tasks", a["tasks"], "tasks")
    check_hub_only(config, "ads.tasks", a["tasks"])
    for name in a["tasks"]:
        task = config["tasks"][name]
        missing = [s for s in ("pool", "eval") if s not in task.get("splits", {})]
        if missing:
            raise ConfigError(f"tasks.{name}.splits", f"ads needs a {' and '.join(missing)} split")
    judges = [a["judge"]] if a.get("judge") else []
    for key, names in (("models", a["models"]), ("optimizer", [a["optimizer"]]), ("judge", judges)):
        check_registry(config, f"ads.{key}", names, "models")
    if "lora" in a.get("modes", []):
        check_registry(config, "ads.preset", [a.get("preset")], "presets")
    for name in a.get("descriptions") or {}:
        if name not in a["tasks"]:
            raise ConfigError(f"ads.descriptions.{name}", f"'{name}' is not one of ads.tasks{closest(name, a['tasks'])}"
                              f" ({', '.join(a['tasks'])}); a description is read for those only")
    if a.get("max_docs", 1) == 0 and a.get("max_demos", 1) == 0:
        raise ConfigError("ads.max_docs", "0, and ads.max_demos is 0: the reward's held-out score sees none of the "
                          "collected data in context, so no plan can gain; allow documents or demonstrations")
    for name in a["tasks"]:
        bound = pool_size_bound(config["tasks"][name]["splits"]["pool"])
        if bound is not None and a["heldout"] >= bound:
            raise ConfigError("ads.heldout", f"{a['heldout']} held-out rows leave no pool row for the optimizer's "
                              f"example inputs: tasks.{name}.splits.pool holds at most {bound} rows; set ads.heldout "
                              f"below {bound}")
    for name in a["tasks"]:  # the files: each task's splits, the retrieval corpus
        check_task_files(config, name)
    corpus = a.get("corpus") or {}
    path = corpus.get("path", "").replace("{data_root}", data_root(config))
    if path and "://" not in path and not Path(path).is_file():
        raise ConfigError("ads.corpus.path", f"file '{path}' does not exist (the retrieval corpus)")

