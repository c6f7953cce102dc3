"""Selection at scale: algrid's diversity and relevance strategies on 100k and 1M x 384 pools, k = 1,000,
next to reference tools on the same input, with wall time, peak memory and the objective of the picks.

The 1M run (each method as its own command keeps every command under 10 minutes; on a 16-core machine):

    .venv/bin/python benchmarks/bench_selection_scale.py --sizes 100000 1000000 --k 1000 \
        --methods kcenter kmeans facility_location votek dpp topk

or one method at a time (the pool and the queries are the same in every command, from --seed):

    for m in kcenter kmeans facility_location votek dpp topk; do
        .venv/bin/python benchmarks/bench_selection_scale.py --sizes 100000 1000000 --k 1000 --methods $m \
            --json results/bench_selection_scale.$m.json
    done

A small check (about 17 minutes on 2 cores shared with other jobs, most of it sklearn's KMeans and votek's
graph; --faiss-threads 1 there, or faiss's OpenMP threads wait on each other):

    .venv/bin/python benchmarks/bench_selection_scale.py --sizes 20000 --k 100 --gap-n 8000 --votek-max-n 10000 \
        --faiss-threads 1

What is run, per pool size n (seeded random float32 unit vectors; --queries fixed random unit queries, seed + 1):

  kcenter            algrid's exact lazy greedy (start: mean), vs a faiss-cpu k-center greedy (the classic
                     running minimum: each step one IndexFlatIP search of the pool against the new center),
                     started at the same item: the picks must be identical.
  facility_location  algrid's: exact greedy up to exact_max_n (4096), beyond that its documented two-stage
                     GreeDi approximation. Reference: apricot-select's FacilityLocationSelection (lazy greedy)
                     on the same similarity 1 + cos, dense (metric precomputed) up to --apricot-dense-max rows,
                     beyond that on a sparse symmetric --knn nearest-neighbour similarity graph built with a
                     faiss IVF index (the dense matrix of 100k rows is 40 GB; the graph's build time is
                     reported on its own line). Where both are exact the picks are compared.
  kmeans             algrid's: KMeans (Lloyd) up to minibatch_above (20000) unselected items, MiniBatchKMeans
                     beyond; the item nearest each centroid.
  votek              algrid's two stages, with a deterministic stand-in for the model's confidence (no model
                     is run: stage 2's model calls are counted, not timed). Its vote graph sorts every row of the
                     full similarity matrix and its stage 1 scores every item in Python per pick: beyond
                     --votek-max-n rows it runs on a seeded random sample of --votek-max-n rows (approximation).
  topk, dpp          algrid's per-query ones as one set (queries take turns); topk's reference is a faiss
                     IndexFlatIP search per query with the same turns: the picks must be identical.

Objectives (computed after the timing, exactly, over the whole pool; lower radius, higher coverage is better):
radius = max_i min_j (1 - cos(i, j)) over the picks j (k-center's objective); coverage = F / n with
F = sum_i max_j (1 + cos(i, j)) (facility location's objective, per item); sqdist = mean_i min_j |x_i - x_j|^2
(k-means' objective with the picks as centers); relevance = mean over picks of the cosine to its most similar
query (topk's objective; dpp trades it for diversity). dpp's TopK candidate list is max(k, candidates) wide: with
its default candidates (30) and k >= 30 each query's DPP keeps its whole list and the set equals topk's, so the
benchmark passes candidates = --dpp-candidates (default 2k).

Approximations and their gap: at n beyond a method's exact form (facility_location beyond 4096, kmeans beyond
20000, votek beyond --votek-max-n) the run measures, on the pool's first --gap-n rows (a random sample: the rows
are i.i.d.), the exact form against the same approximation at a smaller scale (facility_location: two-stage with
exact_max_n = gap-n / 4; kmeans: MiniBatchKMeans against KMeans; votek: on a random quarter against all rows),
and prints both objectives and the relative gap. The gap is at the subsample's compression, not at 1M's.

Memory: each method runs in a fresh child process (spawned: BLAS, OpenMP and faiss thread pools do not survive a
fork) that first reads the pool's first n rows from a scratch .npy file (--scratch); peak MB is the child's peak
resident set above its resident set once the pool is loaded (Linux /proc/self/status VmHWM after resetting it
through /proc/self/clear_refs; where that reset is not allowed, getrusage's ru_maxrss, which then also counts
what was resident before). It includes C allocations (BLAS, faiss, apricot's numba code) that tracemalloc would
miss. Time is the wall time of the selection call only (apricot's numba compilation is warmed up before it;
the faiss kNN graph apricot gets beyond --apricot-dense-max is built, and timed, in the parent).
"""

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

# Appended, not prepended: scripts/ also holds the rule scripts, whose names may shadow modules.
sys.path.append(str(Path(__file__).resolve().parents[1] / "scripts"))
from algrid.strategies import Pool, get, names  # noqa: E402
from algrid.strategies._common import max_similarity, round_robin  # noqa: E402
from algrid.strategies._model import Scorer  # noqa: E402

METHODS = ("kcenter", "kmeans", "facility_location", "votek", "dpp", "topk")
RELEVANCE = ("topk", "dpp")


# --- inputs ------------------------------------------------------------------------------------------------


def random_pool(n: int, d: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """n seeded random unit vectors, float32, generated in chunks (no n x d float64 temporary)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), d), dtype=np.float32)
        x[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


class StandInScorer(Scorer):
    """votek's stage 2 asks the model how confident it is on each item: a fixed pseudo-random number per item."""

    def __init__(self, n: int, seed: int):
        self.values = np.random.default_rng(seed + 7).random(n)
        self.calls = 0

    def confidence(self, items, demos):
        self.calls += len(items)
        return (-self.values[np.asarray(items, dtype=np.int64)]).tolist()


# --- running one method in a child ----------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _child(task: str, kwargs: dict, data_dir: str, n: int, conn) -> None:
    try:
        x = np.array(np.load(Path(data_dir) / "x.npy", mmap_mode="r")[:n])  # the pool's first n rows, in memory
        queries = np.load(Path(data_dir) / "queries.npy")
        if kwargs.pop("graph", False):
            from scipy.sparse import load_npz

            kwargs["graph"] = load_npz(Path(data_dir) / f"graph{n}.npz").astype(np.float64).tocsr()
        if task == "apricot":  # numba compiles apricot's code on first use: not part of the timing
            warm = random_pool(64, x.shape[1], 2)
            apricot_facility_location(warm, None, 4, 64)
            if "graph" in kwargs:
                from scipy.sparse import csr_matrix

                apricot_facility_location(warm, None, 4, 64, csr_matrix((1.0 + warm @ warm.T).astype(np.float64)))
        reset = True
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        except OSError:
            reset = False
        start_kb = _status_kb("VmRSS") or 0
        t0 = time.perf_counter()
        picks, extra = TASKS[task](x, queries, **kwargs)
        seconds = time.perf_counter() - t0
        peak_kb = (_status_kb("VmHWM") if reset else None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send({"picks": [int(i) for i in picks], "extra": extra, "seconds": seconds,
                   "peak_mb": max(0.0, (peak_kb - start_kb) / 1024)})
    except BaseException as err:  # noqa: BLE001 (reported, not raised, so the other methods still run)
        conn.send({"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()})
    finally:
        conn.close()


DATA_DIR = None  # where main() saved the pool (x.npy), the queries and the kNN graphs


def measured(task: str, n: int, timeout: float, **kwargs) -> dict:
    """Run ``TASKS[task](x[:n], queries, **kwargs) -> (picks, extra)`` in a fresh (spawned) child process: its
    picks, seconds and peak MB, or its error. Spawned, not forked: BLAS, OpenMP (sklearn) and faiss thread
    pools do not survive a fork once the parent has used them."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(task, kwargs, str(DATA_DIR), n, child))
    proc.start()
    child.close()
    try:
        result = parent.recv() if parent.poll(timeout) else {"error": f"timed out after {timeout:.0f} s"}
    except EOFError:
        result = {"error": "the child process died (out of memory?)"}
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


# --- algrid's implementations ----------------------------------------------------------------------------------


def algrid_pick(name: str, x: np.ndarray, k: int, queries=None, model=None, **params):
    """algrid's strategy ``name`` through ``algrid.strategies.get``, as the workflow calls it."""
    pool = Pool(n=len(x), selected=np.array([], dtype=np.int64), embeddings=x, query_embeddings=queries,
                model=model)
    selection = get(name).select(k, pool, seed=0, **params)
    keep = {key: selection.info[key] for key in ("exact", "parts", "finalists", "first_stage", "n_confidence",
                                                 "cost", "similarity") if key in selection.info}
    return selection.indices, keep


def votek_pick(x: np.ndarray, k: int, max_n: int, seed: int):
    """algrid's votek on the whole pool, or (beyond ``max_n`` rows) on a seeded random sample of ``max_n``."""
    if len(x) <= max_n:
        picks, extra = algrid_pick("votek", x, k, model=StandInScorer(len(x), seed))
        return picks, {**extra, "sample": None}
    sample = np.sort(np.random.default_rng(seed + 3).choice(len(x), size=max_n, replace=False))
    local, extra = algrid_pick("votek", np.ascontiguousarray(x[sample]), k, model=StandInScorer(max_n, seed))
    return sample[local].tolist(), {**extra, "sample": max_n}


# --- references ---------------------------------------------------------------------------------------------------


def faiss_threads(threads: int) -> None:
    """faiss's OpenMP threads (0: its default, every core). On a machine shared with other jobs, OpenMP's
    busy-waiting threads make many small searches very slow: pass --faiss-threads 1 there."""
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)


def faiss_kcenter(x: np.ndarray, k: int, first: int) -> list[int]:
    """Classic k-center greedy with faiss: the running minimum of cosine distance, one new center per step."""
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x[first:first + 1])
    sim, _ = index.search(x, 1)
    nearest = 1.0 - sim[:, 0]
    picks = [first]
    nearest[first] = -np.inf
    for _ in range(k - 1):
        best = int(np.argmax(nearest))
        picks.append(best)
        index.reset()
        index.add(x[best:best + 1])
        sim, _ = index.search(x, 1)
        np.minimum(nearest, 1.0 - sim[:, 0], out=nearest)
        nearest[picks] = -np.inf
    return picks


def faiss_topk(x: np.ndarray, queries: np.ndarray, k: int) -> list[int]:
    """Each query's k nearest pool rows by inner product (faiss IndexFlatIP), queries taking turns."""
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    sim, ids = index.search(queries, k)
    return round_robin(ids, sim.astype(np.float64), k)[0]


def knn_graph(x: np.ndarray, neighbours: int, seed: int):
    """A sparse symmetric similarity graph: each row's ``neighbours`` nearest rows (itself included) by a faiss
    IVF-Flat index (nlist ~ 4 sqrt(n), nprobe 16), weight 1 + cos; csr, float64 (apricot's precomputed input)."""
    import faiss
    from scipy.sparse import csr_matrix

    n, d = x.shape
    nlist = max(1, int(4 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    train = x[np.random.default_rng(seed).choice(n, size=min(n, 64 * nlist), replace=False)]
    index.train(train)
    index.add(x)
    index.nprobe = 16
    sim, ids = index.search(x, neighbours)
    rows = np.repeat(np.arange(n), neighbours)
    keep = ids.ravel() >= 0
    graph = csr_matrix(((1.0 + sim.ravel()[keep]).astype(np.float64), (rows[keep], ids.ravel()[keep])),
                       shape=(n, n))
    return graph.maximum(graph.T).tocsr()


def apricot_facility_location(x: np.ndarray, queries, k: int, dense_max: int, graph=None) -> tuple[list[int], dict]:
    from apricot import FacilityLocationSelection

    if graph is None:
        if len(x) > dense_max:
            raise ValueError(f"dense similarity of {len(x)} rows exceeds --apricot-dense-max {dense_max}")
        sim = (1.0 + x @ x.T).astype(np.float64)
        how = "dense"
    else:
        sim, how = graph, f"sparse kNN graph ({graph.nnz} entries)"
    selector = FacilityLocationSelection(k, metric="precomputed", optimizer="lazy").fit(sim)
    return [int(i) for i in selector.ranking], {"graph": how}


TASKS = {
    "algrid": lambda x, queries, name, k, relevance=False, **params: algrid_pick(
        name, x, k, queries=queries if relevance else None, **params),
    "votek": lambda x, queries, k, max_n, seed: votek_pick(x, k, max_n, seed),
    "faiss_kcenter": lambda x, queries, k, threads: (faiss_threads(threads)
                                                     or faiss_kcenter(x, k, int(np.argmax(x @ x.mean(axis=0)))), {}),
    "faiss_topk": lambda x, queries, k, threads: (faiss_threads(threads) or faiss_topk(x, queries, k), {}),
    "apricot": apricot_facility_location,
}


# --- objectives ---------------------------------------------------------------------------------------------------


def objectives(x: np.ndarray, picks, queries=None, extra=None) -> dict:
    """radius, coverage (F / n), sqdist over the whole of ``x``; relevance for per-query picks."""
    best = max_similarity(x, np.ascontiguousarray(x[np.asarray(picks, dtype=np.int64)]))
    best = np.minimum(best.astype(np.float64), 1.0)
    out = {"radius": float(np.max(1.0 - best)), "coverage": float(np.mean(1.0 + best)),
           "sqdist": float(np.mean(2.0 - 2.0 * best))}
    if queries is not None:  # each pick's cosine to its most similar query (the one a per-query method served)
        out["relevance"] = float(np.mean((x[np.asarray(picks)] @ queries.T).max(axis=1)))
    return out


# --- the benchmark --------------------------------------------------------------------------------------------------


ROWS: list[dict] = []


def report(n: int, method: str, impl: str, result: dict, x: np.ndarray, k: int, queries=None) -> dict:
    row = {"n": n, "method": method, "impl": impl}
    if "error" in result:
        row["error"] = result["error"]
        print(f"{method:18} {impl:44} n={n:<8} ERROR {result['error']}", flush=True)
    else:
        picks = result["picks"]
        assert len(picks) == k and len(set(picks)) == k, f"{method} {impl}: {len(set(picks))} distinct of {k}"
        row.update(seconds=round(result["seconds"], 3), peak_mb=round(result["peak_mb"], 1),
                   **objectives(x, picks, queries if method in RELEVANCE else None, result.get("extra")),
                   picks=picks)
        rel = f" relevance={row['relevance']:.4f}" if "relevance" in row else ""
        print(f"{method:18} {impl:44} n={n:<8} {row['seconds']:9.2f}s {row['peak_mb']:9.1f}MB  "
              f"radius={row['radius']:.4f} coverage={row['coverage']:.5f} sqdist={row['sqdist']:.5f}{rel}",
              flush=True)
    ROWS.append(row)
    return row


def same_picks(a: dict, b: dict, label: str, ordered: bool = True) -> None:
    if "picks" in a and "picks" in b:
        same = a["picks"] == b["picks"] if ordered else set(a["picks"]) == set(b["picks"])
        overlap = len(set(a["picks"]) & set(b["picks"])) / len(a["picks"])
        print(f"  {label}: identical picks {same} (overlap {overlap:.3f})", flush=True)
        b["identical_to_algrid"] = same


def run_size(x: np.ndarray, queries: np.ndarray, args) -> None:
    n, k, t = len(x), args.k, args.timeout
    fl_exact = get("facility_location").defaults["exact_max_n"]
    km_exact = get("kmeans").defaults["minibatch_above"]
    if "kcenter" in args.methods:
        ours = report(n, "kcenter", "algrid (exact lazy greedy, start mean)",
                      measured("algrid", n, t, name="kcenter", k=k, start="mean"), x, k)
        ref = report(n, "kcenter", "faiss-cpu k-center greedy (running min)", measured("faiss_kcenter", n, t, k=k, threads=args.faiss_threads),
                     x, k)
        same_picks(ours, ref, "kcenter: algrid vs faiss")
    if "facility_location" in args.methods:
        mode = "exact greedy" if n <= fl_exact else f"two-stage GreeDi, approx. (n > {fl_exact})"
        ours = report(n, "facility_location", f"algrid ({mode})",
                      measured("algrid", n, t, name="facility_location", k=k), x, k)
        if n <= args.apricot_dense_max:
            ref = report(n, "facility_location", "apricot FacilityLocation (dense, lazy)",
                         measured("apricot", n, t, k=k, dense_max=args.apricot_dense_max), x, k)
        else:
            from scipy.sparse import save_npz

            start = time.perf_counter()
            faiss_threads(args.faiss_threads)
            graph = knn_graph(x, args.knn, args.seed)
            build = time.perf_counter() - start
            print(f"{'facility_location':18} {'faiss IVF kNN graph for apricot':44} n={n:<8} {build:9.2f}s  "
                  f"({args.knn} neighbours, {graph.nnz} entries after symmetrising)", flush=True)
            ROWS.append({"n": n, "method": "facility_location", "impl": "faiss IVF kNN graph (for apricot)",
                         "seconds": round(build, 3), "nnz": int(graph.nnz)})
            save_npz(DATA_DIR / f"graph{n}.npz", graph.astype(np.float32))
            del graph
            ref = report(n, "facility_location", f"apricot FacilityLocation (sparse {args.knn}-NN, lazy)",
                         measured("apricot", n, t, k=k, dense_max=args.apricot_dense_max, graph=True), x, k)
        if n <= fl_exact and n <= args.apricot_dense_max:  # both exact greedy on the same similarity
            same_picks(ours, ref, "facility_location: algrid vs apricot")
    if "kmeans" in args.methods:
        mode = "KMeans" if n <= km_exact else f"MiniBatchKMeans, approx. (n > {km_exact})"
        report(n, "kmeans", f"algrid ({mode})", measured("algrid", n, t, name="kmeans", k=k), x, k)
    if "votek" in args.methods:
        mode = "exact" if n <= args.votek_max_n else f"on a {args.votek_max_n}-row sample, approx."
        report(n, "votek", f"algrid ({mode}; stand-in confidence)",
               measured("votek", n, t, k=k, max_n=args.votek_max_n, seed=args.seed), x, k)
    if "topk" in args.methods:
        ours = report(n, "topk", f"algrid ({len(queries)} queries, one set)",
                      measured("algrid", n, t, name="topk", k=k, relevance=True), x, k, queries)
        ref = report(n, "topk", "faiss IndexFlatIP search, same turns", measured("faiss_topk", n, t, k=k, threads=args.faiss_threads),
                     x, k, queries)
        same_picks(ours, ref, "topk: algrid vs faiss", ordered=False)
    if "dpp" in args.methods:
        width = args.dpp_candidates or 2 * k
        report(n, "dpp", f"algrid ({len(queries)} queries, {width} candidates each)",
               measured("algrid", n, t, name="dpp", k=k, relevance=True, candidates=width), x, k, queries)


def run_gaps(x: np.ndarray, args, largest: int) -> None:
    """Exact form vs approximation, on a subsample, for the methods that approximate at ``largest`` rows."""
    g, k, t = min(args.gap_n, len(x)), args.k, args.timeout
    sub = x[:g]
    print(f"\nobjective gaps on the pool's first {g} rows (exact form vs its approximation), k={k}:", flush=True)

    def gap(method, exact_impl, exact_task, approx_impl, approx_task, key, higher_is_better):
        exact = report(g, method, f"gap: {exact_impl}", measured(*exact_task[:1], g, t, **exact_task[1]), sub, k)
        approx = report(g, method, f"gap: {approx_impl}", measured(*approx_task[:1], g, t, **approx_task[1]), sub, k)
        if key in exact and key in approx:
            rel = (exact[key] - approx[key]) / abs(exact[key]) * (1 if higher_is_better else -1)
            print(f"  {method}: {key} exact {exact[key]:.6f}, approximation {approx[key]:.6f}: the approximation "
                  f"is {100 * abs(rel):.3f}% {'worse' if rel > 0 else 'better'}", flush=True)
            ROWS.append({"n": g, "method": method, "impl": "gap", "objective": key, "exact": exact[key],
                         "approximation": approx[key], "relative_gap": rel})

    if "facility_location" in args.methods and largest > get("facility_location").defaults["exact_max_n"]:
        part = max(2 * k, g // 4)
        gap("facility_location", f"exact greedy (exact_max_n={g})",
            ("algrid", {"name": "facility_location", "k": k, "exact_max_n": g}),
            f"two-stage (exact_max_n={part})", ("algrid", {"name": "facility_location", "k": k, "exact_max_n": part}),
            "coverage", True)
    if "kmeans" in args.methods and largest > get("kmeans").defaults["minibatch_above"]:
        gap("kmeans", "KMeans (Lloyd)", ("algrid", {"name": "kmeans", "k": k, "minibatch_above": g}),
            "MiniBatchKMeans", ("algrid", {"name": "kmeans", "k": k, "minibatch_above": 0}), "sqdist", False)
    if "votek" in args.methods and largest > args.votek_max_n:
        quarter = max(2 * k, g // 4)
        gap("votek", "exact (all rows)", ("votek", {"k": k, "max_n": g, "seed": args.seed}),
            f"on a {quarter}-row sample", ("votek", {"k": k, "max_n": quarter, "seed": args.seed}), "coverage", True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--queries", type=int, default=16, help="fixed random queries of topk and dpp")
    parser.add_argument("--dpp-candidates", type=int, default=0, help="dpp's TopK candidates per query (0: 2k)")
    parser.add_argument("--faiss-threads", type=int, default=0,
                        help="faiss's OpenMP threads (0: its default; 1 on a machine busy with other jobs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--apricot-dense-max", type=int, default=10_000,
                        help="largest pool apricot gets a dense similarity for (n^2 float64)")
    parser.add_argument("--knn", type=int, default=32, help="neighbours per row of apricot's sparse graph")
    parser.add_argument("--votek-max-n", type=int, default=20_000, help="largest pool votek runs on whole")
    parser.add_argument("--gap-n", type=int, default=16_384, help="subsample rows for the gaps (0: none)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per method before it is stopped")
    parser.add_argument("--scratch", help="folder for the pool file the child processes read (default: $TMPDIR)")
    parser.add_argument("--json", type=Path, help="write every row (picks included) here")
    args = parser.parse_args()
    names()  # import every strategy module (sklearn, scipy, ...) before any timing
    import faiss  # noqa: F401
    largest = max(args.sizes)
    x = random_pool(largest, args.d, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    queries = rng.standard_normal((args.queries, args.d), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    global DATA_DIR
    scratch = tempfile.TemporaryDirectory(prefix="bench_selection_scale.", dir=args.scratch)
    DATA_DIR = Path(scratch.name)
    np.save(DATA_DIR / "x.npy", x)
    np.save(DATA_DIR / "queries.npy", queries)
    print(f"pools: the first n of {largest} x {args.d} float32 unit vectors (seed {args.seed}), k={args.k}, "
          f"{args.queries} queries; time: wall of the selection call; peak MB: above the child's start", flush=True)
    for n in sorted(args.sizes):
        if args.k > n:
            raise SystemExit(f"--k {args.k} is larger than the pool size {n}")
        print(f"\n== n = {n}", flush=True)
        run_size(x[:n], queries, args)
    if args.gap_n:
        run_gaps(x, args, largest)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": ROWS}))
    failed = [r for r in ROWS if "error" in r]
    mismatched = [r for r in ROWS if r.get("identical_to_algrid") is False]
    if failed:
        print(f"\n{len(failed)} run(s) failed: " + "; ".join(f"{r['method']} {r['impl']} n={r['n']}" for r in failed))
    if mismatched:
        print("\nreference picks differ from algrid's: " + "; ".join(f"{r['method']} n={r['n']}" for r in mismatched))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
