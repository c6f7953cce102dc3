"""The label-savings figure (table from algrid.finetune.savings): the share of random's labels a strategy needs
to reach random's accuracy, against random's budget, one line per (strategy, rounds) with its 95% band."""

import numpy as np
import pandas as pd

from ..plots import _denominators, _dress, _grid, _legend, _styles, cell_label

PANEL = ["task", "model", "preset"]


def savings_figure(table: pd.DataFrame):
    """Panel (pool task, model, preset) x eval task. x = random's budget B, y = labels needed / B; one line per
    (strategy, rounds) (colour = strategy, line style = rounds), band = the ratio's 95% bootstrap interval (an
    infinite bound, "not reached" in enough resamples, drawn to the top of the panel); a point whose estimate
    is "not reached" is an open triangle at the top. Dotted: ratio 1 (as many labels as random)."""
    panels = list(table[PANEL].drop_duplicates().sort_values(PANEL).itertuples(index=False, name=None))
    evals = sorted(table.eval_task.unique())
    styles = _styles(table) if len(table) else {}
    fig, axes = _grid(max(len(panels), 1), max(len(evals), 1), sharey=False,
                      legend=[cell_label(s, m) for s, m in styles] + ["not reached"] if styles else [])
    finite = pd.concat([table.label_ratio, table.label_ratio_ci_high, table.label_ratio_ci_low]).replace(
        [np.inf, -np.inf], np.nan).dropna() if len(table) else pd.Series(dtype=float)
    top = max(1.5, float(finite.max()) * 1.1) if len(finite) else 1.5
    for r, (task, model, preset) in enumerate(panels):
        for c, eval_task in enumerate(evals):
            ax = axes[r][c]
            here = table[(table.task == task) & (table.model == model) & (table.preset == preset)
                         & (table.eval_task == eval_task)]
            for (strategy, rounds), line in here.groupby(["strategy", "rounds"], sort=True):
                line = line.sort_values("budget")
                style = styles[(strategy, rounds)]
                ax.plot(line.budget, line.label_ratio, marker="o", ms=3, lw=1.1, label=cell_label(strategy, rounds),
                        **style)
                low = line.label_ratio_ci_low.astype(float).clip(upper=top)
                high = line.label_ratio_ci_high.astype(float).clip(upper=top)
                ok = low.notna() & high.notna()
                ax.fill_between(line.budget[ok], low[ok], high[ok], color=style["color"], alpha=0.12, lw=0)
                missed = line[line.outcome == "not reached"]
                if len(missed):
                    ax.plot(missed.budget, [top * 0.97] * len(missed), linestyle="none", marker="^", ms=5,
                            mfc="none", color=style["color"], label="not reached")
            ax.axhline(1.0, color="grey", linestyle=":", lw=1)
            ax.set_ylim(0, top)
            if len(here):
                ax.set_xticks(sorted(here.budget.unique()))
            title = f"eval {eval_task}{_denominators(here)}"
            _dress(ax, title=title if r == 0 else None, xlabel="random's budget B" if r == len(panels) - 1 else None,
                   ylabel=f"pool {task}\n{model}, {preset}\nlabels needed / B" if c == 0 else None)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no family with two or more budgets\n(finetune.budgets)", ha="center",
                        va="center", fontsize=8, transform=axes[0][0].transAxes)
        axes[0][0].set_xticks([])
        axes[0][0].set_yticks([])
    _legend(fig, axes)
    return fig
