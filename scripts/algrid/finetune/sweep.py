"""A checkpoint sweep's table: each checkpoint's step and accuracy (with its interval) on each eval task, and
the best one on the selection task (highest accuracy; ties: the earliest checkpoint). The last checkpoint is the
end of training, so its scores are the round's own. The best is chosen on the eval rows themselves, as seed 003
does: its accuracy is an optimistic estimate."""

import logging
from pathlib import Path

import math

import pandas as pd

from ..errors import DataError
from ..io import atomic_path, read_json

log = logging.getLogger(__name__)
Z95 = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of k/n (not degenerate at 0/n or n/n, unlike a bootstrap)."""
    p, z2 = k / n, Z95**2
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def checkpoint_table(checkpoint_dirs, metric_files, *, select_on: str) -> pd.DataFrame:
    steps = {}
    for path in checkpoint_dirs:
        info = read_json(Path(path) / "checkpoint.json")
        steps[int(Path(path).parent.name.removeprefix("ckpt"))] = info  # .../checkpoints/ckpt<i>/adapter
    rows, last = [], max(steps)
    for path in metric_files:
        m = read_json(path)
        m.setdefault("checkpoint", last)  # the round's metrics: the adapter at the end of training
        if m["checkpoint"] not in steps:
            raise DataError(path, f"checkpoint {m.get('checkpoint')!r} is not one of the sweep's {sorted(steps)}")
        low, high = wilson(m["n_correct"], m["n_total"])
        info = steps[m["checkpoint"]]
        rows.append({"checkpoint": m["checkpoint"], "step": info["step"], "of_steps": info["of_steps"],
                     "train_loss": info["loss"], "eval_task": m["eval_task"], "accuracy": m["accuracy"],
                     "n_correct": m["n_correct"], "n_total": m["n_total"], "accuracy_ci_low": low,
                     "accuracy_ci_high": high, "ci_method": "Wilson 95% over eval items"})
    table = pd.DataFrame(rows).sort_values(["eval_task", "checkpoint"]).reset_index(drop=True)
    chosen = table[table["eval_task"] == select_on]
    if chosen.empty:
        raise DataError(metric_files[0] if metric_files else "checkpoint_scores", f"no checkpoint scored on "
                        f"'{select_on}', the task the best checkpoint is chosen on")
    best = int(chosen.sort_values(["accuracy", "checkpoint"], ascending=[False, True]).iloc[0]["checkpoint"])
    table["selected_on"] = select_on
    table["best"] = table["checkpoint"] == best
    return table


def write_checkpoint_scores(checkpoint_dirs, metric_files, out_csv, *, select_on: str) -> pd.DataFrame:
    table = checkpoint_table(checkpoint_dirs, metric_files, select_on=select_on)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    best = table[table["best"] & (table["eval_task"] == select_on)].iloc[0]
    log.info("best checkpoint %d (step %d of %d): %s accuracy %.3f (%d/%d)", best["checkpoint"], best["step"],
             best["of_steps"], select_on, best["accuracy"], best["n_correct"], best["n_total"])
    return table
