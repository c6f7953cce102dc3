"""One GPU per running GPU job on a local multi-GPU machine.

Snakemake's ``--resources gpu=N`` bounds how many GPU jobs run at once but does not say which device each
may use. A GPU job claims the first free device with an exclusive lock file and sees only that device
(``CUDA_VISIBLE_DEVICES``); the lock is released when the process exits, however it ends. Where the
scheduler already chose (SLURM sets ``CUDA_VISIBLE_DEVICES``), nothing is claimed.
"""

import fcntl
import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)
LOCK_DIR = Path(".snakemake") / "algrid-gpu-locks"
_held = []  # open lock files: kept for the life of the process


def gpu_count() -> int:
    """Visible NVIDIA GPUs, without initialising CUDA (``ALGRID_GPU_COUNT`` overrides, e.g. for tests)."""
    if "ALGRID_GPU_COUNT" in os.environ:
        return int(os.environ["ALGRID_GPU_COUNT"])
    if shutil.which("nvidia-smi") is None:
        return 0
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
    return sum(line.startswith("GPU ") for line in listed.splitlines())


def claim_gpu(lock_dir: Path = LOCK_DIR) -> int | None:
    """Lock the first free GPU and make it the only visible one; None if the scheduler chose or there is none."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") or (count := gpu_count()) == 0:
        return None
    lock_dir.mkdir(parents=True, exist_ok=True)
    for device in range(count):
        handle = open(lock_dir / f"gpu{device}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
        log.info("using GPU %d of %d", device, count)
        return device
    raise RuntimeError(f"all {count} GPUs are taken by other jobs: run with --resources gpu={count} or fewer")
