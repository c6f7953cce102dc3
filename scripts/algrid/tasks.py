"""A task's splits -> normalised pool / eval / fewshot files, with no row shared between them."""

import logging

from . import data
from .errors import ConfigError
from .io import write_jsonl

log = logging.getLogger(__name__)

FEWSHOT_FROM_POOL = 8  # when a task has no fewshot split, this many pool rows become the fixed exemplars


def prepare_task(spec: dict, outputs: dict, *, key: str, data_root) -> None:
    splits = spec.get("splits") or {}
    for required in ("pool", "eval"):
        if required not in splits:
            raise ConfigError(f"{key}.splits", f"missing the '{required}' split")
    rows = {name: data.load_split(data.task_split_spec(spec, name), key=f"{key}.splits.{name}", data_root=data_root)
            for name in splits}
    if "fewshot" not in rows:
        rows["fewshot"], rows["pool"] = rows["pool"][:FEWSHOT_FROM_POOL], rows["pool"][FEWSHOT_FROM_POOL:]
    before = len(rows["pool"])
    rows["pool"] = data.remove_overlap(rows["pool"], rows["eval"], rows["fewshot"])
    if before != len(rows["pool"]):
        log.info("removed %d pool rows that also occur in eval/fewshot", before - len(rows["pool"]))
    for name in ("pool", "eval", "fewshot"):
        if not rows[name] and name != "fewshot":
            raise ConfigError(f"{key}.splits.{name}", "the split is empty")
        write_jsonl(outputs[name], rows[name])
        log.info("%s: %d rows -> %s", name, len(rows[name]), outputs[name])
