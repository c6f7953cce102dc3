"""lm-evaluation-harness tasks as an evaluation of every adapter (``finetune.lm_eval``), as pure functions of the
config and of lm-eval's results files: which jobs a grid has, what each passes to ``lm_eval.simple_evaluate``,
the config checks, and how each results file joins ``results/final_metrics.csv`` and ``results/summary.csv``.
The job itself (the only code that imports lm_eval) is ``algrid.finetune.lm_eval_run``.

Jobs: one per model (the base model, once, whatever the presets), one per final-round adapter of every finetune
cell (``rounds: all``: every round's), and one per evaluated adapter (``finetune.adapters``, once, whatever its
presets); each loads the model once and runs every task of ``finetune.lm_eval.tasks``. Empty ``tasks`` (the
default): no jobs, and a grid plans exactly as without the key.

Rows: each results file gives one final_metrics row per (run, lm-eval task, metric) with ``eval_task``
``lm_eval:<task>``, ``metric`` lm-eval's key (``acc,none``, ``exact_match,strict-match``), ``score`` and
``score_stderr`` lm-eval's value and standard error, ``n_total`` the documents evaluated (``limit`` counts). A base
model's rows appear under each preset of the grid (the same numbers: lm-eval's settings are not the preset's), an
evaluated adapter's under each of its presets, so they line up with algrid's own rows. The summary's interval of a
cell with one seed is lm-eval's stderr (normal, 95%; clipped to [0, 1] for a value in it), with several a
t-interval over the seeds; ``stderr`` is the stderr of the cell's mean from the seeds' stderrs. No paired comparison
with ``random`` (lm-eval keeps no per-item results here)."""

import difflib
import math
from pathlib import Path

from ..errors import ConfigError, DataError

KEY = "finetune.lm_eval"
PREFIX = "lm_eval:"  # eval_task of the rows in final_metrics.csv
RUN = "{task}/{model}/{preset}/{strategy}/b{budget}-m{rounds}/seed{seed}"
FT = f"results/finetune/{RUN}"
ROUND_RESULTS = f"{FT}/round{{round}}/lm-eval/results.json"
BASE_DIR = "results/lm-eval/base/{model}"
ADAPTER_DIR = "results/lm-eval/adapters/{adapter}"
CELL_KEYS = ("task", "model", "preset", "strategy", "budget", "rounds", "seed")
DEFAULTS = {"tasks": [], "num_fewshot": None, "limit": None, "batch_size": 1, "include_path": None,
            "apply_chat_template": False, "metrics": {}, "rounds": "final"}
JOB_KEYS = ("tasks", "num_fewshot", "limit", "batch_size", "apply_chat_template")  # what changes a job's numbers
CONFIDENCE_Z = 1.959963984540054  # two-sided 95% normal quantile


def settings(config) -> dict:
    ft = config.get("finetune") or {}
    return {**DEFAULTS, **(ft.get("lm_eval") or {})}


def tasks(config) -> list[str]:
    return list(settings(config)["tasks"] or [])


def include_paths(config) -> list[str]:
    """finetune.lm_eval.include_path as a list (relative paths are the working directory's)."""
    path = settings(config)["include_path"]
    return [] if not path else [path] if isinstance(path, str) else list(path)


def include_files(config) -> list[str]:
    """The files under include_path (task YAMLs, a local dataset or utils.py beside them; not hidden ones or
    __pycache__): inputs of every lm-eval job, so editing one reruns them."""
    if not tasks(config):
        return []
    files = []
    for root in include_paths(config):
        path = Path(root)
        found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files += [str(p) for p in found
                  if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts)]
    return sorted(set(files))


def job_params(config) -> dict:
    """What a job passes to lm_eval.simple_evaluate (metrics to keep only reach the aggregate job)."""
    spec = settings(config)
    params = {k: spec[k] for k in JOB_KEYS}
    params["tasks"] = list(params["tasks"] or [])
    limit = params["limit"]
    params["limit"] = int(limit) if limit is not None and float(limit) >= 1 else limit
    params["include_path"] = include_paths(config) or None
    return params


# --- the jobs of a grid ------------------------------------------------------------------------------------


def _cells(config) -> list[dict]:
    import itertools

    ft = config.get("finetune") or {}
    lists = [ft.get(k, []) for k in ("tasks", "models", "presets", "strategies", "budgets", "rounds", "seeds")]
    return [dict(zip(CELL_KEYS, values)) for values in itertools.product(*lists)]


def _round_sizes(budget: int, rounds: int) -> list[int]:
    base, extra = divmod(int(budget), int(rounds))
    return [base + (1 if i < extra else 0) for i in range(int(rounds))]


def _rounds(config, cell) -> list[int]:
    m = int(cell["rounds"])
    return list(range(1, m + 1)) if settings(config)["rounds"] == "all" else [m]


def result_identities(config) -> dict[str, list[dict]]:
    """Results file -> the final_metrics row keys it gives rows for (a base model's: one per preset; an evaluated
    adapter's: one per preset it is evaluated with). Empty without finetune.lm_eval.tasks."""
    if not tasks(config):
        return {}
    ft = config.get("finetune") or {}
    out: dict[str, list[dict]] = {}
    for cell in _cells(config):
        sizes = _round_sizes(cell["budget"], cell["rounds"])
        for i in _rounds(config, cell):
            out[ROUND_RESULTS.format(**cell, round=i)] = [{
                "family": "finetune", "task": cell["task"], "model": cell["model"], "preset": cell["preset"],
                "strategy": cell["strategy"], "budget": int(cell["budget"]), "rounds": int(cell["rounds"]),
                "seed": int(cell["seed"]), "round": i, "n_labels": sum(sizes[:i])}]
    for model in ft.get("models", []):
        out[f"{BASE_DIR.format(model=model)}/results.json"] = [{
            "family": "finetune", "task": None, "model": model, "preset": preset, "strategy": "base", "budget": 0,
            "rounds": 0, "seed": None, "round": 0, "n_labels": 0} for preset in ft.get("presets", [])]
    registry = config.get("adapters") or {}
    for adapter, presets in (ft.get("adapters") or {}).items():
        out[f"{ADAPTER_DIR.format(adapter=adapter)}/results.json"] = [{
            "family": "finetune", "model": registry[adapter]["model"], "preset": preset, "strategy": "adapter",
            "adapter": adapter} for preset in ([presets] if isinstance(presets, str) else presets)]
    return {path: ids for path, ids in out.items() if ids}


def result_files(config) -> list[str]:
    return sorted(result_identities(config))


# --- config checks (parse time) ------------------------------------------------------------------------------


def _closest(name: str, known) -> str:
    match = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def check_config(config, known_tasks=None) -> None:
    """One ConfigError naming the key: include_path that does not exist, metrics for a task not in tasks, and
    (when ``known_tasks(include_paths)`` can tell, i.e. lm-eval is installed where Snakemake runs) a task lm-eval
    does not know. Consults nothing without tasks."""
    spec = settings(config)
    names = tasks(config)
    for task in spec["metrics"] or {}:
        if task not in names:
            raise ConfigError(f"{KEY}.metrics.{task}", f"'{task}' is not one of {KEY}.tasks "
                              f"({', '.join(names) or 'none'}){_closest(task, names)}")
    if not names:
        return
    for path in include_paths(config):
        if not Path(path).exists():
            raise ConfigError(f"{KEY}.include_path", f"'{path}' does not exist (a directory of lm-eval task YAMLs, "
                              f"relative to the working directory {Path.cwd()})")
    limit = spec["limit"]
    if limit is not None and float(limit) >= 1 and float(limit) != int(limit):
        raise ConfigError(f"{KEY}.limit", f"{limit}: a number of documents (an integer) or a fraction below 1")
    known = known_tasks(include_paths(config)) if known_tasks else None
    if known is not None:
        check_task_names(names, known)


def check_task_names(names, known) -> None:
    for task in names:
        if task not in known:
            raise ConfigError(f"{KEY}.tasks", f"unknown lm-eval task '{task}'{_closest(task, known)}; a task, group "
                              f"or tag of lm-eval's registry, or of a task YAML under {KEY}.include_path")


# --- joining results into final_metrics / summary ------------------------------------------------------------


def _metric_keys(entry: dict) -> list[str]:
    """lm-eval's '<metric>,<filter>' keys of one task's results (not their stderr, not alias or name)."""
    return [k for k, v in entry.items() if "," in k and "_stderr," not in k and isinstance(v, (int, float))
            and not isinstance(v, bool)]


def _wanted(keys: list[str], wanted) -> list[str]:
    """The keys a metrics entry keeps: 'acc' keeps every filter of acc, 'exact_match,strict-match' one key."""
    if not wanted:
        return keys
    return [k for k in keys if k in wanted or k.split(",", 1)[0] in wanted]


def _samples(results: dict, task: str) -> int | None:
    """Documents evaluated for a task (a group: the sum over its leaf tasks)."""
    n = (results.get("n-samples") or {}).get(task)
    if n is not None:
        return int(n.get("effective", n.get("original")))
    children = (results.get("group_subtasks") or {}).get(task)
    if not children:
        return None
    counts = [_samples(results, c) for c in children]
    return None if any(c is None for c in counts) else sum(counts)


def rows(path, identities: list[dict], metrics: dict | None = None) -> list[dict]:
    """final_metrics rows of one lm-eval results file: per identity, per task, per kept metric. A metric the config
    keeps (finetune.lm_eval.metrics) that the task does not report is a ConfigError naming the key."""
    from ..io import read_json

    results = read_json(path)
    out = []
    config = results.get("config") or {}
    for task in results.get("algrid", {}).get("tasks") or list((results.get("results") or {}).keys()):
        entry = (results.get("results") or {}).get(task)
        if entry is None:
            raise DataError(path, f"no results for lm-eval task '{task}'; delete it and rerun its job")
        keys = _metric_keys(entry)
        wanted = (metrics or {}).get(task) or []
        for name in wanted:
            if not _wanted(keys, [name]):
                raise ConfigError(f"{KEY}.metrics.{task}", f"lm-eval task '{task}' produces no metric '{name}' "
                                  f"(it reports: {', '.join(keys) or 'none'})")
        for key in _wanted(keys, wanted):
            metric, flt = key.split(",", 1)
            stderr = entry.get(f"{metric}_stderr,{flt}")
            stderr = float(stderr) if isinstance(stderr, (int, float)) and not isinstance(stderr, bool) else None
            for identity in identities:
                out.append({**identity, "eval_task": f"{PREFIX}{task}", "metric": key, "score_name": key,
                            "score": float(entry[key]), "score_stderr": stderr, "n_total": _samples(results, task),
                            "num_fewshot": (results.get("n-shot") or {}).get(task), "limit": config.get("limit"),
                            "lm_eval_version": results.get("lm_eval_version"), "lm_eval_file": str(path),
                            "source": str(path)})
    return out


def is_lm_eval(frame):
    """Rows of a metrics frame that come from lm-eval results."""
    return frame["eval_task"].astype(str).str.startswith(PREFIX) if "eval_task" in frame else frame.index == -1


def summarise(frame, keys: list[str], stat_columns: list[str]):
    """summary.csv rows of lm-eval rows (``accuracy`` holds each row's score, as stats.summarise reads it): one per
    cell, its mean over seeds, the interval and the stderr of the mean."""
    import pandas as pd

    from ..stats import CONFIDENCE, T_METHOD, t_interval

    level = f"{round(CONFIDENCE * 100)}%"
    out = []
    for values, group in frame.groupby(keys, dropna=False, sort=True):
        scores = group["accuracy"].to_numpy(dtype=float)
        errors = pd.to_numeric(group["score_stderr"], errors="coerce").to_numpy(dtype=float)
        mean, std, low, high = t_interval(scores)
        stderr = math.sqrt(float((errors**2).mean())) / math.sqrt(len(errors)) if not pd.isna(errors).any() else None
        method = T_METHOD
        if len(scores) == 1:
            if stderr is not None:
                low, high = mean - CONFIDENCE_Z * stderr, mean + CONFIDENCE_Z * stderr
                low = max(low, 0.0) if mean >= 0 else low  # a metric in [0, 1] (acc, exact_match) stays in it
                high = min(high, 1.0) if mean <= 1 else high
            method = f"lm-eval stderr, normal {level}" if stderr is not None else "lm-eval, no stderr"
        n = pd.to_numeric(group["n_total"], errors="coerce")
        out.append({**{k: (None if pd.isna(v) else v) for k, v in zip(keys, values)}, "n_seeds": len(scores),
                    "n_items": int(n.min()) if n.notna().all() else None, "accuracy_mean": mean, "accuracy_std": std,
                    "accuracy_ci_low": low, "accuracy_ci_high": high, "diff_vs_random": None, "diff_ci_low": None,
                    "diff_ci_high": None, "p_vs_random": None, "ci_method": method, "stderr": stderr})
    return pd.DataFrame(out, columns=keys + stat_columns + ["stderr"])
