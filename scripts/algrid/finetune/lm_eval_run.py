"""The lm-eval job of ``finetune.lm_eval`` (rules/lm_eval.smk): one model load, every task, through
``lm_eval.simple_evaluate`` with model ``hf`` and the PEFT adapter (``peft=<adapter dir>``; a model with ``quantization: nf4`` is loaded as algrid loads it for QLoRA and handed to
lm-eval's HFLM, which takes no quantization config of its own); and the task-name
index that the config check at parse time consults. The only algrid module that imports lm_eval.

The results file is lm-eval's own results dict (results, configs, versions, n-shot, n-samples, config with the
model args, lm_eval_version, transformers_version, pretty_env_info, ...), as lm-eval writes it, with an
``algrid`` entry: the tasks as named in the config, the model directory, adapter, dtype, quantization, device
and the versions of torch, transformers, peft, datasets and lm-eval."""

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from pathlib import Path

from ..errors import ConfigError
from ..io import atomic_path
from .lm_eval_tasks import KEY, check_task_names

log = logging.getLogger(__name__)


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "algrid"


def builtin_tasks() -> set[str] | None:
    """Every task, group and tag name of lm-eval's own registry, or None where lm-eval is not installed (the job
    checks then). Building the index reads ~15,000 YAMLs (about 8 s), so the names are kept per installed lm-eval
    (its version and location) in ~/.cache/algrid/ (XDG_CACHE_HOME); nothing is fetched."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or spec.origin is None:
        return None
    version = importlib.metadata.version("lm_eval")
    stamp = hashlib.sha256(f"{spec.origin}\n{version}".encode()).hexdigest()[:16]
    cache = _cache_dir() / f"lm_eval-{version}-{stamp}-tasks.json"
    try:
        return set(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    from lm_eval.tasks import TaskManager

    names = sorted(TaskManager().all_tasks)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(names))
        os.replace(tmp, cache)
    except OSError:  # an unwritable cache: simply rebuilt next time
        pass
    return set(names)


def known_tasks(include_paths) -> set[str] | None:
    """lm-eval's task names and those of the YAMLs under include_paths; None without lm-eval (checked in the job)."""
    builtin = builtin_tasks()
    if builtin is None:
        return None
    if not include_paths:
        return builtin
    from lm_eval.tasks import TaskManager

    return builtin | set(TaskManager(include_path=list(include_paths), include_defaults=False).all_tasks)


def _versions() -> dict:
    out = {}
    for dist in ("torch", "transformers", "peft", "datasets", "lm_eval", "accelerate", "bitsandbytes"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def model_args(model_dir, adapter, model: dict) -> dict:
    """lm-eval's ``hf`` model arguments: the prepared model, its dtype, the adapter (peft); the device is
    simple_evaluate's."""
    args = {"pretrained": str(model_dir), "dtype": model.get("dtype", "float32")}
    if adapter:
        args["peft"] = str(adapter)
    return args


def evaluate(model_dir, adapter, out_path, params: dict, model: dict) -> dict:
    """Run every task of ``params`` (algrid.finetune.lm_eval_tasks.job_params) on the model (+ adapter) and write
    lm-eval's results json to ``out_path``. An unknown task is a ConfigError naming finetune.lm_eval.tasks."""
    import lm_eval
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import handle_non_serializable

    from ..models import device

    manager = TaskManager(include_path=params.get("include_path") or None)
    check_task_names(params["tasks"], set(manager.all_tasks))
    if model.get("quantization", "none") not in ("none", "nf4"):
        raise ConfigError("models.*.quantization", f"unknown quantization '{model['quantization']}' (none, nf4)")
    where = str(device())
    quantized = model.get("quantization") == "nf4"
    args = model_args(model_dir, adapter, model)
    log.info("lm-eval %s on %s%s (%s%s)", ", ".join(params["tasks"]), model_dir, f" + {adapter}" if adapter else "",
             where, ", nf4" if quantized else "")
    lm = "hf"
    if quantized:  # HFLM takes no quantization config of its own: the model as algrid loads it for QLoRA
        from lm_eval.models.huggingface import HFLM

        from ..models import load_model, load_tokenizer

        lm = HFLM(pretrained=load_model(model_dir, adapter=adapter, quantization="nf4",
                                        dtype=model.get("dtype", "float32")),
                  tokenizer=load_tokenizer(model_dir), batch_size=params.get("batch_size", 1))
    results = lm_eval.simple_evaluate(
        model=lm, model_args=None if quantized else args, tasks=list(params["tasks"]),
        num_fewshot=params.get("num_fewshot"), limit=params.get("limit"), batch_size=params.get("batch_size", 1),
        device=where, apply_chat_template=bool(params.get("apply_chat_template", False)), task_manager=manager,
        log_samples=False)
    if results is None:
        raise ConfigError(KEY, "lm-eval returned no results")
    results["algrid"] = {"tasks": list(params["tasks"]), "model_dir": str(model_dir),
                         "adapter": str(adapter) if adapter else None, "dtype": model.get("dtype", "float32"),
                         "quantization": model.get("quantization", "none"), "device": where, "model_args": args,
                         "loaded_by": "algrid.models.load_model (nf4), then lm_eval HFLM" if quantized else "lm_eval hf",
                         "versions": _versions()}
    with atomic_path(out_path) as tmp_out:
        Path(tmp_out).write_text(json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False)
                                 + "\n")
    for task in params["tasks"]:
        entry = results["results"].get(task, {})
        log.info("%s: %s", task, {k: v for k, v in entry.items() if "," in k})
    return results
