"""Print a finished finetune study's README tables from its results/ (rounds_cpu.yaml, ed_vs_al_cpu.yaml).

    .venv/bin/python benchmarks/study_tables.py [--results results]

Every figure comes from the run's own files: results/summary.csv (final-round accuracy, its 95% two-level
bootstrap interval, the paired difference to random and its sign-flip p value), results/savings.csv,
results/selection_diagnostics.csv (diversity and coverage of the cumulative selection), results/compute/cells.csv
(model-job seconds per run) and results/stopping_criteria.csv.
"""

import argparse
from pathlib import Path

import pandas as pd


def interval(mean, low, high) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]" if not pd.isna(low) else f"{mean:.3f}"


def markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n| " + " | ".join("---" for _ in frame.columns) + " |\n"
    return head + "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False))


def final_rounds(results: Path) -> pd.DataFrame:
    summary = pd.read_csv(results / "summary.csv")
    summary = summary[summary.family == "finetune"] if "family" in summary else summary
    runs = summary[(summary.strategy != "base") & (summary["round"] == summary["rounds"])].copy()
    diag = pd.read_csv(results / "selection_diagnostics.csv")
    diag = diag[diag["round"] == diag["rounds"]]
    per_cell = ["task", "model", "preset", "strategy", "budget", "rounds"]
    diag = diag.groupby(per_cell, as_index=False)[["mean_pairwise_cosine_distance_cumulative", "coverage"]].mean()
    cost = pd.read_csv(results / "compute" / "cells.csv")[per_cell + ["model_s_per_run"]]
    for frame in (runs, diag, cost):
        frame[["budget", "rounds"]] = frame[["budget", "rounds"]].astype(int)
    return runs.merge(diag, on=per_cell, how="left").merge(cost, on=per_cell, how="left")


def accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in runs.sort_values(["eval_task", "budget", "strategy", "rounds"]).itertuples(index=False):
        diff = "" if r.strategy == "random" else (
            f"{interval(r.diff_vs_random, r.diff_ci_low, r.diff_ci_high)}, p = {r.p_vs_random:.3f}")
        rows.append({"eval task": r.eval_task, "budget": r.budget, "strategy": r.strategy, "rounds": r.rounds,
                     "seeds": r.n_seeds, "items": r.n_items,
                     "accuracy": interval(r.accuracy_mean, r.accuracy_ci_low, r.accuracy_ci_high),
                     "vs random (same budget, rounds)": diff,
                     "diversity": f"{r.mean_pairwise_cosine_distance_cumulative:.3f}",
                     "coverage": f"{r.coverage:.3f}", "model s/run": f"{r.model_s_per_run:.0f}"})
    return pd.DataFrame(rows)


def base_rows(results: Path) -> pd.DataFrame:
    summary = pd.read_csv(results / "summary.csv")
    base = summary[summary.strategy == "base"]
    return pd.DataFrame({"eval task": base.eval_task, "base model accuracy": [
        interval(r.accuracy_mean, r.accuracy_ci_low, r.accuracy_ci_high) for r in base.itertuples()]})


def round_costs(runs: pd.DataFrame) -> pd.DataFrame:
    """Model-job seconds per run by rounds, and what each extra round adds over one round (same budget)."""
    cost = runs.drop_duplicates(["strategy", "budget", "rounds"]).pivot_table(
        index=["strategy", "budget"], columns="rounds", values="model_s_per_run")
    out = cost.round(0).astype("Int64").astype(str)
    one = cost[cost.columns.min()]
    for rounds in cost.columns[1:]:
        out[f"+s per extra round ({rounds})"] = ((cost[rounds] - one) / (rounds - 1)).round(0).astype("Int64")
    out.columns = [f"{c} rounds" if isinstance(c, (int, float)) else c for c in out.columns]
    return out.reset_index()


def savings_table(results: Path) -> pd.DataFrame:
    savings = pd.read_csv(results / "savings.csv")
    savings = savings[savings.strategy != "random"].sort_values(["eval_task", "strategy", "rounds", "budget"])
    rows = []
    for r in savings.itertuples(index=False):
        ratio = "" if pd.isna(r.label_ratio) else interval(r.label_ratio, r.label_ratio_ci_low, r.label_ratio_ci_high)
        rows.append({"strategy": r.strategy, "rounds": r.rounds, "random's budget": r.budget,
                     "outcome": r.outcome, "label ratio [95%]": ratio,
                     "not reached share": f"{r.not_reached_share:.2f}",
                     "diff at equal labels": interval(r.diff_equal_labels, r.diff_equal_labels_ci_low,
                                                      r.diff_equal_labels_ci_high),
                     "diff at equal compute": interval(r.diff_equal_compute, r.diff_equal_compute_ci_low,
                                                       r.diff_equal_compute_ci_high)})
    return pd.DataFrame(rows)


def stopping_summary(results: Path) -> pd.DataFrame:
    """Per strategy and rounds (cells of 4 rounds): how often each round is the first that a criterion stops at,
    and that round's mean accuracy beside the last round's."""
    stop = pd.read_csv(results / "stopping_criteria.csv")
    stop = stop[stop["rounds"] == stop["rounds"].max()]
    columns = [c for c in stop.columns if c.endswith("_stop")]
    rows = []
    for (strategy, budget), cell in stop.groupby(["strategy", "budget"]):
        last = cell[cell["round"] == cell["rounds"]]["accuracy"].mean()
        row = {"strategy": strategy, "budget": budget, "last round accuracy": f"{last:.3f}"}
        for column in columns:
            name = column.removesuffix("_stop")
            firsts = cell[cell[column].astype("boolean").fillna(False)].groupby("seed")["round"].min()
            at = cell.set_index(["seed", "round"])["accuracy"]
            accuracy = [at[(seed, rnd)] for seed, rnd in firsts.items()]
            row[name] = (f"{len(firsts)}/{cell.seed.nunique()} seeds, round {firsts.mean():.1f}, "
                         f"acc {sum(accuracy) / len(accuracy):.3f}") if len(firsts) else "never"
        rows.append(row)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    results = parser.parse_args().results
    runs = final_rounds(results)
    for title, table in [("Base model", base_rows(results)), ("Final-round accuracy", accuracy_table(runs)),
                         ("Model-job seconds per run", round_costs(runs)), ("Label savings", savings_table(results)),
                         ("Stopping criteria (cells of the most rounds)", stopping_summary(results))]:
        print(f"### {title}\n\n{markdown(table)}\n")


if __name__ == "__main__":
    main()
