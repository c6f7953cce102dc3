"""Compute per rule and per cell from benchmark files in Snakemake's format (its columns, as a job writes them)."""

import pandas as pd
import pytest

from algrid import compute
from algrid.compute_plots import accuracy_vs_compute_figure, rule_costs_figure
from algrid.errors import DataError

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
CELL = "finetune/pool/smol/tiny/{strategy}/b{budget}-m{rounds}/seed{seed}"


def bench(results, rel: str, seconds: float, rss="512.5", repeats=()) -> None:
    path = results / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{s}\t0:00:01\t{rss}\t900\t400\t410\t1.0\t2.0\t80.0\t{s / 2}\n" for s in (*repeats, seconds)]
    path.write_text(HEADER + "".join(lines))


def final_metrics(cells) -> pd.DataFrame:
    rows = [{"family": "finetune", "task": "", "model": "smol", "preset": "tiny", "strategy": "base", "budget": 0,
             "rounds": 0, "seed": None}]
    rows += [{"family": "finetune", "task": "pool", "model": "smol", "preset": "tiny", "strategy": s, "budget": b,
              "rounds": m, "seed": seed} for s, b, m, seed in cells]
    return pd.DataFrame(rows)


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    bench(results, "benchmarks/prepare_model/smol.tsv", 20.0)
    bench(results, "benchmarks/score_pool/pool/smol/base.shard0.tsv", 5.0, rss="-")  # too short to sample
    bench(results, "benchmarks/score_pool/pool/smol/base.shard1.tsv", 7.0, rss="-")
    for seed, extra in ((0, 0.0), (1, 2.0)):
        run = CELL.format(strategy="entropy", budget=8, rounds=2, seed=seed)
        bench(results, f"{run}/round1/benchmarks/select.tsv", 1.0)
        bench(results, f"{run}/round1/benchmarks/train_adapter.tsv", 10.0 + extra, repeats=(99.0,))
        bench(results, f"{run}/round1/benchmarks/predict.tsv", 4.0)
        bench(results, f"{run}/round2/benchmarks/score_pool.tsv", 6.0, rss="2048")
        bench(results, f"{run}/round2/benchmarks/train_adapter.tsv", 10.0)
        bench(results, f"{run}/round2/benchmarks/predict.tsv", 4.0)
    bench(results, CELL.format(strategy="random", budget=16, rounds=1, seed=0) + "/round1/benchmarks/predict.tsv", 3.0)
    bench(results, "benchmarks/compute_rules.tsv", 1.0)  # the table's own job
    return results


def test_rule_costs(results):
    table = compute.rule_costs(compute.read_benchmarks(results)).set_index(["family", "rule"])
    assert table.loc[("shared", "score_pool"), "jobs"] == 2 and table.loc[("shared", "score_pool"), "seconds_total"] == 12
    assert pd.isna(table.loc[("shared", "score_pool"), "peak_rss_mb"])  # not sampled stays NA, not 0
    train = table.loc[("finetune", "train_adapter")]
    assert train.jobs == 4 and train.seconds_total == 42 and train.seconds_max == 12  # last line of a repeat
    assert train.cpu_seconds_total == 21 and train.model_job and not table.loc[("finetune", "select"), "model_job"]
    assert table.loc[("finetune", "score_pool"), "peak_rss_mb"] == 2048
    assert ("shared", "compute_rules") not in table.index
    fig = rule_costs_figure(table.reset_index())
    assert len(fig.axes[0].patches) == len(table)


def test_cell_compute_counts_the_cells_own_jobs_of_the_grid(results):
    jobs = compute.read_benchmarks(results)
    cells = compute.cell_compute(jobs, final_metrics([("entropy", 8, 2, 0), ("entropy", 8, 2, 1)]))
    (row,) = cells.itertuples()  # random b16 has a benchmark file but is not in this grid
    assert (row.strategy, row.budget, row.rounds, row.n_seeds) == ("entropy", 8, 2, 2)
    assert row.model_s_total == 34 + 36 and row.model_s_per_run == 35  # train + predict + pool rescoring
    assert row.other_s_total == 2 and row.peak_rss_mb == 2048
    assert row.gpu_hours == pytest.approx(70 / 3600, abs=1e-4)
    one_seed = compute.cell_compute(jobs, final_metrics([("entropy", 8, 2, 1)]))
    assert list(one_seed.n_seeds) == [1] and list(one_seed.model_s_total) == [36]


def test_accuracy_against_compute_one_line_per_strategy_and_rounds():
    cells = pd.DataFrame([{"task": "pool", "model": "smol", "preset": "tiny", "strategy": s, "budget": b,
                           "rounds": m, "n_seeds": 2, "model_s_per_run": 10.0 * b * m}
                          for s in ("random", "entropy") for b in (8, 16) for m in (1, 2)])
    keys = ["task", "model", "preset", "strategy", "budget", "rounds", "n_seeds"]
    summary = pd.DataFrame([{**{k: c[k] for k in keys}, "family": "finetune", "round": r, "n_labels": b * r // m, "eval_task": "e",
                             "n_items": 40, "accuracy_mean": 0.5, "accuracy_ci_low": 0.4, "accuracy_ci_high": 0.6}
                            for c in cells.to_dict("records") for b, m in [(c["budget"], c["rounds"])]
                            for r in range(1, m + 1)]
                           + [{"family": "finetune", "task": "", "model": "smol", "preset": "tiny",
                               "strategy": "base", "budget": 0, "rounds": 0, "round": 0, "n_labels": 0,
                               "eval_task": "e", "n_seeds": 1, "n_items": 40, "accuracy_mean": 0.2,
                               "accuracy_ci_low": 0.1, "accuracy_ci_high": 0.3}])
    fig = accuracy_vs_compute_figure(summary, cells)
    (ax,) = [a for a in fig.axes if a.get_title()]
    bars = ax.containers  # one errorbar (line + interval bars) per cell
    assert sorted(bar.get_label() for bar in bars) == ["entropy, 1 round", "entropy, 2 rounds",
                                                          "random, 1 round", "random, 2 rounds"]
    assert all(list(bar.lines[0].get_xdata()) in ([80, 160], [160, 320]) for bar in bars)  # each cell's budgets
    assert "40 items, 2 seeds" in ax.get_title()


def test_a_broken_benchmark_file_is_one_line(tmp_path):
    path = tmp_path / "results" / "benchmarks" / "prepare_model" / "smol.tsv"
    path.parent.mkdir(parents=True)
    path.write_text("garbage\n")
    with pytest.raises(DataError, match=r"prepare_model/smol.tsv: not a Snakemake benchmark file"):
        compute.read_benchmarks(tmp_path / "results")


def test_outputs_being_written_beside_the_table_are_not_read(results, tmp_path):
    """Jobs running beside compute_cells write in hidden temporary folders (algrid.io.atomic_path) that vanish when
    renamed into place; the benchmark listing skips them (it once failed on one that vanished mid-listing)."""
    before = compute.read_benchmarks(results)
    temporary = results / ".final_metrics.html.abc123" / "benchmarks" / "x.tsv"
    temporary.parent.mkdir(parents=True)
    temporary.write_text("half written\n")
    (results / "benchmarks" / ".predict.tsv.xyz").mkdir()
    pd.testing.assert_frame_equal(compute.read_benchmarks(results), before)
    assert len(before) == 16 and not any("/." in p for p in before.path)
