"""Snakemake end to end on the tiny grid (real model, real pipeline), then what a rebuild plans."""

import json
import re

import pandas as pd
import pytest
import yaml

from browser import Browser
from conftest import DEFAULT_GRID, TINY, code_copy, planned_jobs, planned_outputs, snakemake, workdir

pytestmark = pytest.mark.workflow
AGGREGATES = {"aggregate", "plot_learning_curve", "selection_diagnostics", "plot_selection", "final_metrics_table",
              "compute_rules", "compute_cells", "label_savings", "all"}
AGGREGATES |= {"stopping_criteria"}  # reads every round's metrics


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    """The workflow's code, copied so that a test can change the library and see what reruns."""
    return code_copy(tmp_path_factory.mktemp("code"))


@pytest.fixture(scope="module")
def built(tmp_path_factory, code):
    wd = workdir(tmp_path_factory.mktemp("tiny"))
    plan = snakemake(wd, "-n", code=code)
    snakemake(wd, "-c2", code=code)
    return wd, planned_jobs(plan)


def plan_with(wd, code, changes: dict) -> tuple[dict, list[str]]:
    """Jobs and outputs a dry run plans with ``changes`` merged over the tiny grid."""
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, extra_config(wd, "change.yaml", changes)), code=code)
    return planned_jobs(proc), planned_outputs(proc)


def extra_config(wd, name, content) -> object:
    path = wd / name
    path.write_text(yaml.safe_dump(content))
    return path


def test_shared_artifacts_are_planned_once(built):
    _, jobs = built
    # 3 strategies x (1 + 2 rounds); one model copy, one pool embedding, one base scoring for all of them
    assert jobs["prepare_model"] == 1 and jobs["embed_pool"] == 1 and jobs["score_pool_base"] == 1
    assert jobs["train_adapter"] == 9 and jobs["predict_round"] == 9 and jobs["predict_base"] == 1
    assert jobs["score_pool_round"] == 1  # only entropy's round 2 rescores the pool, with round 1's adapter


def test_final_metrics_rows_and_denominators(built):
    wd, _ = built
    frame = pd.read_csv(wd / "results/final_metrics.csv")
    frame = frame[frame.family == "finetune"]
    assert len(frame) == 1 + 9
    assert set(frame.strategy) == {"base", "random", "entropy", "kcenter"}
    assert (frame.n_total == 4).all()
    assert (frame.n_correct <= frame.n_total).all() and (frame.n_unparsed <= frame.n_total).all()
    assert frame.accuracy.between(0, 1).all()
    two = frame[(frame.rounds == 2) & (frame.strategy == "random")].sort_values("round")
    assert list(two.n_labels) == [2, 4]
    assert (wd / "results/plots/learning_curve.png").stat().st_size > 10_000
    assert {"accuracy_mean", "accuracy_ci_low", "diff_vs_random", "p_vs_random"} <= set(frame.columns)
    summary = pd.read_csv(wd / "results/summary.csv")
    summary = summary[summary.family == "finetune"]
    assert len(summary) == 10 and (summary.n_seeds == 1).all()


def test_selection_diagnostics_table_and_plot(built):
    wd, _ = built
    diag = pd.read_csv(wd / "results/selection_diagnostics.csv")
    assert len(diag) == 9 and (diag.overlap_with_previous == 0).all()
    assert diag.mean_pairwise_cosine_distance_cumulative.between(0, 2).all() and diag.coverage.notna().all()
    assert {"jaccard_random", "jaccard_entropy", "jaccard_kcenter"} <= set(diag.columns)
    assert (wd / "results/plots/selection_vs_rounds.png").stat().st_size > 10_000


def test_rounds_select_disjoint_and_adapters_are_traceable(built):
    wd, _ = built
    run = wd / "results/finetune/two-digit-addition/smollm2-135m/tiny/entropy/b4-m2/seed0"
    r1, r2 = (json.loads((run / f"round{i}/selected.json").read_text()) for i in (1, 2))
    assert len(r1["indices"]) == 2 and len(r2["indices"]) == 2
    assert not set(r1["indices"]) & set(r2["indices"])
    assert r2["cumulative_indices"] == r1["indices"] + r2["indices"]
    adapter = run / "round2/adapter"
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    record = json.loads((adapter / "resolved.json").read_text())
    assert record["train_ids"] == r2["cumulative_ids"]
    assert record["versions"]["torch"] and record["params"]["lora_r"] == 8


def test_nothing_to_do_after_a_build(built, code):
    wd, _ = built
    assert planned_jobs(snakemake(wd, "-n", code=code)) == {}


def test_generation_length_repredicts_without_retraining(built, code):
    jobs, _ = plan_with(built[0], code, {"presets": {"tiny": {"max_new_tokens": 12}}})
    assert jobs["predict_round"] == 9 and jobs["predict_base"] == 1
    assert not {"train_adapter", "select", "score_pool_base", "prepare_dataset"} & set(jobs)


def test_lora_rank_retrains_without_repreparing_data(built, code):
    jobs, _ = plan_with(built[0], code, {"presets": {"tiny": {"lora_r": 4}}})
    assert jobs["train_adapter"] == 9 and jobs["predict_round"] == 9
    assert "predict_base" not in jobs and "prepare_dataset" not in jobs and "score_pool_base" not in jobs


def test_a_bigger_eval_split_reprepares_eval_only(built, code):
    jobs, outputs = plan_with(built[0], code, {"tasks": {"two-digit-addition": {"splits": {"eval": {"size": 5}}}}})
    suite, split = sorted(o for o in outputs if o.startswith("results/data/"))  # and the suite predictions read
    assert split == "results/data/two-digit-addition/eval.jsonl"
    assert re.fullmatch(r"results/data/eval_suites/[0-9a-f]{12}\.json", suite)
    assert "train_adapter" not in jobs and "select" not in jobs and jobs["predict_round"] == 9


def test_a_library_change_reruns_exactly_the_rules_that_import_it(built, code):
    wd, _ = built
    module = code / "scripts/algrid/evaluate.py"
    original = module.read_text()
    try:
        module.write_text(original + "\n# a comment changes no result\n")
        assert planned_jobs(snakemake(wd, "-n", code=code)) == {}
        module.write_text(original + "\n\ndef _changed():\n    return 1\n")
        jobs = planned_jobs(snakemake(wd, "-n", code=code))
        assert jobs.pop("score_round") == 9 and jobs.pop("score_base") == 1
        assert set(jobs) <= AGGREGATES  # what reads the scores, and nothing upstream
    finally:
        module.write_text(original)


def test_a_strategy_parameter_change_reruns_only_that_strategy(built, code):
    wd, _ = built
    change = extra_config(wd, "kcenter.yaml", {"strategies": {"kcenter": {"start": "mean"}}})
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, change), code=code)
    jobs = planned_jobs(proc)
    assert jobs["select"] == 3 and jobs["train_adapter"] == 3  # kcenter: m=1 round 1, m=2 rounds 1 and 2
    outputs = [o for o in planned_outputs(proc) if "/finetune/" in o]
    assert outputs and all("/kcenter/" in o for o in outputs)


def test_adding_a_seed_plans_only_new_jobs(built, code):
    wd, _ = built
    change = extra_config(wd, "seed.yaml", {"finetune": {"seeds": [0, 1]}})
    proc = snakemake(wd, "-n", configfiles=(DEFAULT_GRID, TINY, change), code=code)
    jobs = planned_jobs(proc)
    assert set(jobs) - AGGREGATES == {"select", "diagnose_selection", "train_adapter", "predict_round", "score_round",
                                      "score_pool_round"}
    assert all("/seed1/" in o for o in planned_outputs(proc) if "/finetune/" in o)


SHOWN = """(() => {
  const img = [...document.querySelectorAll('img')].find(i => !i.closest('nav'));
  const frame = document.querySelector('iframe');
  const src = img ? img.src : frame ? frame.src : '';
  const name = (src.match(/filename=([^;,]+)/) || [])[1];
  return name ? [img ? 'img' : 'iframe', name, img && img.complete ? img.naturalWidth : 0] : null;
})()"""
ROWS = "document.querySelectorAll('nav table tbody tr')"


def test_report_renders_in_a_real_browser(built, code, tmp_path):
    """The report opened in headless chromium: every category in the menu, each of its figures shown as a
    loaded image and each html table as a table in its frame; the csv tables offered as data."""
    wd, _ = built
    snakemake(wd, "--report", str(wd / "report.html"), code=code)
    browser = Browser(tmp_path / "chromium")
    try:
        url, menu = (wd / "report.html").as_uri(), "document.querySelectorAll('nav li a').length > 3"
        browser.open(url, menu)
        categories = browser.js("[...document.querySelectorAll('nav li a span')].map(s => s.textContent)")
        assert {"Accuracy", "Selection", "Metrics", "Compute", "Label savings"} <= set(categories), categories
        images, tables, csvs = {}, {}, set()
        for category in ("Accuracy", "Selection", "Metrics", "Compute", "Label savings"):
            browser.open(url, menu)  # the menu again: a category replaces it with its results
            last = None
            browser.js(f"[...document.querySelectorAll('nav li a')].find(a => a.textContent.trim() == "
                       f"'{category}').click()")
            browser.wait(f"{ROWS}.length > 0")
            for i in range(browser.js(f"{ROWS}.length")):
                eye = f"{ROWS}[{i}].querySelector('a[iconname=eye]')"
                href = browser.js(f"{eye}.getAttribute('href')")
                if href.startswith("data:text/csv"):
                    csvs.add(re.search(r"filename=([^;,]+)", href)[1])
                    continue
                browser.js(f"{eye}.click()")
                loaded = f"({SHOWN}[0] == 'iframe' || {SHOWN}[2] > 0)"
                browser.wait(f"{SHOWN} && {SHOWN}[1] != {json.dumps(last)} && {loaded}")
                kind, last, width = browser.js(SHOWN)
                if kind == "img":
                    images[last] = width
                else:
                    (tags,) = browser.iframe_tags()
                    tables[last] = tags.count("TR")
        assert {"learning_curve.png", "selection_vs_rounds.png", "rule_costs.png",
                "accuracy_vs_compute.png", "label_savings.png"} <= set(images), images
        assert all(width >= 300 for width in images.values()), images
        assert {"final_metrics.html", "rules.html", "cells.html"} <= set(tables), tables
        for name, csv in (("final_metrics.html", "final_metrics.csv"), ("cells.html", "compute/cells.csv")):
            assert tables[name] == 1 + len(pd.read_csv(wd / "results" / csv)), tables  # header + one per row
        assert {"summary.csv", "savings.csv"} <= csvs, csvs
    finally:
        browser.close()


def test_stopping_criteria_per_round_from_the_rounds(built):
    """results/stopping_criteria.csv: rounds 0..m of every cell with that round's accuracy (as final_metrics);
    entropy's pool answers of rounds 0 (base model) and 1 (the scores that chose round 2) give a kappa, the
    uncertainty of both rounds; random and kcenter score no pool, so they get diversity only."""
    wd, _ = built
    table = pd.read_csv(wd / "results/stopping_criteria.csv")
    assert len(table) == 3 * (2 + 3) and set(table["round"]) == {0, 1, 2} and (table.cold_start == "none").all()
    final = pd.read_csv(wd / "results/final_metrics.csv")
    final = final[(final.family == "finetune") & (final.strategy != "base")]
    merged = table[table["round"] > 0].merge(final, on=["strategy", "rounds", "round"], suffixes=("", "_final"))
    assert len(merged) == 9 and (merged.accuracy == merged.accuracy_final).all()
    entropy = table[(table.strategy == "entropy") & (table.rounds == 2)].set_index("round")
    assert entropy.uncertainty[[0, 1]].between(0, 1).all() and pd.isna(entropy.uncertainty[2])
    assert entropy.kappa[[1]].between(-1, 1).all() and pd.isna(entropy.kappa[0]) and pd.isna(entropy.kappa_mean[1])
    assert not entropy.kappa_average_stop[1] and pd.isna(entropy.kappa_average_stop[2])  # a window of 3 kappas
    others = table[table.strategy != "entropy"]
    assert others.kappa.isna().all() and others.uncertainty.isna().all()
    assert others[others["round"] == 2].diversity_change.notna().all()


def test_a_cold_start_reruns_round_one_of_multi_round_uncertainty_cells_only(built, code):
    jobs, outputs = plan_with(built[0], code, {"finetune": {"cold_start": "kmeans"}})
    assert jobs["select"] == 2 and jobs["train_adapter"] == 2 and jobs["score_pool_round"] == 1  # entropy m=2
    assert "score_pool_base" not in jobs and "embed_pool" not in jobs
    finetune = [o for o in outputs if "/finetune/" in o]
    assert finetune and all("/entropy/b4-m2/" in o for o in finetune)
    proc = snakemake(built[0], "-n", configfiles=(DEFAULT_GRID, TINY, extra_config(built[0], "cold.yaml", {
        "finetune": {"cold_start": "stratified"}})), code=code, check=False)
    assert proc.returncode != 0 and "finetune.cold_start" in proc.stderr and "numeric answers" in proc.stderr


def test_compute_tables_account_for_every_cell(built):
    wd, _ = built
    cells = pd.read_csv(wd / "results/compute/cells.csv")
    assert len(cells) == 6 and set(cells.strategy) == {"entropy", "kcenter", "random"}  # 3 strategies x 2 rounds
    assert set(cells.rounds) == {1, 2} and (cells.n_seeds == 1).all()
    assert (cells.model_s_per_run > 0).all() and (cells.gpu_hours > 0).all()
    rules = pd.read_csv(wd / "results/compute/rules.csv").set_index(["family", "rule"])
    assert rules.loc[("finetune", "train_adapter"), "jobs"] == 9 and rules.loc[("shared", "prepare_model"), "jobs"] == 1
    assert rules.model_job.loc[("finetune", "select")] == False  # noqa: E712 (a numpy bool)


def test_label_savings_from_a_second_budget(built, code):
    """Runs last: it adds a budget to the built grid (random and entropy, 1 round, budget 2: four new jobs each)
    and builds results/savings.csv from the two-budget families, then returns the tables to the tiny grid."""
    wd, _ = built
    one = pd.read_csv(wd / "results/savings.csv")
    assert one.empty and list(one.columns)[:8] == ["task", "model", "preset", "strategy", "rounds", "eval_task",
                                                  "metric", "budget"]  # one budget: the header only
    change = extra_config(wd, "budgets.yaml", {"finetune": {"strategies": ["random", "entropy"], "budgets": [2, 4],
                                                            "rounds": [1]}})
    try:
        snakemake(wd, "-c2", configfiles=(DEFAULT_GRID, TINY, change), code=code)
        table = pd.read_csv(wd / "results/savings.csv")
        assert list(zip(table.strategy, table.budget)) == [("entropy", 2), ("entropy", 4), ("random", 2),
                                                           ("random", 4)]
        assert (table.rounds == 1).all() and (table.budgets == "2;4").all()
        assert (table.n_items == 4).all() and (table.n_seeds == 1).all()
        assert set(table.outcome) <= {"reached", "at most the smallest budget", "not reached"}
        reached = table[table.outcome != "not reached"]
        assert reached.label_ratio.between(0.5, 2).all() and table.label_ratio.isna().eq(
            table.outcome == "not reached").all()
        assert (table.random_model_s > 0).all()
        summary = pd.read_csv(wd / "results/summary.csv").query("family == 'finetune' and strategy == 'entropy'")
        for row in table[table.strategy == "entropy"].itertuples():
            ref = summary[(summary.budget == row.budget) & (summary.rounds == 1) & (summary["round"] == 1)].iloc[0]
            assert row.diff_equal_labels == pytest.approx(ref.diff_vs_random)
            assert row.diff_equal_labels_ci_low == pytest.approx(ref.diff_ci_low)
        rnd = table[table.strategy == "random"]
        assert (rnd.diff_equal_labels == 0).all() and (rnd.label_ratio <= 1).all()
        assert (wd / "results/plots/label_savings.png").stat().st_size > 10_000
    finally:
        snakemake(wd, "-c2", code=code)
