"""Report figures: one line per grid cell with its interval band, nothing merged across budgets, pool tasks,
models, presets or eval tasks; rounds printed as integers."""

import itertools

import numpy as np
import pandas as pd
import pytest
from algrid import plots
from algrid.icl import summary as icl_summary
from matplotlib.collections import PolyCollection

TASKS, MODELS, BUDGETS, EVALS = ("pool-a", "pool-b"), ("m1", "m2"), (8, 16), ("eval-x", "eval-y")
STRATEGIES, ROUNDS = ("random", "entropy"), (1, 2)


def summary_frame(seed=0) -> pd.DataFrame:
    """summary.csv of a 2 budgets x 2 pool tasks x 2 models x 2 eval tasks grid, 2 strategies x 1 or 2 rounds,
    plus the base model per model x eval task; every row has its own accuracy, so a merge would show."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(**keys):
        acc = float(rng.uniform(0.2, 0.8))
        rows.append(dict(family="finetune", preset="p", shots=None, metric="label", n_seeds=3, n_items=50,
                         accuracy_mean=acc, accuracy_ci_low=acc - 0.05, accuracy_ci_high=acc + 0.05, **keys))

    for model, eval_task in itertools.product(MODELS, EVALS):
        add(task=None, model=model, strategy="base", budget=0, rounds=0, round=0, n_labels=0, eval_task=eval_task)
    for task, model, budget, eval_task, strategy, rounds in itertools.product(TASKS, MODELS, BUDGETS, EVALS,
                                                                              STRATEGIES, ROUNDS):
        for r in range(1, rounds + 1):
            add(task=task, model=model, strategy=strategy, budget=budget, rounds=rounds, round=r,
                n_labels=budget * r // rounds, eval_task=eval_task)
    rows.append(dict(family="icl", task="t", model="m1", strategy="random", shots=4, eval_task="t", metric="label",
                     n_seeds=1, n_items=5, accuracy_mean=0.5, accuracy_ci_low=0.1, accuracy_ci_high=0.9))
    return pd.DataFrame(rows)


def expected_line(frame, task, model, budget, eval_task, strategy, rounds):
    base = frame[(frame.strategy == "base") & (frame.model == model) & (frame.eval_task == eval_task)]
    cell = frame[(frame.task == task) & (frame.model == model) & (frame.budget == budget)
                 & (frame.eval_task == eval_task) & (frame.strategy == strategy) & (frame.rounds == rounds)]
    cell = cell.sort_values("round")
    return [0, *cell.n_labels], [*base.accuracy_mean, *cell.accuracy_mean]


def test_learning_curve_has_one_line_per_cell_in_each_panel_and_merges_nothing(tmp_path):
    frame = summary_frame()
    # through the csv, as the rule reads it (empty icl columns come back as floats)
    frame.to_csv(tmp_path / "summary.csv", index=False)
    fig = plots.learning_curve_figure(pd.read_csv(tmp_path / "summary.csv"))
    axes = np.array(fig.axes).reshape(len(TASKS) * len(MODELS) * len(BUDGETS), len(EVALS))
    rows = sorted(itertools.product(TASKS, MODELS, ["p"], BUDGETS))
    labels = {f"{s}, {m} round{'s' if m > 1 else ''}": (s, m) for s, m in itertools.product(STRATEGIES, ROUNDS)}
    for (task, model, _, budget), panel_row in zip(rows, axes):
        assert f"pool {task}\n{model}, p\nbudget {budget}" in panel_row[0].get_ylabel()
        for eval_task, ax in zip(EVALS, panel_row):
            lines = ax.get_lines()
            assert sorted(line.get_label() for line in lines) == sorted(labels)  # one line per cell
            assert sum(isinstance(c, PolyCollection) for c in ax.collections) == len(labels)  # one band each
            for line in lines:
                x, y = expected_line(frame, task, model, budget, eval_task, *labels[line.get_label()])
                assert list(line.get_xdata()) == x
                assert list(line.get_ydata()) == pytest.approx(y)
    assert axes[0][0].get_title().startswith("eval eval-x") and axes[0][1].get_title().startswith("eval eval-y")
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert {t.get_text() for t in fig.legends[0].get_texts()} == set(labels)
    width, height = fig.get_size_inches()
    assert width <= plots.MAX_W and height <= plots.MAX_H
    plots.learning_curve(tmp_path / "summary.csv", tmp_path / "learning_curve.png")
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000


def test_a_strategy_missing_from_one_panel_keeps_its_colour_elsewhere():
    frame = summary_frame()
    frame = frame[~((frame.strategy == "random") & (frame.task == "pool-a"))]
    fig = plots.learning_curve_figure(frame)
    colours = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            colours.setdefault(line.get_label(), set()).add(line.get_color())
    assert all(len(c) == 1 for c in colours.values())


def diagnostics_frame(seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for task, model, budget, strategy, rounds, s in itertools.product(TASKS, MODELS, BUDGETS, STRATEGIES,
                                                                     (1, 2, 4), (0, 1)):
        rows.append(dict(family="finetune", task=task, model=model, preset="p", strategy=strategy, budget=budget,
                         rounds=rounds, seed=s, round=rounds, mean_pairwise_cosine_distance_cumulative=rng.random(),
                         coverage=rng.random()))
    return pd.DataFrame(rows)


def test_selection_vs_rounds_facets_per_eval_task_with_integer_round_ticks(tmp_path):
    summary = summary_frame()
    extra = summary[(summary.strategy != "base") & (summary.rounds == 2) & (summary["round"] == 2)].copy()
    extra[["rounds", "round"]] = 4  # a third rounds setting (m = 4), final round only
    summary = pd.concat([summary, extra])
    diagnostics = diagnostics_frame()
    fig = plots.selection_vs_rounds_figure(diagnostics, summary)
    n_rows = len(TASKS) * len(MODELS) * len(BUDGETS)
    axes = np.array(fig.axes).reshape(n_rows, 2 + len(EVALS))  # diversity, coverage, one accuracy per eval
    fig.canvas.draw()
    for ax in axes.flat:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
        assert sorted(line.get_label() for line in ax.get_lines()) == sorted(STRATEGIES)
    assert [ax.get_title().split("\n")[-1] for ax in axes[0][2:]] == ["eval eval-x (50 items, 3 seeds)",
                                                                        "eval eval-y (50 items, 3 seeds)"]
    # accuracy of one panel: the final round of each rounds setting of that cell, no averaging
    row = sorted(itertools.product(TASKS, MODELS, ["p"], BUDGETS)).index(("pool-b", "m2", "p", 16))
    line = next(ln for ln in axes[row][3].get_lines() if ln.get_label() == "entropy")
    cells = summary[(summary.task == "pool-b") & (summary.model == "m2") & (summary.budget == 16)
                    & (summary.eval_task == "eval-y") & (summary.strategy == "entropy")
                    & (summary["round"] == summary.rounds)].sort_values("rounds")
    assert list(line.get_ydata()) == pytest.approx(list(cells.accuracy_mean))
    diagnostics.to_csv(tmp_path / "d.csv", index=False)
    summary.to_csv(tmp_path / "s.csv", index=False)
    plots.selection_vs_rounds(tmp_path / "d.csv", tmp_path / "s.csv", tmp_path / "selection.png")
    assert (tmp_path / "selection.png").stat().st_size > 10_000


def test_icl_bars_one_per_cell_with_its_interval(tmp_path):
    rows = []
    for task, model, strategy, shots in itertools.product(("sst2", "gsm8k", "aqua"), ("m1", "m2"),
                                                          ("random", "kmeans", "similarity"), (4, 8)):
        acc = 0.1 + 0.8 * np.random.default_rng(len(rows)).random()
        rows.append(dict(family="icl", task=task, model=model, strategy=strategy, shots=shots, eval_task=task,
                         n_seeds=3, n_items=40, accuracy_mean=acc, accuracy_ci_low=acc - 0.1,
                         accuracy_ci_high=min(acc + 0.1, 1.0)))
    frame = pd.DataFrame(rows)
    fig = plots.icl_figure(frame)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 3
    for ax in panels:
        task = ax.get_title().split(" ")[0]
        heights = sorted(round(p.get_height(), 9) for p in ax.patches)
        assert heights == sorted(round(a, 9) for a in frame[frame.task == task].accuracy_mean)
        assert "40 items, 3 seeds" in ax.get_title()
    assert len(fig.legends) == 1
    frame.to_csv(tmp_path / "icl.csv", index=False)
    icl_summary.plot_summary(tmp_path / "icl.csv", tmp_path / "icl.png")
    assert (tmp_path / "icl.png").stat().st_size > 10_000


def summary_grid() -> pd.DataFrame:
    rows = []
    for task, model, preset, budget, eval_task in itertools.product(["p1", "p2"], ["m1", "m2"], ["tiny"], [8, 16],
                                                                      ["e1", "e2"]):
        for strategy, rounds in (("random", 1), ("entropy", 1), ("entropy", 2)):
            for r in range(1, rounds + 1):
                acc = 0.3 + 0.1 * r + (0.05 if strategy == "entropy" else 0)
                rows.append(dict(family="finetune", task=task, model=model, preset=preset, strategy=strategy,
                                 budget=budget, rounds=rounds, round=r, n_labels=budget * r // rounds,
                                 eval_task=eval_task, accuracy_mean=acc, accuracy_ci_low=acc - 0.1,
                                 accuracy_ci_high=acc + 0.1))
    for model, eval_task in itertools.product(["m1", "m2"], ["e1", "e2"]):
        rows.append(dict(family="finetune", task=None, model=model, preset="tiny", strategy="base", budget=0,
                         rounds=0, round=0, n_labels=0, eval_task=eval_task, accuracy_mean=0.1,
                         accuracy_ci_low=0.05, accuracy_ci_high=0.15))
    return pd.DataFrame(rows)


def test_learning_curve_of_a_grid_without_denominator_columns():
    fig = plots.learning_curve_figure(summary_grid())
    axes = fig.axes
    assert len(axes) == 2 * 2 * 2 * 2  # rows: 2 pool tasks x 2 models x 2 budgets; columns: 2 eval tasks
    for ax in axes:
        labels = [line.get_label() for line in ax.get_lines()]
        assert sorted(labels) == ["entropy, 1 round", "entropy, 2 rounds", "random, 1 round"]
        assert len(ax.collections) == 3  # one interval band per line
        for line in ax.get_lines():  # base model at 0 labels, then the cell's rounds: never another budget
            assert line.get_xdata()[0] == 0 and len(line.get_xdata()) in (2, 3)
    two_rounds = next(ln for ln in axes[0].get_lines() if ln.get_label() == "entropy, 2 rounds")
    assert list(two_rounds.get_xdata()) == [0, 4, 8]  # first row is budget 8: 4 labels per round


def test_selection_vs_rounds_ticks_are_whole_rounds_with_one_seed():
    summary = summary_grid()
    diag = summary[summary.strategy != "base"].drop_duplicates(["task", "model", "preset", "budget", "strategy",
                                                                 "rounds", "round"]).copy()
    diag["seed"] = 0
    diag["mean_pairwise_cosine_distance_cumulative"] = 0.9
    diag["coverage"] = 0.5
    fig = plots.selection_vs_rounds_figure(diag, summary)
    assert len(fig.axes) == 8 * 4  # 8 rows; diversity, coverage and one accuracy panel per eval task
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
        assert {line.get_label() for line in ax.get_lines()} == {"random", "entropy"}
