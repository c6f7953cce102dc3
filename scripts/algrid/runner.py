"""Shared start-up for the thin entry scripts: logging to the rule's log file, threads, determinism, clean errors.

A job ends in one of three ways: success; an AlgridError (bad config or data), or a full disk / unwritable
output (OSError ENOSPC, EDQUOT, EACCES, EPERM, EROFS), each as one line on stderr and in the log, exit status 1;
or any other exception, a bug, with its traceback."""

import errno
import logging
import os
import sys

from .errors import AlgridError

# errno -> what to tell the user; these are the machine's state, not a bug, so no traceback
DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}
DISK_TEXTS = ("No space left on device", "Disk quota exceeded")  # torch/safetensors wrap the OSError in text


def run(main, *, log_file: str | None, threads: int = 1, uses_torch: bool = True, gpus: int = 0) -> None:
    """Call ``main()``; an AlgridError or a disk error becomes one line on stderr and in the log, exit status 1.
    A job that asks for a GPU (``gpus``) gets one device of its own (``algrid.devices``)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; read when CUDA starts
    logging.raiseExceptions = False  # a log write on a full disk must not print a traceback of its own
    try:
        handlers = [logging.StreamHandler(sys.stderr)]
        if log_file:
            handlers.append(logging.FileHandler(log_file, mode="w"))
        logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
        if gpus:
            from .devices import claim_gpu

            claim_gpu()
        if uses_torch:
            from .models import deterministic_torch, set_threads

            set_threads(threads)
            deterministic_torch()
        main()
    except AlgridError as err:
        fail(str(err))
    except OSError as err:
        if err.errno not in DISK_ERRORS:
            raise
        fail(disk_message(err))
    except RuntimeError as err:  # e.g. torch's "PytorchStreamWriter failed writing file ... No space left"
        if not any(text in str(err) for text in DISK_TEXTS):
            raise
        fail(f"cannot write an output: {next(t for t in DISK_TEXTS if t in str(err)).lower()}; "
             "free space and rerun (incomplete outputs are rebuilt)")


def disk_message(err: OSError) -> str:
    where = f"{err.filename}: cannot write" if err.filename else "cannot write an output"
    fix = "free space" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
    return f"{where} ({DISK_ERRORS[err.errno]}); {fix} and rerun (incomplete outputs are rebuilt)"


def fail(message: str) -> None:
    """The one line, in the rule's log (when it could be opened) and on stderr."""
    if logging.getLogger().handlers:
        logging.getLogger("algrid").error("%s", message)  # a full disk drops it from the log file, not stderr
    sys.exit(f"algrid: {message}")

