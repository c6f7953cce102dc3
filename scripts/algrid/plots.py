"""Figures for the report."""

import logging

import pandas as pd

from .io import atomic_path

log = logging.getLogger(__name__)


def learning_curve(csv_path, out_path) -> None:
    """Accuracy vs labels used, per eval task: a line per strategy x rounds, base model at 0 labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.read_csv(csv_path)
    frame = frame[frame.family == "finetune"]
    evals = sorted(frame.eval_task.unique())
    fig, axes = plt.subplots(1, len(evals), figsize=(5.5 * len(evals), 4), squeeze=False)
    for ax, task in zip(axes[0], evals):
        sub = frame[frame.eval_task == task]
        base = sub[sub["round"] == 0].accuracy.mean()
        cells = sub[sub["round"] > 0]
        for (strategy, rounds), g in cells.groupby(["strategy", "rounds"]):
            curve = g.groupby("n_labels").accuracy.agg(["mean", "min", "max"]).reset_index()
            x = [0, *curve.n_labels]
            y = [base, *curve["mean"]]
            line, = ax.plot(x, y, marker="o", linestyle="-" if rounds == 1 else "--",
                            label=f"{strategy}, {rounds} round{'s' if rounds > 1 else ''}")
            ax.vlines(curve.n_labels, curve["min"], curve["max"], color=line.get_color(), alpha=0.4)
        ax.set(title=f"eval: {task}", xlabel="labels used", ylabel="accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    log.info("wrote %s", out_path)


def selection_vs_rounds(diagnostics_csv, metrics_csv, out_path) -> None:
    """Per strategy, against the number of rounds m: diversity and coverage of the final selection, and the
    final round's accuracy (mean over seeds and eval tasks; bars span seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    diag = pd.read_csv(diagnostics_csv)
    final = diag[diag["round"] == diag["rounds"]]
    metrics = pd.read_csv(metrics_csv)
    metrics = metrics[(metrics.family == "finetune") & (metrics["round"] == metrics["rounds"]) & (metrics["round"] > 0)]
    acc = metrics.groupby(["strategy", "rounds", "budget", "seed"]).accuracy.mean().reset_index()
    panels = [(final, "mean_pairwise_cosine_distance_cumulative", "diversity (mean pairwise cos. dist.)"),
              (final, "coverage", "coverage distance (lower = better)"),
              (acc, "accuracy", "final-round accuracy")]
    budgets = sorted(final.budget.unique())
    fig, axes = plt.subplots(len(budgets), 3, figsize=(15, 3.8 * len(budgets)), squeeze=False)
    for row, budget in zip(axes, budgets):
        for ax, (table, column, label) in zip(row, panels):
            sub = table[table.budget == budget]
            for strategy, g in sub.groupby("strategy"):
                curve = g.groupby("rounds")[column].agg(["mean", "min", "max"]).reset_index()
                line, = ax.plot(curve.rounds, curve["mean"], marker="o", label=strategy)
                ax.vlines(curve.rounds, curve["min"], curve["max"], color=line.get_color(), alpha=0.4)
            ax.set(xlabel="retraining rounds m", ylabel=label, title=f"budget {budget}")
            ax.set_xticks(sorted(sub.rounds.unique()))
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    log.info("wrote %s", out_path)
