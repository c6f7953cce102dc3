"""A fake ``strategies._model.Scorer`` for strategy tests: deterministic answers from the row and set indices."""

import hashlib

from algrid.strategies._model import Scorer


def _unit(*key) -> float:
    """A number in [0, 1) fixed by ``key``."""
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16) / 16 ** 12


class FakeScorer(Scorer):
    def __init__(self, n_dev: int = 10, n_options: int = 3):
        self.calls, self.n_dev, self.n_options = 0, n_dev, n_options

    def option_nll(self, query, demo_sets):
        self.calls += len(demo_sets)
        return [losses(query, s, self.n_options) for s in demo_sets]

    def confidence(self, items, demos):
        self.calls += len(items)
        return [-_unit("confidence", i, tuple(demos)) for i in items]

    def correct(self, split, rows, demos):
        self.calls += len(rows)
        return [_unit(split, r, tuple(sorted(demos))) < 0.5 for r in rows]


def losses(query: int, demos, n_options: int) -> list[float]:
    """The fake NLL per answer token of each option of eval row ``query`` with ``demos`` shown."""
    return [3.0 * _unit("nll", query, tuple(demos), o) for o in range(n_options)]
