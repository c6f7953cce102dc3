"""Kill the workflow with SIGKILL at random moments, resume it, and check that nothing is lost or corrupted.

    python benchmarks/kill_resume.py --kills 10 --seed 0 --out /tmp/kill-resume [--reference DIR]
        [--configfile config/config.yaml tests/configs/tiny.yaml]

1. A reference: one uninterrupted run (or --reference, a finished work directory of the same grid and code).
2. The killed run: Snakemake is started in its own process group; a seeded choice of moment ("phase") picks
   when the whole group (Snakemake and every running job) gets SIGKILL, as a preempted node or a killed laptop
   would: while an adapter is trained, while predictions are generated, while pool uncertainty is scored,
   while an output is being renamed into place (its temporary sibling exists), during aggregation, or after a
   random delay. After each kill every output file present is read back completely (json, jsonl, csv, parquet,
   npy, safetensors): a partial file would fail to parse. Then `snakemake --unlock` and the same command again
   (--rerun-incomplete, as profiles/default sets), which is killed at the next moment, and so on.
3. The last rerun completes; its final_metrics.csv, summary tables, every selection, prediction, metrics file,
   prepared split, embedding, pool score file and adapter weight file must be byte-identical to the reference's.

Prints one line per kill and a summary; --json writes them. Exit status 1 if any check failed.
"""

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DEFAULT_CONFIGS = (REPO / "config" / "config.yaml", REPO / "tests" / "configs" / "tiny.yaml")
# phase -> (rule names whose start is awaited, the longest extra delay in seconds once one has started)
PHASES = {
    "train": (("train_adapter",), 4.0),
    "generate": (("predict_round", "predict_base"), 4.0),
    "score_pool": (("score_pool_base", "score_pool_round"), 3.0),
    "aggregate": (("aggregate", "selection_diagnostics", "plot_learning_curve", "plot_selection"), 1.5),
    "write": ((), 0.0),  # the moment a temporary sibling of an output appears (an adapter, parquet, csv, plot)
    "random": ((), 20.0),
}
COMPARED = re.compile(r"(final_metrics\.csv|selected\.json|predictions/.*\.jsonl|metrics/.*\.json|summary\.csv"
                      r"|selection_diagnostics\.csv|scores/.*\.parquet|embeddings/.*\.npy|data/.*\.jsonl"
                      r"|adapter_model\.safetensors)$")
TEMP = re.compile(r"^\.(.+)\.[A-Za-z0-9_]{8}$")  # algrid.io.atomic_path's temporary sibling


def command(wd: Path, configs, code: Path, *extra) -> list[str]:
    return [str(SNAKEMAKE), "-s", str(code / "Snakefile"), "-d", str(wd), "--configfile", *map(str, configs),
            "-c1", "--rerun-incomplete", *extra]


def environment() -> dict:
    data = os.environ.get("ALGRID_DATA_ROOT", str(REPO.parent / "shared" / "data"))
    return {**os.environ, "ALGRID_DATA_ROOT": data, "HF_HUB_OFFLINE": "1"}


def prepare(wd: Path, code: Path) -> Path:
    wd.mkdir(parents=True, exist_ok=True)
    if not (wd / "config").exists():
        (wd / "config").symlink_to(code / "config")
    return wd


def run_to_end(wd: Path, configs, code: Path, log: Path) -> float:
    start = time.monotonic()
    with open(log, "a") as out:
        subprocess.run(command(wd, configs, code, "--unlock"), stdout=out, stderr=subprocess.STDOUT,
                       env=environment(), check=False)
        proc = subprocess.run(command(wd, configs, code), stdout=out, stderr=subprocess.STDOUT, env=environment(), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"kill_resume: the run in {wd} failed (exit {proc.returncode}); see {log}")
    return time.monotonic() - start


def started_jobs(text: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", text, re.MULTILINE)


def running_jobs(text: str) -> list[str]:
    """Rules started but not finished in this run's log."""
    running = started_jobs(text)
    for rule in re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", text, re.MULTILINE):
        running.remove(rule)
    return running


def remaining_rules(wd: Path, configs, code: Path) -> set[str]:
    """Rules a dry run still plans (so a phase is chosen that can still happen)."""
    subprocess.run(command(wd, configs, code, "--unlock"), capture_output=True, env=environment(), check=False)
    text = subprocess.run(command(wd, configs, code, "-n"), capture_output=True, text=True, env=environment(),
                          check=False).stdout
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0] if "Job stats:" in text else ""
    return {m[1] for m in re.finditer(r"^(\w+)\s+\d+$", table, re.MULTILINE)} - {"total", "all"}


def temp_siblings(results: Path) -> list[Path]:
    return [p for p in results.rglob(".*") if p.is_dir() and TEMP.match(p.name)] if results.is_dir() else []


def kill_at(phase: str, rng: random.Random, wd: Path, configs, code: Path, log: Path) -> dict:
    """Start the workflow, SIGKILL its process group at the phase's moment; what was running and when."""
    rules, extra_delay = PHASES[phase]
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "a") as out:
        subprocess.run(command(wd, configs, code, "--unlock"), stdout=out, stderr=subprocess.STDOUT,
                       env=environment(), check=False)
        out.write(f"\n=== kill_resume: run until phase '{phase}' ===\n")
        out.flush()
        proc = subprocess.Popen(command(wd, configs, code), stdout=out, stderr=subprocess.STDOUT,
                                env=environment(), start_new_session=True)
    start, deadline = time.monotonic(), time.monotonic() + 600
    delay = rng.uniform(0.0, extra_delay)
    fire_at = start + delay if not rules and phase == "random" else None
    stale, seen_temp = set(temp_siblings(wd / "results")), []
    while proc.poll() is None and time.monotonic() < deadline:
        text = log.read_text()[offset:]
        if fire_at is None and rules and any(r in rules for r in started_jobs(text)):
            fire_at = time.monotonic() + delay
        if phase == "write" and (seen_temp := sorted(set(temp_siblings(wd / "results")) - stale)):
            fire_at = time.monotonic()
        if fire_at is not None and time.monotonic() >= fire_at:
            break
        time.sleep(0.02)
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()[offset:]
    running = running_jobs(text)
    return {
        "phase": phase,
        "at_s": round(time.monotonic() - start, 2),
        "killed": not finished,
        "jobs_started": len(started_jobs(text)),
        "jobs_finished": text.count("Finished jobid"),
        "writing": [str(p.relative_to(wd)) for p in seen_temp][:3],
        "running": running,
    }


def unreadable_outputs(results: Path) -> list[str]:
    """Output files that do not read back completely (a partial write would not)."""
    bad = []
    for path in sorted(results.rglob("*")):
        parts = path.relative_to(results).parts
        if not path.is_file() or any(TEMP.match(p) for p in parts) or parts[0] in ("logs", "benchmarks"):
            continue
        try:
            read_back(path)
        except Exception as err:  # noqa: BLE001 (any failure to read is a partial file)
            bad.append(f"{path.relative_to(results)}: {type(err).__name__}: {err}")
    return bad


def read_back(path: Path) -> None:
    suffix = path.suffix
    if suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".jsonl":
        for line in path.read_text().splitlines():
            json.loads(line)
    elif suffix == ".csv":
        import pandas as pd

        pd.read_csv(path)
    elif suffix == ".parquet":
        import pandas as pd

        pd.read_parquet(path)
    elif suffix == ".npy":
        import numpy as np

        np.load(path)
    elif suffix == ".safetensors":
        from safetensors.numpy import load_file

        load_file(path)
    elif suffix == ".png":
        data = path.read_bytes()
        if not (data.startswith(b"\x89PNG") and data.rstrip().endswith(b"IEND\xaeB`\x82")):
            raise ValueError("truncated PNG")


def digests(results: Path) -> dict[str, str]:
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(results.rglob("*")) if p.is_file() and COMPARED.search(str(p))}


def kill_resume(out: Path, *, kills: int, seed: int, configs=DEFAULT_CONFIGS, code: Path = REPO,
                reference: Path | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    report = {"kills": kills, "seed": seed, "configs": [str(c) for c in configs]}
    if reference is None:
        reference = prepare(out / "reference", code)
        report["reference_s"] = round(run_to_end(reference, configs, code, out / "reference.log"), 1)
    wd, log = prepare(out / "killed", code), out / "killed.log"
    events = []
    start = time.monotonic()
    for i in range(kills):
        left = remaining_rules(wd, configs, code) if (wd / "results").exists() else set(PHASES["train"][0])
        possible = [p for p, (rules, _) in PHASES.items() if not rules or set(rules) & left]
        phase = rng.choice(possible)
        event = kill_at(phase, rng, wd, configs, code, log)
        event["unreadable"] = unreadable_outputs(wd / "results")
        event["temp_siblings"] = len(temp_siblings(wd / "results"))
        events.append(event)
        print(f"kill {i + 1}/{kills}: phase {phase:<10} at {event['at_s']:6.1f}s, jobs finished "
              f"{event['jobs_finished']:3d}, running {','.join(event['running']) or '-'}; "
              f"{'killed' if event['killed'] else 'run had ended'}; unreadable outputs {len(event['unreadable'])}, "
              f"temporary siblings left {event['temp_siblings']}", flush=True)
    report["final_run_s"] = round(run_to_end(wd, configs, code, log), 1)
    report["killed_total_s"] = round(time.monotonic() - start, 1)
    ref, got = digests(reference / "results"), digests(wd / "results")
    report["events"] = events
    report["compared_files"] = len(ref)
    report["differing"] = sorted(k for k in set(ref) | set(got) if ref.get(k) != got.get(k))
    final = "final_metrics.csv"
    report["final_metrics_identical"] = (reference / "results" / final).read_bytes() == (wd / "results" / final).read_bytes()
    report["kills_landed"] = sum(e["killed"] for e in events)
    report["unreadable_total"] = sum(len(e["unreadable"]) for e in events)
    report["temp_siblings_final"] = len(temp_siblings(wd / "results"))
    report["ok"] = report["final_metrics_identical"] and not report["differing"] and not report["unreadable_total"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="scratch directory (work directories and logs)")
    parser.add_argument("--reference", type=Path, help="a finished work directory of the same grid and code")
    parser.add_argument("--configfile", nargs="+", type=Path, default=list(DEFAULT_CONFIGS))
    parser.add_argument("--code", type=Path, default=REPO, help="the workflow (default: this repository)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    report = kill_resume(args.out, kills=args.kills, seed=args.seed, configs=args.configfile, code=args.code,
                         reference=args.reference)
    print(f"{report['kills_landed']}/{report['kills']} kills landed (the others found the run finished); "
          f"unreadable outputs after kills: {report['unreadable_total']}; final_metrics.csv byte-identical: "
          f"{report['final_metrics_identical']}; {report['compared_files'] - len(report['differing'])}/"
          f"{report['compared_files']} compared files identical; final rerun {report['final_run_s']} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
