"""benchmarks/gpu_check.py on CPU with the tiny Llama shape, so the GPU check never rots: the grid twice on a
random-weight Llama with SmolLM2's tokenizer, its throughput table, byte-identical final metrics."""

import os
import subprocess
import sys

import pytest

from conftest import DATA_ROOT, REPO

pytestmark = pytest.mark.workflow


def test_gpu_check_runs_the_tiny_grid_twice_identically(tmp_path, model_dir):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/gpu_check.py"), "--tiny", "--out", str(tmp_path),
                           "--smol", str(model_dir), "--cores", "2"], capture_output=True, text=True,
                          env={**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1",
                               "CUDA_VISIBLE_DEVICES": ""})  # the CPU path, also on a machine with a GPU
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    table = dict(line.split("  ", 1) for line in proc.stdout.splitlines() if "  " in line)
    table = {k.strip(): v.strip() for k, v in table.items()}
    assert table["device"] == "cpu" and table["dtype"] == "float32"
    assert table["final_metrics byte-identical"] == "yes"
    assert float(table["training tokens/s"].split()[0].replace(",", "")) > 0
    assert table["generation tokens/s"].endswith("batch 16)") and "1024 tokens" in table["generation tokens/s"]
    assert (tmp_path / "run2/results/final_metrics.csv").is_file()
    assert (tmp_path / "model/config.json").read_text().count('"hidden_size": 64') == 1
