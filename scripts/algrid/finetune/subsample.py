"""The seeded eval subsample (seed 003: 20% of GSM8K test, seed 42): the same rows on every machine and version."""

import hashlib
import math


def subsample_size(n_rows: int, fraction: float) -> int:
    """Rows kept of ``n_rows``: floor(fraction x n) (seed 003: 20% of 1,319 -> 263), at least 1; all at 1.0."""
    if fraction >= 1:
        return n_rows
    return max(1, math.floor(fraction * n_rows + 1e-9)) if n_rows else 0


def subsample(rows: list[dict], fraction: float, seed: int) -> list[dict]:
    """The ``subsample_size`` rows with the smallest sha256("<seed>:<id>"), kept in eval order (as data.py's
    ``sample: random``: independent of library versions and of the other rows)."""
    n = subsample_size(len(rows), fraction)
    if n == len(rows):
        return list(rows)
    rank = sorted(range(len(rows)), key=lambda i: hashlib.sha256(f"{seed}:{rows[i]['id']}".encode()).digest())
    return [rows[i] for i in sorted(rank[:n])]
