"""One split of a task -> a normalised jsonl file, with no row shared with the splits prepared before it.

Splits are prepared one job each, in a fixed order: ``fewshot`` (the fixed exemplars), ``pool`` (the data
a strategy selects from; minus the exemplars), ``eval`` (minus pool and exemplars), then any other split
such as ``dev`` (minus all three). A split drops the rows whose input (whitespace-collapsed, case-folded)
occurs in an earlier split, so no selection or training ever sees an eval row, and changing one split
rebuilds that split and the ones after it, never the ones before (a bigger eval set does not re-prepare
the pool). Without a ``fewshot`` split, the first ``FEWSHOT_FROM_POOL`` pool rows are the exemplars.
"""

import logging

from . import data
from .errors import ConfigError
from .io import read_jsonl, write_jsonl

log = logging.getLogger(__name__)

FEWSHOT_FROM_POOL = 8
ORDER = ("fewshot", "pool", "eval")  # every other split comes after these


def earlier_splits(split: str) -> tuple[str, ...]:
    """The splits that ``split`` must not share a row with."""
    return ORDER[: ORDER.index(split)] if split in ORDER else ORDER


def split_source(task: dict, split: str) -> tuple[str, dict, int | None]:
    """(split whose spec is loaded, its spec with the task's family, keep only the first N rows or None)."""
    if split == "fewshot" and "fewshot" not in task["splits"]:
        return "pool", data.task_split_spec(task, "pool"), FEWSHOT_FROM_POOL
    if split not in task["splits"]:
        raise ConfigError("tasks.splits", f"no split '{split}'; declared: {', '.join(task['splits'])}")
    return split, data.task_split_spec(task, split), None


def prepare_split(spec: dict, out_path, *, key: str, data_root, first: int | None = None, exclude=()) -> list:
    """Load a split, keep its first ``first`` rows if given, drop rows whose input is in any ``exclude`` file."""
    rows = data.load_split(spec, key=key, data_root=data_root)
    if first is not None:
        rows = rows[:first]
    others = [read_jsonl(path) for path in exclude]
    kept = data.remove_overlap(rows, *others)
    if len(kept) != len(rows):
        log.info("dropped %d rows whose input also occurs in %s", len(rows) - len(kept), ", ".join(map(str, exclude)))
    if not kept:
        raise ConfigError(key, "the split is empty" + (" after removing rows of earlier splits" if rows else ""))
    write_jsonl(out_path, kept)
    log.info("%d rows -> %s", len(kept), out_path)
    return kept
