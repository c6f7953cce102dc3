"""Selection strategies: which pool items to label, train on, or show as demonstrations.

Each strategy is one module in this package that defines a ``Strategy`` subclass decorated
with ``@register``. Modules are discovered automatically (those whose name starts with ``_``
are helpers), so adding a strategy means adding one file; the workflow, tests and report
pick it up through ``names()``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas costs a second to import; the workflow imports this package at parse time
    import pandas as pd

from algrid.errors import ConfigError

NEEDS = frozenset({"scores", "embeddings", "texts", "queries", "features", "labels", "model"})


@dataclass
class Pool:
    """Everything a strategy may look at; the workflow fills only what ``Strategy.needs`` names.

    ``scores`` has one row per pool item (pool order) with the columns entropy,
    least_confidence, margin, max_entropy, perplexity. ``queries`` in ``needs`` means the
    query side of the pool inputs a strategy uses: ``query_embeddings`` next to
    ``embeddings``, ``query_texts`` next to ``texts``, ``query_features`` next to ``features``
    (``query_groups``: the eval task, 0, 1, ..., of each query row).
    ``features`` are one row per pool item computed by a model job for the strategy (its
    ``features`` kind: gradient embeddings, dropout mutual information, hidden states);
    ``labels`` one stratum per pool item (``_common.answer_strata``: the label or answer kind).
    ``model`` is the model a strategy calls while it selects: a scorer of demonstration sets on the
    pool, eval and dev rows (``_model.Scorer``) that counts its model calls.
    """

    n: int
    selected: np.ndarray
    scores: pd.DataFrame | None = None
    embeddings: np.ndarray | None = None
    texts: list[str] | None = None
    query_texts: list[str] | None = None
    query_embeddings: np.ndarray | None = None
    features: np.ndarray | None = None
    query_features: np.ndarray | None = None
    query_groups: np.ndarray | None = None
    labels: list[str] | None = None
    model: object | None = None


@dataclass
class Selection:
    indices: list[int]
    info: dict


class Strategy:
    """Base class: checks inputs, k and parameters, then calls ``_pick``.

    Subclasses set ``name``, ``needs``, ``defaults`` (and ``per_query``; ``features``, the kind of model
    features a model job computes for the strategy, with ``feature_params``, the parameters that job
    uses, so that changing another reruns only the selection), implement
    ``_pick(k, pool, candidates, seed, params) -> (indices, info)``, where ``candidates``
    are the unselected pool indices in increasing order and ``1 <= k <= len(candidates)``,
    and override ``check(params)`` to validate parameter values. Per-query strategies also
    implement ``_pick_per_query(...) -> list[list[int]]``.
    """

    name: str = ""
    needs: frozenset = frozenset()
    per_query: bool = False
    defaults: dict = {}
    features: str | None = None
    feature_params: tuple = ()

    def select(self, k: int, pool: Pool, seed: int, **params) -> Selection:
        params = self.resolve_params(params)
        candidates = self._candidates(k, pool)
        indices, extra = self._pick(k, pool, candidates, seed, params) if k else ([], {})
        indices = [int(i) for i in indices]
        _check_picks(self.name, indices, k, candidates)
        info = {"strategy": self.name, "params": params, "seed": seed, "k": k,
                "pool_size": pool.n, "previously_selected": pool.n - len(candidates), **extra}
        return Selection(indices, info)

    def select_per_query(self, k: int, pool: Pool, seed: int, **params) -> list[list[int]]:
        if not self.per_query:
            per_query = [n for n in names() if get(n).per_query]
            raise ConfigError(f"strategies.{self.name}",
                              f"cannot pick one set per query; strategies that can: {per_query}")
        params = self.resolve_params(params)
        candidates = self._candidates(k, pool)
        if k == 0:
            return [[] for _ in _queries(pool, self.needs)]
        lists = [[int(i) for i in picks]
                 for picks in self._pick_per_query(k, pool, candidates, seed, params)]
        for picks in lists:
            _check_picks(self.name, picks, k, candidates)
        return lists

    def _pick(self, k, pool, candidates, seed, params) -> tuple[list[int], dict]:
        raise NotImplementedError

    def _pick_per_query(self, k, pool, candidates, seed, params) -> list[list[int]]:
        raise NotImplementedError

    def resolve_params(self, params: dict) -> dict:
        """Defaults + given parameters, checked; ConfigError names the bad key."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = sorted(self.defaults) or "none"
            raise ConfigError(f"strategies.{self.name}.{unknown[0]}",
                              f"unknown parameter; known parameters: {known}")
        params = {**self.defaults, **params}
        self.check(params)
        return params

    def check(self, params: dict) -> None:
        """Raise ``ConfigError("strategies.<name>.<param>", ...)`` for a bad parameter value."""

    def _candidates(self, k: int, pool: Pool) -> np.ndarray:
        """Check that the inputs in ``needs`` are present and that k fits; return unselected indices."""
        for field in _fields(self.needs):
            value = getattr(pool, field)
            if value is None or (field.startswith("query_") and len(value) == 0):
                problem = "which is missing" if value is None else "which is empty"
                raise ConfigError(f"strategies.{self.name}", f"needs pool.{field}, {problem}")
        _check_sizes(pool)
        selected = np.asarray(pool.selected, dtype=np.int64).ravel()
        if selected.size and (selected.min() < 0 or selected.max() >= pool.n):
            raise ValueError(f"pool.selected has indices outside [0, {pool.n})")
        unselected = np.ones(pool.n, dtype=bool)
        unselected[selected] = False
        candidates = np.flatnonzero(unselected)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= len(candidates):
            raise ConfigError(f"strategies.{self.name}",
                              f"cannot select k={k} items: the pool has {len(candidates)} unselected "
                              f"items ({pool.n} in all, {pool.n - len(candidates)} selected before)")
        return candidates


def _fields(needs: frozenset) -> list[str]:
    fields = [f for f in ("scores", "embeddings", "texts", "features", "labels") if f in needs]
    if "queries" in needs:
        fields += [f"query_{f}" for f in ("embeddings", "texts", "features") if f in needs]
    return fields + ["model"] * ("model" in needs)


def _check_sizes(pool: Pool) -> None:
    for field in ("scores", "embeddings", "texts", "features", "labels"):
        value = getattr(pool, field)
        if value is not None and len(value) != pool.n:
            raise ValueError(f"pool.{field} has {len(value)} rows for a pool of {pool.n} items")


def _queries(pool: Pool, needs: frozenset):
    return pool.query_embeddings if "embeddings" in needs else pool.query_texts


def _check_picks(name: str, picks: list[int], k: int, candidates: np.ndarray) -> None:
    """Guard the contract every caller relies on: k distinct picks among the candidates."""
    if len(picks) != k or len(set(picks)) != k or not np.isin(picks, candidates).all():
        raise RuntimeError(f"strategy '{name}' broke its contract: picks {picks} for k={k}")


_REGISTRY: dict[str, type[Strategy]] = {}
_discovered = False


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its ``name``."""
    if not cls.name or not cls.needs <= NEEDS:
        raise ValueError(f"{cls.__qualname__}: set name and needs (a subset of {sorted(NEEDS)})")
    other = _REGISTRY.get(cls.name)
    if other is not None and other.__qualname__ != cls.__qualname__:
        raise ValueError(f"strategy '{cls.name}' is registered twice: {other} and {cls}")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> Strategy:
    _discover()
    if name not in _REGISTRY:
        raise ConfigError("strategies", f"unknown strategy '{name}'; known: {', '.join(names())}")
    return _REGISTRY[name]()
