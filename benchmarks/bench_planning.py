"""Planning speed: algrid's per-job cost of `snakemake -n` and of a no-op rebuild against Snakemake's own floor.

The floor is a trivial workflow with the same number of jobs, each a `script:` rule with one input and one
output (script rules, like algrid's: Snakemake reads each job's script for its code trigger). A no-op rebuild
is a dry run when every output already exists: this script creates the planned outputs as empty files (and
directories) in scratch directories, for both workflows, so no model has to run.

    .venv/bin/python benchmarks/bench_planning.py [--configfile config/experiments/ed_vs_al.yaml] [--repeat 3]

Prints seconds per 1,000 jobs for both and their ratio (goal: at most 1.2x). CPU seconds (user + system of the
Snakemake process) are reported next to wall seconds, since wall time is noisy on a shared machine.

A second floor gives every job the shape of a finetune round's job (select, train_adapter, predict_round and
score_round run once per round, 294 times each in ed_vs_al): the same one-input script rule under algrid's eight
wildcards and their constraints, with a log file, a `conda:` file and params (a code-version string and two
functions of the wildcards). Its ratio is what algrid adds beyond what Snakemake itself spends on those
directives. A third floor, the shaped one less `conda:` and params (eight constrained wildcards and a log file),
shows what Snakemake spends per job on a path layout like algrid's alone.
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
SHAPED = """N = int(config["n"])
RUN = "{task}/{model}/{preset}/{strategy}/b{budget}-m{rounds}/seed{seed}/round{round}"

wildcard_constraints:
    task=r"[a-z0-9][a-z0-9-]*",
    model=r"[a-z0-9][a-z0-9-]*",
    preset=r"[a-z0-9][a-z0-9-]*",
    strategy=r"[a-z0-9][a-z0-9_]*",
    budget=r"\\d+",
    rounds=r"\\d+",
    seed=r"\\d+",
    round=r"\\d+",

rule all:
    input: expand("out/t{i}/model/preset/random/b100-m2/seed0/round1/metrics.json", i=range(N))

rule make:
    input: "in/{task}.txt"
    output: f"out/{RUN}/metrics.json"
    log: f"out/{RUN}/logs/make.log"
    conda: "env.yaml"
    params:
        code="0123456789abcdef" * 4,
        metric=lambda w: "exact" if w.task else None,
        identity=lambda w: {"task": w.task, "seed": int(w.seed), "round": int(w.round)},
    script: "make.py"
"""
# the shaped floor less conda: and params: what eight constrained wildcards and a log file alone cost Snakemake
WILDCARDS = SHAPED.split("    conda:")[0] + '    script: "make.py"\n'


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


def interleaved(runs: dict, repeat: int) -> dict:
    """name -> (wall, cpu, output): the fastest of ``repeat`` runs of each (cmd, cwd), taking turns so that a busy
    spell of a shared machine slows every workflow alike."""
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (cmd, cwd) in runs.items():
            times[name].append(timed(cmd, cwd))
    return {name: (min(t[0] for t in ts), min(t[1] for t in ts), ts[-1][2]) for name, ts in times.items()}


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
        _, _, listing = timed(plan, tmp)  # the full listing names every output
        jobs = n_jobs(listing)

        floors = {"floor": (floor, FLOOR, ""), "shaped floor": (tmp / "shaped", SHAPED, "t"),
                  "wildcards floor": (tmp / "wildcards", WILDCARDS, "t")}
        for wd, snakefile, prefix in floors.values():
            wd.mkdir()
            (wd / "Snakefile").write_text(snakefile)
            (wd / "make.py").write_text("open(snakemake.output[0], 'w').close()\n")
            (wd / "env.yaml").write_text("dependencies: [python]\n")
            (wd / "c.yaml").write_text(f"n: {jobs - 1}\n")
            (wd / "in").mkdir()
            for i in range(jobs - 1):
                (wd / "in" / f"{prefix}{i}.txt").touch()
        floor_plan = [str(SNAKEMAKE), "-n", "--configfile", "c.yaml", "-c1"]
        runs = {"algrid": (plan + ["--quiet", "rules"], tmp)}
        runs.update({name: (floor_plan + ["--quiet", "rules"], wd) for name, (wd, _, _) in floors.items()})

        rows = []
        for kind in ("dry run", "no-op rebuild"):
            if kind == "no-op rebuild":  # every planned output present
                touch_outputs(listing, algrid)
                for wd, _, _ in floors.values():
                    touch_outputs(timed(floor_plan, wd)[2], wd)
            for name, (wall, cpu, text) in interleaved(runs, args.repeat).items():
                rows.append((f"{name}: {kind}", n_jobs(text) or jobs, wall, cpu))

    print(f"{'':31} {'jobs':>6} {'wall s':>8} {'cpu s':>8} {'ms/job (cpu)':>13}")
    for name, count, wall, cpu in rows:
        print(f"{name:31} {count:>6} {wall:>8.2f} {cpu:>8.2f} {1000 * cpu / max(count, 1):>13.2f}")
    per_job = {name: cpu / max(count, 1) for name, count, _, cpu in rows}
    for kind in ("dry run", "no-op rebuild"):
        algrid, trivial = per_job[f"algrid: {kind}"], per_job[f"floor: {kind}"]
        print(f"{kind}: algrid / floor per job = {algrid / trivial:.2f}x (cpu; goal <= 1.2x); "
              f"algrid / shaped floor = {algrid / per_job[f'shaped floor: {kind}']:.2f}x")
        print(f"{kind}: Snakemake alone, per job / trivial floor: shaped floor "
              f"{per_job[f'shaped floor: {kind}'] / trivial:.2f}x, wildcards floor (no conda, no params) "
              f"{per_job[f'wildcards floor: {kind}'] / trivial:.2f}x")


if __name__ == "__main__":
    main()
