"""Pool scoring in shards: row ranges of the pool, one scoring job each, merged back into one file.

Light (pandas only): the merge job loads no model.
"""

import logging

import pandas as pd

from .errors import ConfigError
from .io import atomic_path

log = logging.getLogger(__name__)


def shard_ranges(rows_bound: int | None, shard_size: int | None, *, task: str) -> list[tuple[int, int]]:
    """[start, stop) pool rows of each shard; one range of all rows when shard_size is None. The pool can hold
    fewer rows than its bound (rows shared with other splits are dropped): the last shards may then be empty."""
    if shard_size is None:
        return [(0, rows_bound)] if rows_bound is not None else [(0, None)]
    if rows_bound is None:
        raise ConfigError(
            "scoring.shard_size",
            f"the pool of task '{task}' has no size or limit (tasks.{task}.splits.pool), so its shards cannot be "
            "counted before it is read; give it a limit, or set scoring.shard_size: null",
        )
    return [(start, min(start + shard_size, rows_bound)) for start in range(0, rows_bound, shard_size)]


def merge_scores(paths, out_path) -> None:
    """Concatenate shard score files in shard order into one file, as one unsharded job writes it."""
    frames = [pd.read_parquet(path) for path in paths]
    kept = [frame for frame in frames if len(frame)] or frames[:1]
    merged = pd.concat(kept, ignore_index=True)
    if merged["id"].duplicated().any():
        raise ConfigError("scoring.shard_size", f"shards of {out_path} overlap: duplicate pool ids")
    with atomic_path(out_path) as tmp:
        merged.to_parquet(tmp, index=False)
    log.info("%d shards, %d rows -> %s", len(frames), len(merged), out_path)
