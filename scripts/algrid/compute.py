"""What the grid cost: runtime and peak memory per rule, and compute per finetune cell, from Snakemake's
``benchmark:`` files (one tsv per job: wall seconds ``s``, ``cpu_time``, peak resident memory ``max_rss`` in MB).

A benchmark file names its job by where it lies: ``results/benchmarks/<rule>/...`` for stages shared by many
cells (model copies, embeddings, base-model pool scoring, judges), ``results/<family>/<run>/.../benchmarks/
<rule>[.<part>].tsv`` for a run's own jobs.
"""

import html
import logging
import os
import re
from pathlib import Path

import pandas as pd

from .errors import DataError
from .io import write_csv, write_text

log = logging.getLogger(__name__)

CELL = ["task", "model", "preset", "strategy", "budget", "rounds"]
# rules whose jobs load a model, so ask for a GPU on a cluster (rules/*.smk: resources gpu=1)
MODEL_RULES = {"prepare_model", "embed_pool", "embed_split", "score_pool", "train_adapter", "predict", "respond",
               "judge", "iteration", "evaluate", "validate_judge", "lm_eval"}
FINETUNE_RUN = re.compile(r"finetune/(?P<task>[^/]+)/(?P<model>[^/]+)/(?P<preset>[^/]+)/(?P<strategy>[^/]+)/"
                          r"b(?P<budget>\d+)-m(?P<rounds>\d+)/seed(?P<seed>\d+)/")
# the report's own jobs (this module's and the savings table): not part of what the grid cost
OWN = {"compute_rules", "compute_cells", "final_metrics_table", "label_savings"}


def job_name(path: Path, results: Path) -> tuple[str, str]:
    """(family, rule) of one benchmark file."""
    parts = path.relative_to(results).parts
    if parts[0] == "benchmarks":
        return "shared", parts[1] if len(parts) > 2 else path.stem
    return parts[0], path.name.split(".")[0]


def benchmark_files(results: Path) -> list[Path]:
    """Every ``*.tsv`` in a ``benchmarks`` folder under ``results``. Jobs running beside this one write their
    outputs in hidden temporary folders (``.name.XXXX``, algrid.io.atomic_path) that vanish when renamed into
    place: those are skipped, and a folder that vanishes while being listed is ignored (os.walk's default)."""
    found = []
    for root, dirs, files in os.walk(results):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if "benchmarks" in Path(root).relative_to(results).parts:
            found += [Path(root) / f for f in files if f.endswith(".tsv")]
    return sorted(found)


def read_benchmarks(results) -> pd.DataFrame:
    """One row per benchmark file under ``results``: path, family, rule, s, cpu_s, max_rss_mb.
    A job too short for psutil to sample has NA memory; it stays NA (not 0)."""
    results = Path(results)
    rows = []
    for path in benchmark_files(results):
        family, rule = job_name(path, results)
        if rule in OWN:
            continue
        try:
            table = pd.read_csv(path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise DataError(path, f"not a Snakemake benchmark file ({err}); delete it and rerun its job") from None
        if "s" not in table or table.empty:
            raise DataError(path, "not a Snakemake benchmark file (no 's' column); delete it and rerun its job")
        last = table.iloc[-1]  # a `repeat(...)` benchmark has one line per repeat: the last run made the output
        rows.append({"path": path.relative_to(results.parent).as_posix(), "family": family, "rule": rule,
                     "s": pd.to_numeric(last["s"], errors="coerce"),
                     "cpu_s": pd.to_numeric(last.get("cpu_time"), errors="coerce"),
                     "max_rss_mb": pd.to_numeric(last.get("max_rss"), errors="coerce")})
    return pd.DataFrame(rows, columns=["path", "family", "rule", "s", "cpu_s", "max_rss_mb"])


def rule_costs(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per (family, rule): jobs, wall seconds (total, mean, max), CPU seconds, peak memory, whether it loads a model."""
    grouped = jobs.groupby(["family", "rule"], sort=True)
    table = grouped.agg(jobs=("s", "size"), seconds_total=("s", "sum"), seconds_mean=("s", "mean"),
                        seconds_max=("s", "max"), cpu_seconds_total=("cpu_s", "sum"),
                        peak_rss_mb=("max_rss_mb", "max")).reset_index()
    table["model_job"] = table.rule.isin(MODEL_RULES)
    return table.sort_values("seconds_total", ascending=False, kind="stable").round(2)


def cell_compute(jobs: pd.DataFrame, final_metrics: pd.DataFrame) -> pd.DataFrame:
    """Per finetune cell of ``final_metrics`` (its own jobs, every seed and round): model-job seconds per run
    (mean over seeds) and in total, GPU-hours (each model job holds one GPU for its runtime), other seconds."""
    runs = final_metrics[(final_metrics.family == "finetune") & (final_metrics.strategy != "base")]
    wanted = {tuple(str(v) for v in key) for key in runs[CELL + ["seed"]].drop_duplicates()
              .astype({"budget": int, "rounds": int, "seed": int}).itertuples(index=False)}
    rows = []
    for job in jobs.itertuples(index=False):
        match = FINETUNE_RUN.search(job.path)
        if match and tuple(match[k] for k in CELL + ["seed"]) in wanted:
            rows.append({**{k: match[k] for k in CELL + ["seed"]}, "model_job": job.rule in MODEL_RULES,
                         "s": job.s, "max_rss_mb": job.max_rss_mb})
    if not rows:
        return pd.DataFrame(columns=CELL + ["n_seeds", "model_s_per_run", "model_s_total", "gpu_hours",
                                            "other_s_total", "peak_rss_mb"])
    frame = pd.DataFrame(rows).astype({"budget": int, "rounds": int, "seed": int})
    frame["model_s"] = frame.s.where(frame.model_job, 0.0)
    frame["other_s"] = frame.s.where(~frame.model_job, 0.0)
    per_run = frame.groupby(CELL + ["seed"]).agg(model_s=("model_s", "sum"), other_s=("other_s", "sum"),
                                                 peak_rss_mb=("max_rss_mb", "max")).reset_index()
    cells = per_run.groupby(CELL, sort=True).agg(
        n_seeds=("seed", "nunique"), model_s_per_run=("model_s", "mean"), model_s_total=("model_s", "sum"),
        other_s_total=("other_s", "sum"), peak_rss_mb=("peak_rss_mb", "max")).reset_index()
    cells["gpu_hours"] = cells.model_s_total / 3600
    columns = CELL + ["n_seeds", "model_s_per_run", "model_s_total", "gpu_hours", "other_s_total", "peak_rss_mb"]
    return cells[columns].round({"model_s_per_run": 2, "model_s_total": 2, "gpu_hours": 4, "other_s_total": 2,
                                 "peak_rss_mb": 1})


TABLE_CSS = ("body{font:12px sans-serif;margin:8px} table{border-collapse:collapse} th{position:sticky;top:0;"
             "background:#eef} th,td{border:1px solid #ccc;padding:2px 5px;text-align:right} "
             "td:first-child,th:first-child{text-align:left}")


def write_html_table(path, frame: pd.DataFrame, title: str) -> None:
    """A csv table as a self-contained html page, for the report (which shows html results inline)."""
    body = frame.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:.4g}")
    write_text(path, f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                     f"<style>{TABLE_CSS}</style></head><body><h3>{html.escape(title)}</h3>"
                     f"<p>{len(frame)} rows</p>{body}</body></html>\n")


def csv_to_html(csv_path, out_path, title: str) -> None:
    write_html_table(out_path, pd.read_csv(csv_path), title)


def write_rule_costs(results, out_csv, out_html, out_png) -> None:
    from .compute_plots import rule_costs_figure
    from .plots import save

    table = rule_costs(read_benchmarks(results))
    write_csv(out_csv, table)
    write_html_table(out_html, table, "Runtime and peak memory per rule")
    save(rule_costs_figure(table), out_png)
    log.info("%d rules, %d jobs, %.0f s in all", len(table), table.jobs.sum(), table.seconds_total.sum())


def write_cell_compute(results, final_metrics_csv, summary_csv, out_csv, out_html, out_png) -> None:
    from .compute_plots import accuracy_vs_compute_figure
    from .plots import save

    cells = cell_compute(read_benchmarks(results), pd.read_csv(final_metrics_csv))
    write_csv(out_csv, cells)
    write_html_table(out_html, cells, "Compute per finetune cell")
    save(accuracy_vs_compute_figure(pd.read_csv(summary_csv), cells), out_png)
    log.info("%d cells", len(cells))
