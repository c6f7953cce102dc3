"""Every API call is cached on disk and accounted.

Cache key: sha256 of (api, model fingerprint, batch size, prompt, decoding settings), the fingerprint covering
the model folder's full contents, quantization, dtype, device and the generation code (``model_fingerprint``;
batch size: left padding within a length-sorted batch changes numerics); one small json file per
key (written atomically, so parallel jobs may share the directory). A cached call costs no time on a rerun, but
its accounting record keeps the original tokens, seconds and cost (``cached: true``), so the reported cost of a
run does not depend on what an earlier run left in the cache.

Cost of one call = per_call[api] + tokens_in / 1000 * per_1k_tokens_in + tokens_out / 1000 * per_1k_tokens_out
+ seconds * per_second (``ads.cost``, in the user's unit, e.g. dollars).
"""

import functools
import hashlib
import json
import logging
import time
from pathlib import Path

from ..codeversion import files_version
from ..io import write_json

log = logging.getLogger(__name__)


_DIGESTS: dict = {}  # (folder, its files' names, sizes and mtimes) -> sha256 of their full contents
GENERATION_MODULES = ("algrid/generation.py", "algrid/tokens.py", "algrid/models.py", "algrid/ads/apis.py",
                      "algrid/ads/cache.py")


def folder_digest(model_dir) -> str:
    """sha256 of every file of the prepared model folder (weights in full, config, generation config, tokenizer),
    computed once per process for an unchanged folder."""
    path = Path(model_dir).resolve()
    files = sorted(f for f in path.rglob("*") if f.is_file())
    stamp = (str(path), tuple((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if stamp not in _DIGESTS:
        digest = hashlib.sha256()
        for f in files:
            digest.update(str(f.relative_to(path)).encode() + b"\0")
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    digest.update(chunk)
            digest.update(b"\0")
        _DIGESTS[stamp] = digest.hexdigest()
    return _DIGESTS[stamp]


@functools.cache
def generation_code_version() -> str:
    """sha256 of the syntax trees of the modules that turn a prompt into a cached output (comments do not count),
    and of the torch and transformers versions."""
    import torch
    import transformers

    versions = f"torch {torch.__version__} transformers {transformers.__version__} "
    return hashlib.sha256((versions + files_version(GENERATION_MODULES)).encode()).hexdigest()[:16]


def model_fingerprint(model_dir, *, quantization: str = "none", dtype: str = "float32", device: str = "cpu") -> str:
    """Everything about a loaded model that changes its outputs: the folder's full contents, the quantization, the
    dtype, the device type and the generating code's version; a changed one never hits an old cache entry."""
    parts = {"files": folder_digest(model_dir), "quantization": quantization, "dtype": dtype, "device": device,
             "code": generation_code_version()}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{Path(model_dir).name}-{quantization}-{dtype}-{digest}"


def call_key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class CallCache:
    """key -> {"output": ..., "tokens_in", "tokens_out", "seconds"}; ``None`` dir disables caching."""

    def __init__(self, directory):
        self.dir = Path(directory) if directory else None
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str):
        if self.dir is None or not self._path(key).is_file():
            self.misses += 1
            return None
        try:
            entry = json.loads(self._path(key).read_text())
        except (OSError, json.JSONDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, key: str, entry: dict) -> None:
        if self.dir is not None:
            write_json(self._path(key), entry)


class Ledger:
    """The accounting of one job's API calls: one record per call, written to ``api_calls.jsonl``."""

    def __init__(self, cost: dict, context: dict | None = None):
        self.cost = cost
        self.context = context or {}
        self.records: list[dict] = []

    def price(self, api: str, tokens_in: int, tokens_out: int, seconds: float) -> float:
        c = self.cost
        return float((c.get("per_call") or {}).get(api, 0.0) + tokens_in / 1000 * c.get("per_1k_tokens_in", 0.0)
                     + tokens_out / 1000 * c.get("per_1k_tokens_out", 0.0) + seconds * c.get("per_second", 0.0))

    def record(self, api: str, argument, *, model: str | None, tokens_in: int, tokens_out: int, seconds: float,
               cached: bool, status: str = "ok", n_results: int = 0, **extra) -> dict:
        row = {**self.context, **extra, "api": api, "argument": argument, "model": model, "tokens_in": int(tokens_in),
               "tokens_out": int(tokens_out), "seconds": round(float(seconds), 4), "cached": cached,
               "cost": self.price(api, tokens_in, tokens_out, seconds), "status": status, "n_results": n_results}
        self.records.append(row)
        return row

    def total(self, **where) -> dict:
        rows = [r for r in self.records if all(r.get(k) == v for k, v in where.items())]
        return totals(rows)


def totals(rows) -> dict:
    rows = list(rows)
    return {"api_calls": len(rows), "api_cost": float(sum(r["cost"] for r in rows)),
            "tokens_in": int(sum(r["tokens_in"] for r in rows)), "tokens_out": int(sum(r["tokens_out"] for r in rows)),
            "api_seconds": float(sum(r["seconds"] for r in rows)), "cached_calls": sum(bool(r["cached"]) for r in rows)}


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
