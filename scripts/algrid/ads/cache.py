"""Every API call is cached on disk and accounted.

Cache key: sha256 of (api, parameters, model fingerprint, prompt, decoding settings); one small json file per
key (written atomically, so parallel jobs may share the directory). A cached call costs no time on a rerun, but
its accounting record keeps the original tokens, seconds and cost (``cached: true``), so the reported cost of a
run does not depend on what an earlier run left in the cache.

Cost of one call = per_call[api] + tokens_in / 1000 * per_1k_tokens_in + tokens_out / 1000 * per_1k_tokens_out
+ seconds * per_second (``ads.cost``, in the user's unit, e.g. dollars).
"""

import hashlib
import json
import logging
import time
from pathlib import Path

from ..io import write_json

log = logging.getLogger(__name__)


def model_fingerprint(model_dir) -> str:
    """The prepared model's name, weight size and first MiB: a changed model never hits an old cache entry."""
    path = Path(model_dir)
    weights = sorted(path.glob("*.safetensors"))
    digest = hashlib.sha256(path.name.encode())
    for w in weights:
        digest.update(str(w.stat().st_size).encode())
        with open(w, "rb") as f:
            digest.update(f.read(1 << 20))
    return f"{path.name}-{digest.hexdigest()[:16]}"


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
