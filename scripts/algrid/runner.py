"""Shared start-up for the thin entry scripts: logging to the rule's log file, threads, clean errors."""

import logging
import sys

from .errors import AlgridError


def run(main, *, log_file: str | None, threads: int = 1, uses_torch: bool = True, gpus: int = 0) -> None:
    """Call ``main()``; an AlgridError becomes one line on stderr and in the log, exit status 1.
    A job that asks for a GPU (``gpus``) gets one device of its own (``algrid.devices``)."""
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
        from .models import set_threads

        set_threads(threads)
    try:
        main()
    except AlgridError as err:
        logging.getLogger("algrid").error("%s", err)
        sys.exit(f"algrid: {err}")
