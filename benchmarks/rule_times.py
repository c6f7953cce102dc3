"""Per-rule wall time and peak memory from the `benchmark:` files of a finished run.

    .venv/bin/python benchmarks/rule_times.py [results]
"""

import sys
from pathlib import Path

import pandas as pd


def rule_of(path: Path) -> str:
    """results/benchmarks/<rule>/... or results/.../benchmarks/<rule>[.<eval task>].tsv"""
    parts = path.parts
    i = parts.index("benchmarks")
    return parts[i + 1] if i + 2 < len(parts) else path.stem.split(".")[0]


def main(root: str = "results") -> None:
    rows = []
    for path in Path(root).rglob("*.tsv"):
        if "benchmarks" in path.parts:
            bench = pd.read_csv(path, sep="\t")
            rows.append({"rule": rule_of(path), "s": bench.s.iloc[-1], "max_rss_mb": bench.max_rss.iloc[-1]})
    if not rows:
        sys.exit(f"no benchmark files under {root}")
    table = pd.DataFrame(rows).groupby("rule").agg(
        jobs=("s", "size"), total_s=("s", "sum"), mean_s=("s", "mean"), max_s=("s", "max"),
        max_rss_mb=("max_rss_mb", "max"))
    print(table.sort_values("total_s", ascending=False).round(1).to_string())
    print(f"\nsum of job times: {table.total_s.sum():.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
