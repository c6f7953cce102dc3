"""Helpers shared by the strategy modules: score ranking and chunked float32 similarity."""

import math

import numpy as np

from algrid.errors import ConfigError
from algrid.strategies import Pool, Strategy

# Uncertainty columns and whether a LOW value means uncertain (margin is top1 - top2).
LOW_IS_UNCERTAIN = {"entropy": False, "least_confidence": False, "margin": True,
                    "max_entropy": False, "perplexity": False}

# Largest temporary block (in float32 elements) a chunked computation allocates.
CHUNK_ELEMENTS = 1 << 22


def score_column(pool: Pool, column: str, strategy: str) -> np.ndarray:
    if column not in pool.scores.columns:
        raise ConfigError(f"strategies.{strategy}",
                          f"needs the score column '{column}'; pool.scores has {list(pool.scores.columns)}")
    return pool.scores[column].to_numpy(dtype=np.float64)


def rank(values: np.ndarray, candidates: np.ndarray, seed: int, ascending: bool) -> np.ndarray:
    """Candidates ordered by ``values`` (NaN last); ties in a seeded random order."""
    key = values[candidates] if ascending else -values[candidates]
    key = np.where(np.isnan(key), np.inf, key)
    tiebreak = np.random.default_rng(seed).random(len(candidates))
    return candidates[np.lexsort((tiebreak, key))]


def floats(values) -> list[float | None]:
    """JSON-safe floats (NaN becomes None)."""
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=np.float64)]


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (zero rows stay zero; unit rows are not copied)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.all(np.abs(norms - 1.0) <= 1e-5):
        return x
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


def others(candidates: np.ndarray, n: int) -> np.ndarray:
    """The pool indices in [0, n) that are not candidates: those selected before."""
    mask = np.ones(n, dtype=bool)
    mask[candidates] = False
    return np.flatnonzero(mask)


def max_similarity(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """For each row of ``x``, its largest dot product with a row of ``centers`` (chunked)."""
    out = np.empty(len(x), dtype=np.float32)
    step = max(1, CHUNK_ELEMENTS // max(1, len(centers)))
    for start in range(0, len(x), step):
        out[start:start + step] = (x[start:start + step] @ centers.T).max(axis=1)
    return out


class ScoreRank(Strategy):
    """Top-k unselected items by one uncertainty score column; ties in a seeded random order."""

    needs = frozenset({"scores"})
    column: str
    ascending: bool = False

    def _pick(self, k, pool, candidates, seed, params):
        values = score_column(pool, self.column, self.name)
        picks = rank(values, candidates, seed, self.ascending)[:k]
        order = "lowest first" if self.ascending else "highest first"
        return picks, {"column": self.column, "order": order, "scores": floats(values[picks])}


def top_per_query(blocks, candidates: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k most relevant candidates (pool indices) and their relevance.

    ``blocks`` yields relevance matrices [queries, candidates] for consecutive queries.
    Ties are ordered by a seeded random permutation of the candidates.
    """
    perm = np.random.default_rng(seed).permutation(len(candidates))
    ranked, relevance = [], []
    for block in blocks:
        block = block[:, perm]
        if k < block.shape[1]:
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            top = np.tile(np.arange(block.shape[1]), (len(block), 1))
        top.sort(axis=1)  # ties then keep the permutation's order
        values = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        ranked.append(candidates[perm[np.take_along_axis(top, order, axis=1)]])
        relevance.append(np.take_along_axis(values, order, axis=1))
    return np.concatenate(ranked), np.concatenate(relevance)


class PerQueryRanked(Strategy):
    """A per-query strategy from one ranking: ``_ranked(k, pool, candidates, seed, params)`` returns, per query,
    its ranked item indices and their relevance; as one set, queries take turns (``round_robin``)."""

    needs = frozenset({"embeddings", "queries"})
    per_query = True

    def _ranked(self, k, pool, candidates, seed, params):
        raise NotImplementedError

    def _pick_per_query(self, k, pool, candidates, seed, params):
        return self._ranked(k, pool, candidates, seed, params)[0]

    def _pick(self, k, pool, candidates, seed, params):
        ranked, relevance = self._ranked(k, pool, candidates, seed, params)
        picks, queries, scores = round_robin(ranked, relevance, k)
        return picks, {"queries": queries, "similarity": floats(scores)}


def round_robin(ranked: np.ndarray, relevance: np.ndarray, k: int) -> tuple[list[int], list[int], list[float]]:
    """Queries take turns adding their best item not picked yet until there are k items.

    ``ranked`` holds at least k items per query, so a query always has a free item.
    Returns the picks, the query each came from, and its relevance to that query.
    """
    picks, sources, scores, taken = [], [], [], set()
    position = [0] * len(ranked)
    while len(picks) < k:
        for query, row in enumerate(ranked):
            while row[position[query]] in taken:
                position[query] += 1
            item = int(row[position[query]])
            picks.append(item)
            sources.append(query)
            scores.append(float(relevance[query, position[query]]))
            taken.add(item)
            if len(picks) == k:
                break
    return picks, sources, scores


# --- strata: the label or answer kind of a row (balanced_random; a cold start may stratify by the same) ------

MAX_LABELS = 32  # a task whose answers take at most this many distinct values (each repeated) has labels
YES_NO = frozenset({"yes", "no", "true", "false"})


def answer_kind(target) -> str:
    """The kind of an answer: yes/no, option (a letter such as "C" or "(C)"), number or text."""
    text = str(target).strip()
    if text.casefold() in YES_NO:
        return "yes/no"
    if len(text.strip("()")) == 1 and text.strip("()").isalpha() and text.strip("()").isupper():
        return "option"
    try:
        float(text.replace(",", ""))
    except ValueError:
        return "text"
    return "number"


def answer_strata(rows: list[dict]) -> list[str]:
    """One stratum per row: its label where the task has labels (rows with ``choices``: classification and
    multichoice; or answers taking at most ``MAX_LABELS`` distinct values, each on average at least twice,
    as BBH's True/False), else its answer kind (``answer_kind``). A task with neither (every answer a
    number) has one stratum."""
    targets = [str(r.get("target", "")) for r in rows]
    distinct = set(targets)
    if any(r.get("choices") for r in rows) or (len(distinct) <= MAX_LABELS and 2 * len(distinct) <= len(rows)):
        return [f"label:{t}" for t in targets]
    return [f"kind:{answer_kind(t)}" for t in targets]


def balanced_picks(strata, candidates: np.ndarray, k: int, seed: int, selected=()) -> tuple[list[int], list[str]]:
    """k random candidates, balanced over strata: each pick comes from the stratum with the fewest items chosen
    so far (``selected`` earlier and these picks) among those with candidates left, ties in a seeded random
    order; within a stratum, a seeded random order. Returns the picks and each pick's stratum."""
    rng = np.random.default_rng(seed)
    strata = [str(s) for s in strata]
    names = sorted(set(strata[i] for i in candidates))
    rank = {s: r for s, r in zip(names, rng.permutation(len(names)))}
    queues = {s: [] for s in names}
    for i in rng.permutation(candidates):
        queues[strata[i]].append(int(i))
    chosen = {s: 0 for s in names}
    for i in selected:
        if strata[i] in chosen:
            chosen[strata[i]] += 1
    picks, sources = [], []
    position = {s: 0 for s in names}
    while len(picks) < k:
        open_ = [s for s in names if position[s] < len(queues[s])]
        s = min(open_, key=lambda s: (chosen[s], rank[s]))
        picks.append(queues[s][position[s]])
        sources.append(s)
        position[s] += 1
        chosen[s] += 1
    return picks, sources


def kmeans_pp(x: np.ndarray, k: int, seed: int) -> tuple[list[int], list[float]]:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) as BADGE runs it (Ash et al. 2020, its code): the first
    center is the row of largest norm, each next one drawn with probability proportional to its squared
    Euclidean distance to the nearest center chosen so far. Rows at distance 0 are never drawn while another
    row is farther; when all are at distance 0 (duplicates), the next is a seeded uniform draw among the
    unchosen. Returns row positions in ``x`` and each pick's squared distance when drawn (NaN: the first)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    first = int(np.argmax(sq))
    picks, d2 = [first], [float("nan")]
    nearest = np.maximum(sq + sq[first] - 2.0 * (x @ x[first]), 0.0)
    nearest[first] = 0.0
    taken = np.zeros(len(x), dtype=bool)
    taken[first] = True
    while len(picks) < k:
        weights = np.where(taken, 0.0, nearest)
        total = weights.sum()
        if total > 0:
            pick = int(rng.choice(len(x), p=weights / total))
        else:
            pick = int(rng.choice(np.flatnonzero(~taken)))
        picks.append(pick)
        d2.append(float(nearest[pick]))
        taken[pick] = True
        nearest = np.minimum(nearest, np.maximum(sq + sq[pick] - 2.0 * (x @ x[pick]), 0.0))
        nearest[pick] = 0.0
    return picks, d2


def check_int(name: str, params: dict, key: str, low: int) -> None:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"strategies.{name}.{key}", f"must be an integer >= {low}, got {value!r}")
