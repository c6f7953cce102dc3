"""What a strategy that calls the model while it selects (``model`` in ``needs``) may ask of it.

``Pool.model`` is a ``Scorer``: the icl family's is ``algrid.icl.scorer.ModelScorer`` (the task's prompts,
the same log-likelihoods and greedy answers its predictions use); tests use a fake one. Rows are named by
position: pool rows by pool index, eval rows by query index (the queries of ``Pool.query_*``), dev rows by
their position in the dev split. ``calls`` counts the sequences the model has scored or continued so far;
a strategy's cost is its difference across the selection (``cost``).
"""

import time
from contextlib import contextmanager


class Scorer:
    calls: int = 0
    n_dev: int = 0  # rows of the task's dev split (0: the task has none)

    def option_nll(self, query: int, demo_sets: list[list[int]]) -> list[list[float]]:
        """Per demonstration set (pool indices), the NLL per answer token of each of eval row ``query``'s
        answer options (the options a log-likelihood prediction compares), in the row's option order."""
        raise NotImplementedError

    def confidence(self, items: list[int], demos: list[int]) -> list[float]:
        """For each pool item, the mean log-probability per token of the model's own answer to it with the
        pool rows ``demos`` shown (its best option's, or its greedy answer's)."""
        raise NotImplementedError

    def correct(self, split: str, rows: list[int], demos: list[int]) -> list[bool]:
        """Whether the model answers each row of ``split`` ("pool" or "dev") right by the task's own metric
        with the pool rows ``demos`` shown, as a test-time prediction does."""
        raise NotImplementedError


@contextmanager
def cost(model: Scorer, info: dict):
    """Record in ``info["cost"]`` the model calls and seconds the block costs."""
    calls, start = model.calls, time.perf_counter()
    yield
    info["cost"] = {"model_calls": int(model.calls - calls), "seconds": round(time.perf_counter() - start, 3)}
