"""Reliability on a small grid of the tiny config: byte-identical reruns, SIGKILL at random moments then resume,
and Snakemake's lock against a second run on the same directory."""

import hashlib
import importlib.util
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from conftest import DATA_ROOT, DEFAULT_GRID, REPO, SNAKEMAKE, TINY, snakemake, workdir

pytestmark = pytest.mark.workflow
SMALL = {"finetune": {"strategies": ["random"], "rounds": [2]}}  # 22 jobs of every finetune kind: train, predict, ...
DETERMINISTIC = ("final_metrics.csv", "summary.csv", "selected.json", ".jsonl", "metrics/", ".parquet", ".npy",
                 "adapter_model.safetensors")


def kill_resume_module():
    spec = importlib.util.spec_from_file_location("kill_resume", REPO / "benchmarks" / "kill_resume.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return (DEFAULT_GRID, TINY, path)


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory, small):
    """Two uninterrupted runs of the same grid in two fresh directories, side by side (one core each)."""
    runs = [workdir(tmp_path_factory.mktemp(name)) for name in ("clean-a", "clean-b")]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda wd: snakemake(wd, "-c1", configfiles=small), runs))
    return runs


def digests(results) -> dict[str, str]:
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(results.rglob("*")) if p.is_file() and any(k in str(p) for k in DETERMINISTIC)
            and "/logs/" not in str(p) and "/benchmarks/" not in str(p)}


def test_two_clean_cpu_runs_are_byte_identical(clean_runs):
    a, b = (digests(wd / "results") for wd in clean_runs)
    assert "final_metrics.csv" in a and sum("selected.json" in k for k in a) == 2
    assert sum("predictions/" in k for k in a) == 3 and sum(k.endswith(".safetensors") for k in a) == 2
    assert a == b  # final_metrics, summary, selections, predictions, metrics, scores, embeddings, adapter weights


def test_sigkill_at_random_moments_then_resume_loses_nothing(tmp_path, clean_runs, small):
    report = kill_resume_module().kill_resume(tmp_path, kills=3, seed=11, configs=small, reference=clean_runs[0])
    assert report["kills_landed"] == 3, report["events"]
    assert report["unreadable_total"] == 0, [e["unreadable"] for e in report["events"]]  # no partial file
    assert report["final_metrics_identical"]
    assert report["differing"] == [] and report["compared_files"] >= 10
    assert report["temp_siblings_final"] == 0  # temporaries of killed writes are cleaned when rewritten


def start_run(wd, configfiles) -> subprocess.Popen:
    env = {**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(wd), "-c1", "--configfile", *map(str, configfiles)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)


def test_a_second_snakemake_on_the_same_directory_gets_the_lock_message(tmp_path, small):
    wd = workdir(tmp_path / "wd")
    other = tmp_path / "other.yaml"  # a grid of other cells that shares results/final_metrics.csv and the data
    other.write_text(yaml.safe_dump({"finetune": {"strategies": ["kcenter"], "rounds": [1]}}))
    first = start_run(wd, small)
    try:
        deadline = time.monotonic() + 120
        while not list((wd / ".snakemake" / "locks").glob("*.lock")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.poll() is None, "the first run ended before the second could start"
        for configfiles in (small, (DEFAULT_GRID, TINY, other)):
            second = snakemake(wd, "-c1", configfiles=configfiles, check=False)
            assert second.returncode != 0
            assert "Error: Directory cannot be locked." in second.stderr
            assert "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
