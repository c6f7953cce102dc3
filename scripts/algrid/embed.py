"""Sentence embeddings of a split's inputs (float32, L2-normalised, row order = file order)."""

import importlib.util
import logging
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .io import atomic_path, read_jsonl
from .models import device

log = logging.getLogger(__name__)


def resolve_embedder(source: dict, key: str) -> str:
    """A sentence-transformers model: {type: pypi, module, path} | {type: local, path} | {type: hf, id}."""
    kind = source.get("type")
    if kind == "hf":
        return source["id"]
    if kind == "local":
        if not Path(source["path"]).is_dir():
            raise ConfigError(f"{key}.path", f"embedder directory '{source['path']}' does not exist")
        return source["path"]
    if kind == "pypi":
        spec = importlib.util.find_spec(source["module"])
        if spec is None or spec.origin is None:
            raise ConfigError(f"{key}.module", f"Python package '{source['module']}' is not installed")
        return str(Path(spec.origin).parent / source.get("path", ""))
    raise ConfigError(f"{key}.type", f"unknown embedder source type '{kind}' (hf, local, pypi)")


def embed_texts(source: dict, texts, *, batch_size: int = 64, key: str = "embedders") -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_embedder(source, key), device=str(device()))
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                           show_progress_bar=True, convert_to_numpy=True)
    return vectors.astype(np.float32)


def embed_file(source: dict, rows_path, out_path, *, batch_size: int, key: str) -> None:
    rows = read_jsonl(rows_path)
    vectors = embed_texts(source, [r["input"] for r in rows], batch_size=batch_size, key=key)
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, vectors)
    log.info("embedded %d rows -> %s %s", len(rows), out_path, vectors.shape)
