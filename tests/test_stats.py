"""Statistics over seeds and the paired comparison with random."""

import pandas as pd
import pytest

from algrid import stats


def frame(rows):
    f = pd.DataFrame(rows)
    for c in ("budget", "rounds", "seed", "round"):
        f[c] = f[c].astype("Int64")
    return f


def cell(strategy, seed, accuracy, rounds=1):
    return dict(family="finetune", task="t", model="m", strategy=strategy, budget=4, rounds=rounds, seed=seed,
                round=1, eval_task="e", accuracy=accuracy)


def test_mean_ci_and_paired_difference_per_cell():
    f = frame([cell("random", 0, 0.2), cell("random", 1, 0.3), cell("random", 2, 0.25),
               cell("entropy", 0, 0.3), cell("entropy", 1, 0.35), cell("entropy", 2, 0.45),
               cell("entropy", 0, 0.9, rounds=2)])
    s = stats.summarise(f).set_index(["strategy", "rounds"])
    ent = s.loc[("entropy", 1)]
    assert ent.n_seeds == 3 and ent.accuracy_mean == pytest.approx(1.1 / 3)
    assert ent.accuracy_ci_low < ent.accuracy_mean < ent.accuracy_ci_high
    assert ent.diff_vs_random == pytest.approx((0.1 + 0.05 + 0.2) / 3)
    assert 0 < ent.p_vs_random < 1
    assert pd.isna(s.loc[("random", 1)].diff_vs_random)
    # no random cell with 2 rounds: nothing to pair with
    assert pd.isna(s.loc[("entropy", 2)].diff_vs_random)


def test_every_seed_row_carries_its_cell_statistics():
    f = frame([cell("random", 0, 0.2), cell("random", 1, 0.4)])
    merged = stats.with_seed_statistics(f, stats.summarise(f))
    assert len(merged) == 2 and list(merged.accuracy_mean) == pytest.approx([0.3, 0.3])


def test_an_all_empty_key_column_keeps_its_type():
    f = frame([cell("random", 0, 0.2), cell("random", 1, 0.4)])
    f["shots"] = pd.Series([None, None], dtype="Int64")  # finetune rows have no shots
    merged = stats.with_seed_statistics(f, stats.summarise(f))
    assert list(merged.n_seeds) == [2, 2]
