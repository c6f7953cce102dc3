"""Concurrent GPU jobs on one machine each get their own device."""

import os
import subprocess
import sys

from conftest import REPO

CLAIM = "import os, time, sys; from algrid.devices import claim_gpu; print(claim_gpu(), flush=True); time.sleep(3)"


def test_concurrent_jobs_claim_distinct_devices_and_release_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(ALGRID_GPU_COUNT="2", PYTHONPATH=str(REPO / "scripts"))
    run = lambda: subprocess.Popen([sys.executable, "-c", CLAIM], cwd=tmp_path, env=env,  # noqa: E731
                                   stdout=subprocess.PIPE, text=True)
    first, second = run(), run()
    devices = sorted(int(p.communicate()[0]) for p in (first, second))
    assert devices == [0, 1]
    third = run()  # both locks were released when their processes ended
    assert int(third.communicate()[0]) == 0


def test_a_device_chosen_by_the_scheduler_is_kept(tmp_path):
    env = {**os.environ, "ALGRID_GPU_COUNT": "2", "CUDA_VISIBLE_DEVICES": "1", "PYTHONPATH": str(REPO / "scripts")}
    out = subprocess.run([sys.executable, "-c", CLAIM.replace("time.sleep(3)", "print(os.environ['CUDA_VISIBLE_DEVICES'])")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", "1"]
