"""Planning speed: algrid's per-job cost of `snakemake -n` and of a no-op rebuild against Snakemake's own floor.

The floor is a trivial workflow with the same number of jobs, each a `script:` rule with one input and one
output (script rules, like algrid's: Snakemake reads each job's script for its code trigger). A no-op rebuild
is a dry run when every output already exists: this script creates the planned outputs as empty files (and
directories) in scratch directories, for both workflows, so no model has to run.

    .venv/bin/python benchmarks/bench_planning.py [--configfile config/experiments/ed_vs_al.yaml] [--repeat 3]

Prints seconds per 1,000 jobs for both and their ratio (goal: at most 1.2x). CPU seconds (user + system of the
Snakemake process) are reported next to wall seconds, since wall time is noisy on a shared machine.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATA = (REPO.parent / "shared" / "data").resolve()
FLOOR = """N = int(config["n"])

rule all:
    input: expand("out/{i}.txt", i=range(N))

rule make:
    input: "in/{i}.txt"
    output: "out/{i}.txt"
    script: "make.py"
"""


def timed(cmd, cwd) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ALGRID_DATA_ROOT": os.environ.get("ALGRID_DATA_ROOT", str(DATA))}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout + proc.stderr


def n_jobs(text: str) -> int:
    found = re.search(r"^total\s+(\d+)$", text, re.M)
    return int(found.group(1)) if found else 0


def touch_outputs(text: str, wd: Path) -> int:
    """Create every output a dry run listed (directories for directory outputs), oldest first."""
    outputs = [o for line in re.findall(r"^\s+output: (.+)$", text, re.M) for o in line.split(", ")]
    for out in outputs:
        path = wd / out
        if "." in path.name and not path.name.startswith("round"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:  # results/models/{model}, round{i}/adapter: directory outputs
            path.mkdir(parents=True, exist_ok=True)
    return len(outputs)


def best(cmd, cwd, repeat) -> tuple[float, float, str]:
    runs = [timed(cmd, cwd) for _ in range(repeat)]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    return wall, cpu, runs[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", default=str(REPO / "config/experiments/ed_vs_al.yaml"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        algrid, floor = tmp / "algrid", tmp / "floor"
        algrid.mkdir()
        (algrid / "config").symlink_to(REPO / "config")
        plan = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(algrid), "-n", "--configfile",
                args.configfile]
        wall, cpu, text = best(plan + ["--quiet", "rules"], tmp, args.repeat)
        jobs = n_jobs(text)
        rows = [("algrid: dry run", jobs, wall, cpu)]

        floor.mkdir()
        (floor / "Snakefile").write_text(FLOOR)
        (floor / "make.py").write_text("open(snakemake.output[0], 'w').close()\n")
        (floor / "c.yaml").write_text(f"n: {jobs - 1}\n")
        (floor / "in").mkdir()
        for i in range(jobs - 1):
            (floor / "in" / f"{i}.txt").touch()
        floor_plan = [str(SNAKEMAKE), "-n", "--configfile", "c.yaml", "-c1"]
        fwall, fcpu, ftext = best(floor_plan + ["--quiet", "rules"], floor, args.repeat)
        rows.append(("floor: dry run", n_jobs(ftext), fwall, fcpu))

        _, _, listing = timed(plan, tmp)  # the full listing names every output
        touch_outputs(listing, algrid)
        _, _, flisting = timed(floor_plan, floor)
        touch_outputs(flisting, floor)
        wall, cpu, text = best(plan + ["--quiet", "rules"], tmp, args.repeat)
        rows.append(("algrid: no-op rebuild", n_jobs(text) or jobs, wall, cpu))
        fwall, fcpu, ftext = best(floor_plan + ["--quiet", "rules"], floor, args.repeat)
        rows.append(("floor: no-op rebuild", n_jobs(ftext) or jobs, fwall, fcpu))

    print(f"{'':24} {'jobs':>6} {'wall s':>8} {'cpu s':>8} {'ms/job (cpu)':>13}")
    for name, count, wall, cpu in rows:
        print(f"{name:24} {count:>6} {wall:>8.2f} {cpu:>8.2f} {1000 * cpu / max(count, 1):>13.2f}")
    for kind, (a, f) in {"dry run": (rows[0], rows[1]), "no-op rebuild": (rows[2], rows[3])}.items():
        ratio = (a[3] / max(a[1], 1)) / (f[3] / max(f[1], 1))
        print(f"{kind}: algrid / floor per job = {ratio:.2f}x (cpu; goal <= 1.2x)")


if __name__ == "__main__":
    main()
