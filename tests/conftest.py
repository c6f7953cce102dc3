"""Shared test helpers: the repository, the real data, and running Snakemake in a scratch directory."""

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests use local models only; never wait on the Hub
REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DEFAULT_GRID = REPO / "config" / "config.yaml"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
DATA_ROOT = Path(os.environ.get("ALGRID_DATA_ROOT", REPO.parent / "shared" / "data")).resolve()


def load_common():
    """rules/common.smk is plain Python: import it as a module."""
    loader = importlib.machinery.SourceFileLoader("algrid_common", str(REPO / "rules" / "common.smk"))
    spec = importlib.util.spec_from_loader("algrid_common", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def workdir(path: Path) -> Path:
    """A scratch workflow directory: config/ is linked, results/ stay inside it."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / "config").exists():
        (path / "config").symlink_to(REPO / "config")
    return path


def snakemake(wd: Path, *args, configfiles=(DEFAULT_GRID, TINY), check=True) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(wd)]
    if configfiles:  # one flag with several files: a repeated --configfile replaces the earlier ones
        cmd += ["--configfile", *map(str, configfiles)]
    env = {**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """rule -> count from a dry run's 'Job stats' table (empty when nothing is to be done)."""
    text = proc.stdout + proc.stderr
    if "Job stats:" not in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def planned_outputs(proc: subprocess.CompletedProcess) -> list[str]:
    text = proc.stdout + proc.stderr
    return [o for line in re.findall(r"^\s+output: (.+)$", text, re.M) for o in line.split(", ")]


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA_ROOT.is_dir():
        pytest.skip(f"real data not found at {DATA_ROOT} (set ALGRID_DATA_ROOT)")
    return DATA_ROOT
