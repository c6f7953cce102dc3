"""Statistics over seeds and items, and the paired comparison with random: intervals that say what they cover,
p values that cannot degenerate."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from algrid import stats
from algrid.aggregate import aggregate
from algrid.errors import DataError
from algrid.io import write_json


def cells_frame(cells, ids=None):
    """cells: (strategy, seed, correctness list, rounds) -> the frame ``aggregate.read_metrics`` gives."""
    rows = []
    for strategy, seed, correct, rounds in cells:
        rows.append(dict(family="finetune", task="t", model="m", strategy=strategy, budget=4, rounds=rounds,
                         seed=seed, round=1, eval_task="e", accuracy=float(np.mean(correct)),
                         n_correct=int(np.sum(correct)), n_total=len(correct),
                         item_ids=list(ids or [f"q{j}" for j in range(len(correct))]), item_correct=list(correct),
                         source=f"{strategy}-m{rounds}-seed{seed}.json"))
    frame = pd.DataFrame(rows)
    for c in ("budget", "rounds", "seed", "round"):
        frame[c] = frame[c].astype("Int64")
    return frame


def summary_of(cells):
    return stats.summarise(cells_frame(cells)).set_index(["strategy", "rounds"])


def test_a_constant_nonzero_difference_over_two_seeds_is_not_p_zero():
    # entropy gains the same three items over random on both seeds: the old paired t-test over seeds said p = 0.0
    rnd = [0, 0, 0, 1, 1, 0, 1, 0, 1, 0]
    ent = [1, 1, 1, 1, 1, 0, 1, 0, 1, 0]
    s = summary_of([("random", 0, rnd, 1), ("random", 1, rnd, 1), ("entropy", 0, ent, 1), ("entropy", 1, ent, 1)])
    row = s.loc[("entropy", 1)]
    assert row.diff_vs_random == pytest.approx(0.3)
    assert 0 < row.p_vs_random < 1 and row.p_vs_random == pytest.approx(2 / 8)  # exact: 3 items differ
    assert math.isfinite(row.diff_ci_low) and math.isfinite(row.diff_ci_high)
    assert row.diff_ci_low <= 0.3 <= row.diff_ci_high
    assert row.n_seeds == 2 and row.n_items == 10
    # one item gained, the same on both seeds: no evidence at all
    one = [1, 0, 0, 1, 1, 0, 1, 0, 1, 0]
    s = summary_of([("random", 0, rnd, 1), ("random", 1, rnd, 1), ("entropy", 0, one, 1), ("entropy", 1, one, 1)])
    assert s.loc[("entropy", 1)].p_vs_random == 1.0


def test_exact_sign_flip_p_by_hand():
    # 3 items, differences (1, 1, 1): 2 of the 8 sign patterns reach |mean| = 1
    assert stats.sign_flip_p([1, 1, 1]) == pytest.approx(2 / 8)
    assert stats.sign_flip_p([1, 1, 0]) == pytest.approx(4 / 8)
    assert stats.sign_flip_p([0, 0, 0]) == 1.0
    # (1, 1, 1, 1, -1): |sum| >= 3 when 0, 1, 4 or 5 of the signs are +: (1 + 5 + 5 + 1) / 32
    assert stats.sign_flip_p([1, 1, 1, 1, -1]) == pytest.approx(12 / 32)
    # seed-averaged differences (two seeds): 0.5, 1, 1 -> |sum| >= 2.5 only for +++ and ---
    assert stats.sign_flip_p([0.5, 1, 1]) == pytest.approx(2 / 8)
    # the Monte Carlo path agrees with the exact answer
    assert stats.sign_flip_p([1, 1, 1, 1, -1], exact_max=0) == pytest.approx(12 / 32, abs=0.02)


def test_many_items_use_seeded_random_flips_and_never_reach_zero():
    d = np.ones(40)
    p = stats.sign_flip_p(d)
    assert p == pytest.approx(1 / (1 + stats.PERMUTATIONS)) and p > 0
    assert stats.sign_flip_p(d) == p  # seeded: a rerun gives the same p


def test_interval_covers_seeds_and_items_and_shrinks_with_more_items():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 2, size=(3, 20))
    large = rng.integers(0, 2, size=(3, 400))
    lo_s, hi_s = stats.bootstrap_interval(small)
    lo_l, hi_l = stats.bootstrap_interval(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < hi_s - lo_s
    # seeds that disagree widen the interval beyond what the items alone give
    seeds_apart = np.array([[1] * 10 + [0] * 10, [0] * 20, [1] * 20])
    item_only = stats.bootstrap_interval(seeds_apart.mean(axis=0, keepdims=True))
    both = stats.bootstrap_interval(seeds_apart)
    assert both[1] - both[0] > item_only[1] - item_only[0]
    assert stats.bootstrap_interval(small) == (lo_s, hi_s)  # deterministic


def test_cell_columns_and_pairing_only_within_the_grid_point():
    a, b = [1, 0, 1, 0], [1, 1, 1, 0]
    s = stats.summarise(cells_frame([("random", 0, a, 1), ("entropy", 0, b, 1), ("entropy", 0, b, 2)]))
    assert list(s.columns) == ["family", "task", "model", "strategy", "budget", "rounds", "round", "eval_task",
                               *stats.STAT_COLUMNS]
    s = s.set_index(["strategy", "rounds"])
    ent = s.loc[("entropy", 1)]
    assert ent.diff_vs_random == pytest.approx(0.25) and ent.n_items == 4 and ent.n_seeds == 1
    assert ent.ci_method == "bootstrap over items (1 run), 95%, 2000 resamples"
    assert pd.isna(s.loc[("entropy", 2)].diff_vs_random)  # no random cell with 2 rounds
    assert pd.isna(s.loc[("random", 1)].diff_vs_random) and pd.isna(s.loc[("random", 1)].p_vs_random)


def test_mean_std_over_seeds_and_paired_difference_on_common_seeds():
    rnd = {0: [1, 0, 0, 0], 1: [1, 1, 0, 0], 2: [1, 0, 1, 0]}
    ent = {0: [1, 1, 0, 0], 1: [1, 1, 1, 0], 2: [1, 1, 1, 1], 3: [0, 0, 0, 0]}  # seed 3 has no random partner
    s = summary_of([("random", k, v, 1) for k, v in rnd.items()] + [("entropy", k, v, 1) for k, v in ent.items()])
    row = s.loc[("entropy", 1)]
    acc = [0.5, 0.75, 1.0, 0.0]
    assert row.n_seeds == 4 and row.accuracy_mean == pytest.approx(np.mean(acc))
    assert row.accuracy_std == pytest.approx(np.std(acc, ddof=1))
    assert row.accuracy_ci_low < row.accuracy_mean < row.accuracy_ci_high
    assert row.ci_method == "bootstrap over seeds and items, 95%, 2000 resamples"
    assert row.diff_vs_random == pytest.approx((0.25 + 0.25 + 0.5) / 3)  # seeds 0-2 only
    assert 0 < row.p_vs_random < 1 and row.diff_ci_low <= row.diff_vs_random <= row.diff_ci_high


def test_items_pair_by_id_not_by_position():
    frame = pd.concat([cells_frame([("random", 0, [1, 0, 0], 1)], ids=["a", "b", "c"]),
                       cells_frame([("entropy", 0, [0, 1, 0], 1)], ids=["c", "a", "b"])])  # = a:1 b:0 c:0
    row = stats.summarise(frame).set_index("strategy").loc["entropy"]
    assert row.diff_vs_random == 0 and row.p_vs_random == 1.0


def test_seeds_or_strategies_scored_on_different_items_is_an_error_naming_the_files():
    frame = cells_frame([("random", 0, [1, 0], 1), ("random", 1, [1, 0], 1)])
    frame.at[1, "item_ids"] = ["other", "ids"]
    with pytest.raises(DataError, match=r"random-m1-seed1.json: its eval items differ from those of "
                                        r"random-m1-seed0.json"):
        stats.summarise(frame)
    frame = pd.concat([cells_frame([("random", 0, [1, 0], 1)]), cells_frame([("entropy", 0, [1, 0, 1], 1)])])
    with pytest.raises(DataError, match="random-m1-seed0.json.*entropy-m1-seed0.json"):
        stats.summarise(frame)


def test_base_model_rows_get_an_item_bootstrap_interval():
    frame = cells_frame([("base", None, [1, 0] * 20, 0)])
    frame[["task", "budget", "round"]] = [None, 0, 0]
    row = stats.summarise(frame).iloc[0]
    assert row.n_seeds == 1 and row.n_items == 40 and row.accuracy_ci_low < 0.5 < row.accuracy_ci_high
    assert row.ci_method.startswith("bootstrap over items") and pd.isna(row.p_vs_random)


def test_metrics_files_without_item_results_still_get_a_labelled_interval():
    frame = cells_frame([("random", 0, [1, 0, 1, 1], 1), ("entropy", 0, [1, 1, 1, 1], 1)])
    frame = frame.drop(columns=["item_ids", "item_correct"])
    s = stats.summarise(frame).set_index("strategy")
    assert s.loc["random"].accuracy_ci_low < 0.75 < s.loc["random"].accuracy_ci_high
    assert "no per-item data" in s.loc["random"].ci_method and pd.isna(s.loc["entropy"].p_vs_random)
    mixed = cells_frame([("random", 0, [1, 0], 1), ("random", 1, [1, 0], 1)])
    mixed.at[1, "item_ids"] = None
    with pytest.raises(DataError, match="random-m1-seed1.json: has no per-item results"):
        stats.summarise(mixed)


def test_every_seed_row_carries_its_cell_statistics():
    frame = cells_frame([("random", 0, [1, 0], 1), ("random", 1, [1, 1], 1)])
    merged = stats.with_seed_statistics(frame, stats.summarise(frame))
    assert len(merged) == 2 and list(merged.accuracy_mean) == pytest.approx([0.75, 0.75])


def test_an_all_empty_key_column_keeps_its_type():
    frame = cells_frame([("random", 0, [1, 0], 1), ("random", 1, [0, 0], 1)])
    frame["shots"] = pd.Series([None, None], dtype="Int64")  # finetune rows have no shots
    merged = stats.with_seed_statistics(frame, stats.summarise(frame))
    assert list(merged.n_seeds) == [2, 2]


def test_t_interval_by_hand():
    mean, std, lo, hi = stats.t_interval([1.0, 2.0, 3.0, 4.0])
    t_975_3 = 3.182446305284263
    half = t_975_3 * math.sqrt(5 / 3) / 2
    assert (mean, std) == pytest.approx((2.5, math.sqrt(5 / 3)))
    assert (lo, hi) == pytest.approx((2.5 - half, 2.5 + half))
    assert stats.t_interval([0.7]) == (0.7, 0.0, 0.7, 0.7)


def metrics_file(path, strategy, seed, correct, **keys):
    record = dict(family="finetune", task="t", model="m", preset="p", strategy=strategy, budget=4, rounds=1,
                  seed=seed, round=1, n_labels=4, eval_task="e", metric="label", accuracy=float(np.mean(correct)),
                  n_correct=int(sum(correct)), n_total=len(correct), n_unparsed=0,
                  item_ids=[f"q{i}" for i in range(len(correct))], item_correct=list(correct))
    write_json(path, {**record, **keys})
    return path


def test_aggregate_keeps_item_lists_out_of_the_tables_and_is_byte_identical_on_rerun(tmp_path):
    files = [metrics_file(tmp_path / f"{s}{k}.json", s, k, c)
             for s, k, c in (("random", 0, [1, 0, 0, 1, 0]), ("random", 1, [0, 0, 1, 1, 0]),
                             ("entropy", 0, [1, 1, 1, 1, 0]), ("entropy", 1, [1, 1, 1, 0, 0]))]
    out = [tmp_path / n for n in ("final.csv", "final.json", "summary.csv")]
    aggregate(files, *out)
    first = [p.read_bytes() for p in out]
    final, summary = pd.read_csv(out[0]), pd.read_csv(out[2])
    for table in (final, summary):
        assert not {"item_ids", "item_correct", "source"} & set(table.columns)
    assert b"item_ids" not in first[1]
    assert list(summary.columns) == ["family", "task", "model", "preset", "strategy", "budget", "rounds",
                                     "shots", "round", "n_labels", "eval_task", "metric", *stats.STAT_COLUMNS]
    assert (final.n_items == 5).all() and (final.n_seeds == 2).all()
    aggregate(list(reversed(files)), *out)
    assert [p.read_bytes() for p in out] == first


def test_aggregate_of_a_paper_scale_grid_takes_seconds(tmp_path):
    # 10,000 rows: 3,334 cells x 3 seeds (the last cell has one), 250 eval items each, half of them paired
    rng = np.random.default_rng(1)
    rows = []
    for cell in range(3334):
        strategy = ("random", "entropy")[cell % 2]
        for seed in range(3):
            correct = (rng.random(250) < 0.4).astype(int)
            rows.append(dict(family="finetune", task="t", model="m", preset="p", strategy=strategy,
                             budget=cell // 2, rounds=1, seed=seed, round=1, n_labels=cell // 2,
                             eval_task="e", metric="label", accuracy=correct.mean(), n_correct=int(correct.sum()),
                             n_total=250, item_ids=[f"q{i}" for i in range(250)], item_correct=correct,
                             source=f"f{cell}-{seed}"))
    frame = pd.DataFrame(rows[:10_000])
    for c in ("budget", "rounds", "seed", "round", "n_labels"):
        frame[c] = frame[c].astype("Int64")
    start = time.perf_counter()
    summary = stats.summarise(frame)
    elapsed = time.perf_counter() - start
    assert len(summary) == 3334 and summary.p_vs_random.notna().sum() >= 1666
    assert elapsed < 60, f"{elapsed:.1f} s"
