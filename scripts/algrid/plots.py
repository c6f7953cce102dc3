"""Figures for the report: one line per grid cell, each with its interval band; nothing merged.

Panels: one row per (pool task, model, preset, budget), one column per eval task (or per measure), so a
paper-scale grid (e.g. 8 eval tasks x 2 budgets) facets into a grid of small panels; a column shares its y
axis. Within a panel a line is one (strategy, rounds) cell: colour = strategy, line style = rounds, the same in
every panel, so one legend serves the figure. ``*_figure`` functions build the matplotlib figure from the
tables (for tests); the others read the csv files and write the png.
"""

import logging

import pandas as pd

from . import stats
from .io import atomic_path

log = logging.getLogger(__name__)

ROW = ["task", "model", "preset", "budget"]
PANEL_W, PANEL_H, MAX_W, MAX_H = 3.2, 2.5, 28.0, 40.0
LEGEND_ROW_H = 0.2  # inches per line of the figure legend
LEGEND_CHAR_W, LEGEND_HANDLE_W = 0.062, 0.55  # inches per character of a 7 pt legend label, per handle + gaps
STYLES = ["-", "--", ":", "-."]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finetune(summary: pd.DataFrame) -> pd.DataFrame:
    """The finetune rows of summary.csv, with integer budgets, rounds, rounds and labels; an lm-eval task's rows
    (eval_task lm_eval:<task>) are one eval task per metric."""
    ft = summary[summary.family == "finetune"].copy()
    for column in ("budget", "rounds", "round", "n_labels"):
        ft[column] = ft[column].astype(int)
    lm = ft.eval_task.astype(str).str.startswith("lm_eval:")  # lm-eval tasks: one panel per metric they report
    if lm.any():
        ft.loc[lm, "eval_task"] = ft.loc[lm, "eval_task"] + " " + ft.loc[lm, "metric"].astype(str)
    return ft


def _grid(n_rows: int, n_cols: int, *, sharey, legend: list[str], panel_w: float = PANEL_W):
    """Figure and axes, sized for the panels and for a legend of ``legend`` labels above them."""
    width = min(MAX_W, max(5.0, panel_w * n_cols + 1.2))
    rows = -(-len(legend) // _legend_cols(legend, width)) if legend else 0
    height = min(MAX_H, PANEL_H * n_rows + 0.6 + LEGEND_ROW_H * rows)
    fig, axes = _plt().subplots(n_rows, n_cols, figsize=(width, height), squeeze=False, sharey=sharey)
    return fig, axes


def _legend_cols(labels, width: float) -> int:
    """As many legend columns as fit across the figure."""
    entry = LEGEND_HANDLE_W + LEGEND_CHAR_W * max(len(str(label)) for label in labels)
    return max(1, min(len(labels), int((width - 0.2) // entry)))


def _styles(cells: pd.DataFrame) -> dict:
    """(strategy, rounds) -> plot keywords: one colour per strategy, one line style per number of rounds."""
    strategies = sorted(cells.strategy.unique())
    rounds = sorted(cells.rounds.unique())
    colours = _plt().get_cmap("tab10" if len(strategies) <= 10 else "tab20").colors
    return {(s, m): {"color": colours[strategies.index(s) % len(colours)],
                     "linestyle": STYLES[rounds.index(m) % len(STYLES)]}
            for s, m in cells[["strategy", "rounds"]].drop_duplicates().itertuples(index=False)}


def cell_label(strategy: str, rounds) -> str:
    return f"{strategy}, {int(rounds)} round{'s' if int(rounds) != 1 else ''}"


def _row_title(values) -> str:
    task, model, preset, budget = values
    return f"pool {task}\n{model}, {preset}\nbudget {int(budget)}"


def _legend(fig, axes) -> None:
    """One legend for the figure (entries in order of first appearance), above the panels."""
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    top = 1.0
    if handles:
        ncol = _legend_cols(list(handles), fig.get_figwidth())
        top = 1 - (LEGEND_ROW_H * -(-len(handles) // ncol) + 0.15) / fig.get_figheight()
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=ncol, fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, top), h_pad=0.6, w_pad=0.4)


def _band(ax, x, mean, low, high, style, label):
    line, = ax.plot(x, mean, marker="o", ms=2.5, lw=1.1, label=label, **style)
    ax.fill_between(x, low, high, color=style["color"], alpha=0.12, lw=0)
    return line


def _dress(ax, *, title: str | None, xlabel: str | None, ylabel: str | None) -> None:
    if title:
        ax.set_title(title, fontsize=8)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=7)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=6.5)
    ax.grid(alpha=0.3)


def _denominators(rows: pd.DataFrame) -> str:
    """' (250 items, 3 seeds)': the largest denominators of some summary rows, '' where the table has none."""
    parts = []
    for column, noun in (("n_items", "item"), ("n_seeds", "seed")):
        if column in rows and rows[column].notna().any():
            n = int(rows[column].max())
            parts.append(f"{n} {noun}{'s' if n != 1 else ''}")
    return f" ({', '.join(parts)})" if parts else ""


def _in_row(table: pd.DataFrame, row) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, value in zip(ROW, row):
        mask &= table[column] == value
    return mask


def learning_curve_figure(summary: pd.DataFrame):
    """Accuracy against labels used. Panel (pool task, model, preset, budget) x eval task; in it one line per
    (strategy, rounds) cell through its rounds, from the base model of that model/preset at 0 labels. Bands:
    each cell's 95% interval from summary.csv (bootstrap over seeds and eval items)."""
    from matplotlib.ticker import MaxNLocator

    ft = _finetune(summary)
    base, cells = ft[ft.strategy == "base"], ft[ft.strategy != "base"]
    rows = list(cells[ROW].drop_duplicates().sort_values(ROW).itertuples(index=False, name=None))
    evals = sorted(cells.eval_task.unique())
    styles = _styles(cells)
    fig, axes = _grid(max(len(rows), 1), max(len(evals), 1), sharey="col",
                      legend=[cell_label(s, m) for s, m in styles])
    for r, row in enumerate(rows):
        for c, eval_task in enumerate(evals):
            ax = axes[r][c]
            here = cells[_in_row(cells, row) & (cells.eval_task == eval_task)]
            start = base[(base.model == row[1]) & (base.preset == row[2]) & (base.eval_task == eval_task)]
            for (strategy, rounds), cell in here.groupby(["strategy", "rounds"], sort=True):
                points = pd.concat([start, cell.sort_values("round")])
                _band(ax, points.n_labels, points.accuracy_mean, points.accuracy_ci_low, points.accuracy_ci_high,
                      styles[(strategy, rounds)], cell_label(strategy, rounds))
            if here.empty:
                ax.text(0.5, 0.5, "no runs", ha="center", va="center", fontsize=7, transform=ax.transAxes)
            title = f"eval {eval_task}{_denominators(cells[cells.eval_task == eval_task])}"
            _dress(ax, title=title if r == 0 else None,
                   xlabel="labels used" if r == len(rows) - 1 else None,
                   ylabel=_row_title(row) + "\naccuracy" if c == 0 else None)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    if not rows:
        axes[0][0].text(0.5, 0.5, "no finetune runs", ha="center", va="center", transform=axes[0][0].transAxes)
    _legend(fig, axes)
    return fig


def learning_curve(summary_path, out_path) -> None:
    save(learning_curve_figure(pd.read_csv(summary_path)), out_path)


def selection_vs_rounds_figure(diagnostics: pd.DataFrame, summary: pd.DataFrame):
    """Against the number of rounds m (integer ticks), per (pool task, model, preset, budget): the final
    selection's diversity and coverage (mean over seeds, band: 95% t-interval over seeds) and, one panel per
    eval task, the final round's accuracy (band: the cell's 95% bootstrap interval over seeds and items)."""
    final = diagnostics[diagnostics["round"] == diagnostics["rounds"]]
    ft = _finetune(summary)
    acc = ft[(ft.strategy != "base") & (ft["round"] == ft["rounds"])]
    evals = sorted(acc.eval_task.unique())
    panels = [("diversity", "mean_pairwise_cosine_distance_cumulative",
               "diversity of the selection\n(mean pairwise cos. dist.)"),
              ("coverage", "coverage", "coverage distance\n(lower covers the pool better)")]
    panels += [("accuracy", e, f"final-round accuracy\neval {e}{_denominators(acc[acc.eval_task == e])}")
               for e in evals]
    rows = sorted(set(final[ROW].itertuples(index=False, name=None)) | set(acc[ROW].itertuples(index=False,
                                                                                                 name=None)))
    strategies = sorted(set(final.strategy) | set(acc.strategy))
    styles = {s: {"color": _plt().get_cmap("tab10").colors[i % 10], "linestyle": "-"}
              for i, s in enumerate(strategies)}
    ticks = sorted({int(m) for m in pd.concat([final.rounds, acc.rounds])})
    fig, axes = _grid(max(len(rows), 1), len(panels), sharey="col", legend=strategies)
    for r, row in enumerate(rows):
        for c, (kind, column, title) in enumerate(panels):
            ax = axes[r][c]
            if kind == "accuracy":
                sub = acc[_in_row(acc, row) & (acc.eval_task == column)]
                for strategy, g in sub.groupby("strategy", sort=True):
                    g = g.sort_values("rounds")
                    _band(ax, g.rounds, g.accuracy_mean, g.accuracy_ci_low, g.accuracy_ci_high, styles[strategy],
                          strategy)
            else:
                sub = final[_in_row(final, row)]
                for strategy, g in sub.groupby("strategy", sort=True):
                    points = [(int(m), *stats.t_interval(v[column].dropna()))
                              for m, v in g.groupby("rounds", sort=True) if v[column].notna().any()]
                    if points:
                        m, mean, _, low, high = zip(*points)
                        _band(ax, m, mean, low, high, styles[strategy], strategy)
            ax.set_xticks(ticks, [str(t) for t in ticks])
            _dress(ax, title=title if r == 0 else None, xlabel="retraining rounds m" if r == len(rows) - 1 else None,
                   ylabel=_row_title(row) if c == 0 else None)
    _legend(fig, axes)
    return fig


def selection_vs_rounds(diagnostics_csv, summary_csv, out_path) -> None:
    save(selection_vs_rounds_figure(pd.read_csv(diagnostics_csv), pd.read_csv(summary_csv)), out_path)


def save(fig, out_path) -> None:
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _plt().close(fig)
    log.info("wrote %s", out_path)


def icl_figure(summary: pd.DataFrame, *, max_cols: int = 4):
    """In-context learning accuracy: one panel per task (wrapped into rows), one bar per (model, shots,
    strategy) cell with its 95% interval (bootstrap over seeds and eval items); colour = strategy, bars grouped
    by model and shots; one legend."""
    plt = _plt()
    frame = summary[summary.family == "icl"] if "family" in summary else summary
    tasks = sorted(frame.task.unique())
    strategies = sorted(frame.strategy.unique())
    groups = sorted(frame[["model", "shots"]].drop_duplicates().itertuples(index=False, name=None),
                    key=lambda g: (g[0], int(g[1])))
    n_cols = max(1, min(max_cols, len(tasks)))
    n_rows = max(1, -(-len(tasks) // n_cols))
    fig, axes = _grid(n_rows, n_cols, sharey=True, legend=strategies,
                      panel_w=max(2.8, 0.22 * len(groups) * len(strategies) + 1.0))
    colours = plt.get_cmap("tab10" if len(strategies) <= 10 else "tab20").colors
    width_bar = 0.8 / max(len(strategies), 1)
    for ax, task in zip(axes.flat, tasks):
        sub = frame[frame.task == task]
        for k, strategy in enumerate(strategies):
            for g, (model, shots) in enumerate(groups):
                cell = sub[(sub.strategy == strategy) & (sub.model == model) & (sub.shots == shots)]
                if cell.empty:
                    continue
                (row,) = cell.itertuples()
                low = max(row.accuracy_mean - row.accuracy_ci_low, 0)
                high = max(row.accuracy_ci_high - row.accuracy_mean, 0)
                ax.bar(g - 0.4 + (k + 0.5) * width_bar, row.accuracy_mean, width_bar, yerr=[[low], [high]],
                       capsize=2, color=colours[k % len(colours)], label=strategy,
                       error_kw={"elinewidth": 0.8, "capthick": 0.8})
        multi_model = len({m for m, _ in groups}) > 1
        ax.set_xticks(range(len(groups)), [f"{m}\nk={int(s)}" if multi_model else f"k={int(s)}" for m, s in groups],
                      fontsize=6.5)
        n_items, n_seeds = int(sub.n_items.max()), int(sub.n_seeds.max())
        _dress(ax, title=f"{task} ({n_items} items, {n_seeds} seed{'s' if n_seeds != 1 else ''})", xlabel=None,
               ylabel="accuracy" if ax in axes[:, 0] else None)
        ax.set_ylim(0, 1)
        ax.grid(axis="x", visible=False)
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    if not tasks:
        axes[0][0].set_visible(True)
        axes[0][0].text(0.5, 0.5, "no in-context runs", ha="center", va="center", transform=axes[0][0].transAxes)
    _legend(fig, axes)
    return fig
