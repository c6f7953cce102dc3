"""Label savings at matched accuracy (algrid.finetune.savings) on constructed curves: the interpolation, ties,
"not reached", random against itself, one budget, the intervals by the summary's resampling, equal compute."""

import math

import numpy as np
import pandas as pd
import pytest
from algrid import stats
from algrid.finetune import savings
from algrid.finetune.savings_plots import savings_figure

B = [10, 20, 40]


# ----------------------------------------------------------------------------- the curve alone


def test_interpolation_between_budgets_is_exact():
    assert savings.labels_needed(B, [0.2, 0.4, 0.6], 0.5) == pytest.approx(30.0)
    assert savings.labels_needed(B, [0.2, 0.4, 0.6], 0.25) == pytest.approx(12.5)
    assert savings.labels_needed([4, 8], [0.0, 0.75], 0.5) == pytest.approx(4 + 4 * 2 / 3)
    assert savings.outcome(B, [0.2, 0.4, 0.6], 0.5) == savings.REACHED


def test_reached_at_a_measured_budget():
    assert savings.labels_needed(B, [0.2, 0.4, 0.6], 0.4) == 20.0
    assert savings.labels_needed(B, [0.2, 0.4, 0.6], 0.6) == 40.0
    assert savings.outcome(B, [0.2, 0.4, 0.6], 0.6) == savings.REACHED


def test_not_reached_is_never_extrapolated():
    assert math.isinf(savings.labels_needed(B, [0.2, 0.4, 0.6], 0.61))
    assert savings.outcome(B, [0.2, 0.4, 0.6], 0.61) == savings.NOT_REACHED
    # a curve whose first point is already better: its smallest budget, flagged (the need may be lower)
    assert savings.labels_needed(B, [0.5, 0.6, 0.7], 0.3) == 10.0
    assert savings.outcome(B, [0.5, 0.6, 0.7], 0.3) == savings.AT_SMALLEST


def test_ties_reach_at_the_first_budget_that_equals_the_target():
    assert savings.labels_needed(B, [0.5, 0.5, 0.5], 0.5) == 10.0
    assert savings.outcome(B, [0.5, 0.5, 0.5], 0.5) == savings.REACHED  # exactly equal: not a bound
    assert savings.labels_needed(B, [0.3, 0.5, 0.5], 0.5) == 20.0
    assert savings.labels_needed(B, [0.3, 0.1 + 0.2 + 0.2, 0.6], 0.5) == 20.0  # 0.5000000000000001 vs 0.5
    # a curve that dips: the first crossing counts
    assert savings.labels_needed(B, [0.2, 0.6, 0.4], 0.5) == pytest.approx(17.5)


def test_resampled_curves_at_once():
    curves = np.array([[0.2, 0.5, 0.0], [0.4, 0.5, 0.2], [0.6, 0.5, 0.3]])  # (budgets, resamples)
    need = savings.labels_needed(B, curves, np.array([0.5, 0.6, 0.2]))
    assert need[0] == pytest.approx(30.0) and math.isinf(need[1]) and need[2] == pytest.approx(20.0)


def test_value_at_compute_is_linear_in_seconds_and_never_extrapolated():
    assert savings.value_at([100, 200, 400], [0.2, 0.4, 0.6], 300) == pytest.approx(0.5)
    assert savings.value_at([400, 100, 200], [0.6, 0.2, 0.4], 150) == pytest.approx(0.3)  # sorted by seconds
    assert savings.value_at([100, 200], [0.2, 0.4], 200) == pytest.approx(0.4)
    assert math.isnan(savings.value_at([100, 200], [0.2, 0.4], 99)) and math.isnan(
        savings.value_at([100, 200], [0.2, 0.4], 201))


def test_an_interval_with_not_reached_resamples_is_open_above():
    assert savings.percentile_interval(np.arange(100.0)) == pytest.approx(tuple(np.quantile(np.arange(100.0),
                                                                                            [0.025, 0.975])))
    values = np.r_[np.arange(97.0), [np.inf] * 3]
    low, high = savings.percentile_interval(values)
    assert low == pytest.approx(np.quantile(np.arange(97.0).tolist() + [1e9] * 3, 0.025)) and math.isinf(high)
    assert savings.percentile_interval([np.inf] * 5) == (math.inf, math.inf)


# ----------------------------------------------------------------------------- the table from metrics rows


def metrics_frame(curves: dict, items: int = 20, seeds=(0,)) -> pd.DataFrame:
    """curves: (strategy, rounds) -> {budget: number of correct items per seed (the first k of ``items``)} as
    one row per metrics file (``aggregate.read_metrics``), final rounds only plus the base model."""
    rows = [dict(family="finetune", task="t", model="m", preset="p", strategy="base", budget=None, rounds=None,
                 seed=None, round=0, n_labels=0, eval_task="e", metric="exact", accuracy=0.0, n_correct=0,
                 n_total=items, item_ids=[f"q{j}" for j in range(items)], item_correct=[0] * items, source="base")]
    for (strategy, rounds), curve in curves.items():
        for budget, correct in curve.items():
            for seed in seeds:
                k = correct[seed] if isinstance(correct, (list, tuple)) else correct
                row = [1] * k + [0] * (items - k)
                rows.append(dict(family="finetune", task="t", model="m", preset="p", strategy=strategy,
                                 budget=budget, rounds=rounds, seed=seed, round=rounds, n_labels=budget,
                                 eval_task="e", metric="exact", accuracy=k / items, n_correct=k, n_total=items,
                                 item_ids=[f"q{j}" for j in range(items)], item_correct=row,
                                 source=f"{strategy}-b{budget}-m{rounds}-seed{seed}"))
    frame = pd.DataFrame(rows)
    for c in ("budget", "rounds", "seed", "round", "n_labels"):
        frame[c] = frame[c].astype("Int64")
    return frame


def cells_table(seconds: dict) -> pd.DataFrame:
    """(strategy, rounds) -> {budget: model-job seconds per run} as results/compute/cells.csv."""
    return pd.DataFrame([dict(task="t", model="m", preset="p", strategy=s, budget=b, rounds=m, n_seeds=1,
                              model_s_per_run=v) for (s, m), by in seconds.items() for b, v in by.items()])


def test_random_against_itself_needs_exactly_its_labels():
    table = savings.savings(metrics_frame({("random", 1): {10: 4, 20: 8, 40: 12}}))
    assert list(table.budget) == [10, 20, 40] and set(table.strategy) == {"random"}
    assert (table.label_ratio == 1.0).all() and (table.outcome == savings.REACHED).all()
    assert (table.label_ratio_ci_low <= 1.0).all() and (table.label_ratio_ci_high == 1.0).all()
    assert (table.diff_equal_labels == 0).all() and (table.not_reached_share == 0).all()


def test_the_table_labels_needed_ratio_and_not_reached():
    # random: 4/20, 8/20, 12/20; entropy: 6/20, 10/20, 11/20
    frame = metrics_frame({("random", 1): {10: 4, 20: 8, 40: 12}, ("entropy", 1): {10: 6, 20: 10, 40: 11}})
    table = savings.savings(frame).set_index(["strategy", "budget"])
    ent = table.loc["entropy"]
    assert ent.loc[10, "labels_needed"] == pytest.approx(10.0) and ent.loc[10, "outcome"] == savings.AT_SMALLEST
    assert ent.loc[20, "labels_needed"] == pytest.approx(10 + 10 * (0.4 - 0.3) / (0.5 - 0.3))  # 15
    assert ent.loc[20, "label_ratio"] == pytest.approx(0.75) and ent.loc[20, "outcome"] == savings.REACHED
    assert math.isnan(ent.loc[40, "labels_needed"]) and math.isnan(ent.loc[40, "label_ratio"])
    assert ent.loc[40, "outcome"] == savings.NOT_REACHED
    assert ent.loc[40, "not_reached_share"] > 0.5 and math.isinf(ent.loc[40, "label_ratio_ci_high"])
    assert ent.loc[20, "label_ratio_ci_low"] <= 0.75 <= ent.loc[20, "label_ratio_ci_high"]
    assert list(ent.diff_equal_labels) == pytest.approx([0.1, 0.1, -0.05])
    assert (ent.budgets == "10;20;40").all() and (ent.n_items == 20).all() and (ent.n_seeds == 1).all()
    assert ent.random_accuracy.tolist() == pytest.approx([0.2, 0.4, 0.6])


def test_one_budget_only_gives_no_row():
    frame = metrics_frame({("random", 1): {10: 4}, ("entropy", 1): {10: 6}})
    assert savings.savings(frame).empty
    # entropy with two budgets but random with one: rows at random's one budget
    frame = metrics_frame({("random", 1): {10: 4}, ("entropy", 1): {10: 6, 20: 9}})
    table = savings.savings(frame)
    assert list(zip(table.strategy, table.budget)) == [("entropy", 10)]
    assert list(savings.savings(metrics_frame({})).columns) == savings.COLUMNS  # nothing at all: the header


def test_rounds_are_compared_with_random_of_the_same_rounds():
    frame = metrics_frame({("random", 1): {10: 4, 20: 8}, ("random", 2): {10: 2, 20: 4},
                           ("entropy", 2): {10: 3, 20: 5}})
    table = savings.savings(frame)
    ent = table[table.strategy == "entropy"].set_index("budget")
    assert (ent.rounds == 2).all() and ent.random_accuracy.tolist() == pytest.approx([0.1, 0.2])
    assert ent.loc[20, "labels_needed"] == pytest.approx(10 + 10 * (0.2 - 0.15) / (0.25 - 0.15))


def test_equal_labels_interval_is_the_summarys_paired_interval():
    rng = np.random.default_rng(3)
    seeds = (0, 1, 2)
    frame = metrics_frame({("random", 1): {10: [5, 7, 6], 20: [9, 8, 11]},
                           ("entropy", 1): {10: [8, 6, 9], 20: [12, 10, 9]}}, seeds=seeds)
    # scramble which items are correct so that the pairing matters
    for i in frame.index[frame.strategy != "base"]:
        frame.at[i, "item_correct"] = list(rng.permutation(frame.at[i, "item_correct"]))
    table = savings.savings(frame).set_index(["strategy", "budget"])
    summary = stats.summarise(frame.drop(columns=["n_labels"])).set_index(["strategy", "budget"])
    for budget in (10, 20):
        row, ref = table.loc[("entropy", budget)], summary.loc[("entropy", budget)]
        assert row.diff_equal_labels == pytest.approx(ref.diff_vs_random)
        assert row.diff_equal_labels_ci_low == pytest.approx(ref.diff_ci_low)
        assert row.diff_equal_labels_ci_high == pytest.approx(ref.diff_ci_high)
        assert row.random_accuracy == pytest.approx(summary.loc[("random", budget)].accuracy_mean)
        assert row.n_seeds == 3 and "bootstrap over seeds and items" in row.ci_method


def test_equal_compute_interpolates_the_strategys_accuracy_over_its_seconds():
    frame = metrics_frame({("random", 1): {10: 4, 20: 8, 40: 12}, ("entropy", 1): {10: 6, 20: 10, 40: 14}})
    cells = cells_table({("random", 1): {10: 100.0, 20: 200.0, 40: 400.0},
                         ("entropy", 1): {10: 150.0, 20: 300.0, 40: 600.0}})
    ent = savings.savings(frame, cells).query("strategy == 'entropy'").set_index("budget")
    # at random's 100 s entropy has no point (its first costs 150 s); at 200 s a third of the way from (150 s, 0.3)
    # to (300 s, 0.5); at 400 s a third of the way from (300 s, 0.5) to (600 s, 0.7)
    assert math.isnan(ent.loc[10, "diff_equal_compute"]) and math.isnan(ent.loc[10, "diff_equal_compute_ci_low"])
    assert ent.loc[20, "accuracy_equal_compute"] == pytest.approx(0.3 + 0.2 / 3)
    assert ent.loc[20, "diff_equal_compute"] == pytest.approx(0.3 + 0.2 / 3 - 0.4)
    assert ent.loc[40, "diff_equal_compute"] == pytest.approx(0.5 + 0.2 / 3 - 0.6)
    assert ent.loc[40, "random_model_s"] == 400.0
    assert ent.loc[20, "diff_equal_compute_ci_low"] <= ent.loc[20, "diff_equal_compute"] <= ent.loc[
        20, "diff_equal_compute_ci_high"]
    # no compute table: the equal-compute columns stay empty
    assert savings.savings(frame).diff_equal_compute.isna().all()


def test_the_figure_draws_one_line_per_strategy_and_rounds_and_marks_not_reached():
    frame = metrics_frame({("random", 1): {10: 4, 20: 8, 40: 12}, ("entropy", 1): {10: 6, 20: 10, 40: 11},
                           ("random", 2): {10: 4, 20: 8, 40: 12}, ("entropy", 2): {10: 4, 20: 9, 40: 13}})
    fig = savings_figure(savings.savings(frame))
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"entropy, 1 round", "entropy, 2 rounds", "random, 1 round", "random, 2 rounds", "not reached"} <= set(
        labels)
    empty = savings_figure(savings.savings(metrics_frame({})))
    assert "no family" in empty.axes[0].texts[0].get_text()
