"""Statistics over seeds: mean, std and 95% CI per cell, and a paired comparison with `random`."""

import pandas as pd

from .metrics import mean_ci, paired_diff

CELL = ["family", "task", "model", "preset", "strategy", "budget", "rounds", "shots", "round", "n_labels",
        "eval_task", "metric"]
STAT_COLUMNS = ["n_seeds", "accuracy_mean", "accuracy_std", "accuracy_ci_low", "accuracy_ci_high",
                "diff_vs_random", "p_vs_random"]


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in CELL if c in frame]


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (all seeds together) with the accuracy's mean, std, 95% CI, and, for non-random
    strategies, the mean paired difference to `random` at the same budget/rounds/round on the same seeds."""
    keys = _keys(frame)
    rows = []
    groups = frame.groupby(keys, dropna=False, sort=True)
    for values, group in groups:
        cell = dict(zip(keys, values))
        mean, std, lo, hi = mean_ci(group.accuracy)
        row = {**cell, "n_seeds": len(group), "accuracy_mean": mean, "accuracy_std": std,
               "accuracy_ci_low": lo, "accuracy_ci_high": hi, "diff_vs_random": None, "p_vs_random": None}
        if cell.get("strategy") not in ("random", "base"):
            row["diff_vs_random"], row["p_vs_random"] = _versus_random(frame, keys, cell, group)
        rows.append(row)
    return pd.DataFrame(rows, columns=keys + STAT_COLUMNS).astype(frame[keys].dtypes.to_dict())


def _versus_random(frame, keys, cell, group):
    same = pd.Series(True, index=frame.index)
    for k in keys:
        if k != "strategy":
            same &= frame[k].isna() if pd.isna(cell[k]) else frame[k] == cell[k]
    random = frame[same & (frame.strategy == "random")].set_index("seed").accuracy
    mine = group.set_index("seed").accuracy
    seeds = sorted(set(mine.index) & set(random.index))
    if not seeds:
        return None, None
    return paired_diff(mine.loc[seeds].to_numpy(), random.loc[seeds].to_numpy())


def with_seed_statistics(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Every per-seed row also carries its cell's statistics."""
    keys = _keys(frame)
    return frame.merge(summary, on=keys, how="left")
