"""Figures of what the grid cost (tables from algrid.compute): time and memory per rule; accuracy against
compute per (strategy, rounds), the experimental-design (1 round) vs active-learning (several rounds) trade-off."""

import pandas as pd

from .plots import _denominators, _dress, _finetune, _grid, _legend, _plt, _styles, cell_label

PANEL = ["task", "model", "preset"]


def rule_costs_figure(table: pd.DataFrame):
    """Two bar panels per rule (family/rule, most expensive first): wall seconds summed over its jobs, and the
    largest peak resident memory of one job. Model-loading rules in a darker colour."""
    plt = _plt()
    table = table.sort_values("seconds_total", ascending=True, kind="stable")
    labels = [f"{f}/{r} ({int(n)} job{'s' if n != 1 else ''})" for f, r, n in zip(table.family, table.rule,
                                                                                  table.jobs)]
    height = min(40.0, max(2.5, 0.22 * len(table) + 1.2))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, height), sharey=True, squeeze=True)
    colours = ["#1f4e79" if m else "#8fb3d9" for m in table.model_job]
    y = range(len(table))
    left.barh(y, table.seconds_total, color=colours)
    right.barh(y, table.peak_rss_mb.fillna(0), color=colours)
    left.set_yticks(list(y), labels, fontsize=7)
    _dress(left, title="wall time, all jobs of the rule", xlabel="seconds", ylabel=None)
    _dress(right, title="peak memory of one job (RSS)", xlabel="MB", ylabel=None)
    if table.empty:
        left.text(0.5, 0.5, "no benchmark files", ha="center", va="center", transform=left.transAxes)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#1f4e79", "#8fb3d9")]
    fig.legend(handles, ["loads a model (a GPU job on a cluster)", "CPU only"], loc="upper center", ncol=2,
               fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / height))
    return fig


def accuracy_vs_compute_figure(summary: pd.DataFrame, cells: pd.DataFrame):
    """Final-round accuracy against model-job seconds per run. Panel (pool task, model, preset) x eval task;
    one line per (strategy, rounds) through its budgets (points labelled b<budget>), 95% interval bars from
    summary.csv; the base model as a dotted line."""
    ft = _finetune(summary)
    base, final = ft[ft.strategy == "base"], ft[(ft.strategy != "base") & (ft["round"] == ft.rounds)]
    cells = cells.astype({"budget": int, "rounds": int}) if len(cells) else cells
    points = final.merge(cells.drop(columns="n_seeds"), on=["task", "model", "preset", "strategy", "budget", "rounds"], how="inner")
    panels = list(points[PANEL].drop_duplicates().sort_values(PANEL).itertuples(index=False, name=None))
    evals = sorted(points.eval_task.unique())
    styles = _styles(points) if len(points) else {}
    fig, axes = _grid(max(len(panels), 1), max(len(evals), 1), sharey="col",
                      legend=[cell_label(s, m) for s, m in styles] + ["base model"])
    for r, (task, model, preset) in enumerate(panels):
        for c, eval_task in enumerate(evals):
            ax = axes[r][c]
            here = points[(points.task == task) & (points.model == model) & (points.preset == preset)
                          & (points.eval_task == eval_task)]
            for (strategy, rounds), line in here.groupby(["strategy", "rounds"], sort=True):
                line = line.sort_values("budget")
                style = styles[(strategy, rounds)]
                ax.errorbar(line.model_s_per_run, line.accuracy_mean,
                            yerr=[(line.accuracy_mean - line.accuracy_ci_low).clip(lower=0),
                                  (line.accuracy_ci_high - line.accuracy_mean).clip(lower=0)],
                            marker="o", ms=3, lw=1.1, capsize=2, label=cell_label(strategy, rounds), **style)
                for x, y, budget in zip(line.model_s_per_run, line.accuracy_mean, line.budget):
                    ax.annotate(f"b{budget}", (x, y), fontsize=5.5, xytext=(2, 2), textcoords="offset points")
            start = base[(base.model == model) & (base.preset == preset) & (base.eval_task == eval_task)]
            if len(start):
                ax.axhline(start.accuracy_mean.iloc[0], color="grey", linestyle=":", lw=1, label="base model")
            if len(here) and here.model_s_per_run.max() > 20 * max(here.model_s_per_run.min(), 1e-9):
                ax.set_xscale("log")
            title = f"eval {eval_task}{_denominators(points[points.eval_task == eval_task])}"
            _dress(ax, title=title if r == 0 else None,
                   xlabel="model-job seconds per run" if r == len(panels) - 1 else None,
                   ylabel=f"pool {task}\n{model}, {preset}\nfinal-round accuracy" if c == 0 else None)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no finetune runs with benchmark files", ha="center", va="center",
                        transform=axes[0][0].transAxes)
    _legend(fig, axes)
    return fig
