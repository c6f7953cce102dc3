"""Time algrid's kcenter and facility_location against straightforward reference code.

    .venv/bin/python benchmarks/bench_selection.py [--n 100000 --d 384 --k 100 --ref-n 4000]

The pool is seeded random unit vectors (float32). The references are what a typical
research script does: greedy that recomputes everything at every step. kcenter is compared
at --n. The facility-location reference takes minutes at 100k, so both implementations are
compared at --ref-n (where algrid is exact), and algrid alone is timed at --n (where it
uses its documented two-stage approximation). Picks must be identical where compared.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# Appended, not prepended: scripts/ also holds the rule scripts, whose names may shadow modules.
sys.path.append(str(Path(__file__).resolve().parents[1] / "scripts"))
from algrid.strategies import Pool, get, names  # noqa: E402


def random_pool(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_kcenter(x: np.ndarray, k: int) -> list[int]:
    """Start at the item closest to the mean; then all distances to all centers every step."""
    picks = [int(np.argmax(x @ x.mean(axis=0)))]
    for _ in range(k - 1):
        nearest = (1.0 - x @ x[picks].T).min(axis=1)
        nearest[picks] = -np.inf
        picks.append(int(np.argmax(nearest)))
    return picks


def reference_facility_location(x: np.ndarray, k: int) -> list[int]:
    """Plain greedy: the gain of every candidate recomputed at every step, in a Python loop."""
    sim = 1.0 + x @ x.T
    cover = np.zeros(len(x), dtype=np.float32)
    picks = []
    for _ in range(k):
        best, best_gain = -1, -np.inf
        for j in range(len(x)):
            if j in picks:
                continue
            gain = np.maximum(sim[:, j] - cover, 0.0).sum()
            if gain > best_gain:
                best, best_gain = j, gain
        picks.append(best)
        cover = np.maximum(cover, sim[:, best])
    return picks


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def algrid(name: str, x: np.ndarray, k: int, **params):
    pool = Pool(n=len(x), selected=np.array([], dtype=np.int64), embeddings=x)
    return get(name).select(k, pool, seed=0, **params)


def compare(label: str, x: np.ndarray, k: int, ours, reference) -> bool:
    selection, t_ours = timed(ours, x, k)
    picks, t_ref = timed(reference, x, k)
    identical = selection.indices == picks
    print(f"{label:18} n={len(x):<7} time_algrid={t_ours:7.2f}s  time_reference={t_ref:7.2f}s  "
          f"ratio={t_ref / t_ours:6.1f}x  identical_picks={identical}", flush=True)
    return identical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--ref-n", type=int, default=4000, help="pool size for the facility-location reference")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    x = random_pool(args.n, args.d, args.seed)
    names()  # import every strategy module (sklearn, scipy, ...) before any timing
    print(f"pool: {args.n} x {args.d} float32 unit vectors (seed {args.seed}), k={args.k}")

    same = compare("kcenter", x, args.k, lambda x, k: algrid("kcenter", x, k, start="mean"), reference_kcenter)
    small = x[:args.ref_n]
    exact_max_n = max(args.ref_n, get("facility_location").defaults["exact_max_n"])
    same &= compare("facility_location", small, args.k,
                    lambda x, k: algrid("facility_location", x, k, exact_max_n=exact_max_n),
                    reference_facility_location)
    selection, t_large = timed(algrid, "facility_location", x, args.k)
    mode = "exact" if selection.info["exact"] else f"two-stage, {selection.info['parts']} parts"
    print(f"{'facility_location':18} n={args.n:<7} time_algrid={t_large:7.2f}s  (algrid only; {mode})")
    assert same, "algrid and the reference picked different items"


if __name__ == "__main__":
    main()
