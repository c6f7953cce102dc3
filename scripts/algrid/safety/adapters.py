"""An existing LoRA adapter as a grid entry: a local directory or a Hugging Face Hub id, checked and copied to
results/adapters/<id>/ so that every rule reads one loadable PEFT directory."""

import json
import logging
import shutil
from pathlib import Path

from ..errors import ConfigError
from ..io import atomic_path

log = logging.getLogger(__name__)

WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def fetch(source, key: str) -> Path:
    """The adapter's directory: the local path, or a snapshot downloaded from the Hub."""
    if isinstance(source, str):
        path = Path(source)
        if not path.is_dir():
            raise ConfigError(key, f"adapter directory '{path}' does not exist")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source["hf"], revision=source.get("revision"),
                                      allow_patterns=["adapter_*", "*.json", "*.model", "*.txt"]))
    except Exception as err:  # offline, unknown repo, no access: one line that names the key and the id
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{key}.hf", f"cannot download adapter '{source['hf']}' from the Hugging Face Hub "
                          f"(no internet, or no such repository): {first}") from None


def check_adapter(path: Path, key: str) -> dict:
    """The adapter's config; an error naming the key when the directory is not a PEFT adapter."""
    config = path / "adapter_config.json"
    if not config.is_file():
        raise ConfigError(key, f"'{path}' is not a PEFT adapter: adapter_config.json missing")
    if not any((path / w).is_file() for w in WEIGHTS):
        raise ConfigError(key, f"'{path}' has no adapter weights ({' or '.join(WEIGHTS)})")
    try:
        return json.loads(config.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(key, f"{config}: not valid JSON ({err.msg}, line {err.lineno})") from None


def prepare_adapter(source, out_dir, *, key: str, base_model: str) -> None:
    path = fetch(source, f"{key}.source")
    config = check_adapter(path, f"{key}.source")
    from peft import PeftConfig

    PeftConfig.from_pretrained(str(path))  # the adapter config parses as PEFT's own
    with atomic_path(out_dir) as tmp:
        shutil.copytree(path, tmp, ignore=shutil.ignore_patterns(".git*", ".cache"))
    log.info("%s: %s adapter (r=%s) from %s, declared base '%s', applied to model '%s'", out_dir,
             config.get("peft_type"), config.get("r"), path, config.get("base_model_name_or_path"), base_model)
