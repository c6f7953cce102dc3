"""Vote-k selective annotation (Su et al. 2022): graph votes over embedding neighbours, then the model's
confidence, so that the demonstrations are representative and spread over what the model finds hard."""

import math

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Strategy, register
from algrid.strategies._common import CHUNK_ELEMENTS, floats, unit
from algrid.strategies._model import cost


@register
class VoteK(Strategy):
    """One set of k demonstrations for every query, chosen in the paper's two stages.

    The graph: every unselected item votes for its ``neighbours`` most cosine-similar other unselected items.
    An item's vote-k score is the sum over the voters for it that are not picked of ``rho ** -t``, where t is
    how many picked items that voter already votes for (a voter's weight is discounted once its
    neighbourhood is represented). Stage 1 greedily picks the item of highest score, ``round(k *
    first_fraction)`` items (at least 1). Stage 2 asks the model, with the stage-1 picks shown, how confident
    it is on every other item (``Scorer.confidence``: mean log-probability of its own answer), orders those
    most confident first, splits them into as many equal buckets (``numpy.array_split``) as picks remain,
    and takes from each bucket its item of highest vote-k score (the discount updated after each pick).
    Ties go to the item with more votes, then the lower pool index.

    On purpose unlike the authors' code: neighbours exclude the item itself even among duplicates; the
    buckets split the items left exactly (the code's buckets hold int(0.9 n / m) items each); the confidence
    prompt shows every stage-1 pick, not the most similar of them. OpenICL's VotekRetriever is stage 1
    without the discount (an overlap filter instead) and without stage 2.
    """

    name = "votek"
    needs = frozenset({"embeddings", "model"})
    defaults = {"neighbours": 10, "rho": 10.0, "first_fraction": 0.1}

    def check(self, params):
        n, rho, frac = params["neighbours"], params["rho"], params["first_fraction"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"strategies.{self.name}.neighbours", f"must be an integer >= 1, got {n!r}")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not rho > 1:
            raise ConfigError(f"strategies.{self.name}.rho", f"must be a number > 1, got {rho!r}")
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac <= 1:
            raise ConfigError(f"strategies.{self.name}.first_fraction", f"must be a number in (0, 1], got {frac!r}")

    def _pick(self, k, pool, candidates, seed, params):
        info = {}
        with cost(pool.model, info):
            voters = vote_graph(unit(pool.embeddings)[candidates], params["neighbours"])
            graph = VoteScores(voters, float(params["rho"]))
            first = min(k, max(1, round(k * params["first_fraction"])))
            for _ in range(first):
                graph.pick(graph.best())
            picks = list(graph.picked)
            rest = np.flatnonzero(~graph.taken)
            confidence = np.array([])
            if len(picks) < k:
                confidence = np.asarray(pool.model.confidence([int(candidates[i]) for i in rest],
                                                              [int(candidates[i]) for i in picks]), dtype=np.float64)
                order = rest[np.argsort(-confidence, kind="stable")]
                for bucket in np.array_split(order, k - len(picks)):
                    graph.pick(graph.best(bucket))
        picked = [int(candidates[i]) for i in graph.picked]
        by_item = dict(zip(rest.tolist(), confidence.tolist()))
        return picked, {"first_stage": first, "votes": [int(graph.votes[i]) for i in graph.picked],
                        "confidence": floats([by_item.get(i, math.nan) for i in graph.picked]),
                        "n_confidence": len(confidence), **info}


def vote_graph(x: np.ndarray, neighbours: int) -> list[np.ndarray]:
    """For each row of unit ``x``, the rows that vote for it: those that have it among their ``neighbours``
    most similar other rows (ties to the lower row)."""
    n = len(x)
    m = min(neighbours, n - 1)
    voters = [[] for _ in range(n)]
    if m < 1:
        return [np.zeros(0, dtype=np.int64) for _ in range(n)]
    step = max(1, CHUNK_ELEMENTS // max(1, n))
    for start in range(0, n, step):
        sim = x[start:start + step] @ x.T
        rows = np.arange(start, min(start + step, n))
        sim[rows - start, rows] = -np.inf
        near = np.argsort(-sim, axis=1, kind="stable")[:, :m]
        for voter, row in zip(rows, near):
            for item in row:
                voters[item].append(voter)
    return [np.array(v, dtype=np.int64) for v in voters]


class VoteScores:
    """Vote-k scores with the discount, kept as picks are made."""

    def __init__(self, voters: list[np.ndarray], rho: float):
        self.voters, self.rho = voters, rho
        self.votes = np.array([len(v) for v in voters])
        self.times = np.zeros(len(voters), dtype=np.int64)  # picked items each voter votes for
        self.taken = np.zeros(len(voters), dtype=bool)
        self.picked: list[int] = []

    def score(self, item: int) -> float:
        v = self.voters[item]
        v = v[~self.taken[v]]
        return float(np.sum(self.rho ** -self.times[v].astype(np.float64)))

    def best(self, among=None) -> int:
        among = np.flatnonzero(~self.taken) if among is None else np.asarray(among)
        scores = np.array([self.score(int(i)) for i in among])
        key = np.lexsort((among, -self.votes[among], -np.round(scores, 12)))
        return int(among[key[0]])

    def pick(self, item: int) -> None:
        self.picked.append(item)
        self.taken[item] = True
        self.times[self.voters[item]] += 1
