"""ads end to end on a tiny grid (real SmolLM2-135M, real StrategyQA): every artifact, final_metrics rows with
cost columns, the verdict; the paper-scale grid dry-runs; config errors name the key."""

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from algrid.ads import grid
from algrid.errors import ConfigError
from conftest import REPO, planned_jobs, snakemake, workdir

pytestmark = pytest.mark.workflow
ADS_TINY = REPO / "tests" / "configs" / "ads_tiny.yaml"
RUN = "results/ads/strategyqa-dev/smollm2-135m/smollm2-135m/seed0"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    wd = workdir(tmp_path_factory.mktemp("ads"))
    snakemake(wd, "-c1", configfiles=(ADS_TINY,))
    return wd


def test_every_iteration_writes_its_four_files(built):
    for i in (1, 2):
        for name in grid.ITER_FILES:
            assert (built / RUN / f"iter{i}" / name).is_file(), name
    scores = json.loads((built / RUN / "iter2" / "scores.json").read_text())
    assert scores["heldout_n"] == 4 and scores["iteration"] == 2
    assert scores["cumulative"]["api_calls"] >= scores["totals"]["api_calls"] > 0
    calls = [json.loads(x) for x in (built / RUN / "iter1" / "api_calls.jsonl").read_text().splitlines()]
    assert {"api", "tokens_in", "tokens_out", "seconds", "cost", "cached"} <= set(calls[0])
    assert (built / RUN / "adapter" / "adapter_model.safetensors").is_file()


def test_final_metrics_rows_with_costs_and_the_verdict(built):
    final = pd.read_csv(built / "results" / "final_metrics.csv")
    ads = final[final.family == "ads"]
    assert sorted(ads.strategy) == ["ads_icl", "ads_lora", "bm25", "none", "random"]
    assert (ads.n_total == 4).all() and set(ads.eval_task) == {"strategyqa-dev"}
    assert {"api_cost", "api_calls", "tokens_in", "tokens_out", "score"} <= set(ads.columns)
    assert "item_scores" not in ads.columns  # per-item lists stay in the metrics files
    assert (ads[ads.strategy.str.startswith("ads")].api_cost > 0).all()
    assert (ads[~ads.strategy.str.startswith("ads")].api_cost == 0).all()
    verdicts = pd.read_csv(built / "results" / "ads" / "verdicts.csv")
    assert len(verdicts) == 7  # 2 modes x 3 baselines + lora vs icl
    assert ((verdicts.wins + verdicts.ties + verdicts.losses) == verdicts.n_tasks).all()
    summary = pd.read_csv(built / "results" / "ads" / "summary.csv")
    assert (summary.score_ci_low <= summary.score_mean + 1e-9).all()
    cells = pd.read_csv(built / "results" / "summary.csv")  # one metric per task: the ads summary's score
    cells = cells[cells.family == "ads"].set_index("strategy")
    assert set(cells.metric) == {"accuracy"}  # StrategyQA (label): accuracy; a text task: rouge_l (test_ads_loop)
    for row in summary.itertuples():
        assert cells.loc[row.strategy, "accuracy_mean"] == pytest.approx(row.score_mean)
    assert (built / "results" / "plots" / "ads_score_vs_cost.png").stat().st_size > 0


def test_nothing_to_do_after_a_build(built):
    proc = snakemake(built, "-n", configfiles=(ADS_TINY,))
    assert planned_jobs(proc) == {}


def test_paper_scale_grid_dry_runs(tmp_path):
    proc = snakemake(workdir(tmp_path), "-n", "ads", configfiles=(REPO / "config" / "experiments" / "ads.yaml",))
    jobs = planned_jobs(proc)
    assert jobs["ads_iteration"] == 11 * 2 * 3 * 3  # tasks x policies x seeds x iterations
    assert jobs["ads_baseline"] == 11 * 2 * 3 * 3 and jobs["ads_train_adapter"] == 11 * 2 * 3


@pytest.mark.parametrize("change, key", [
    ({"tasks": ["no-such-task"]}, "ads.tasks"),
    ({"optimizer": "no-such-model"}, "ads.optimizer"),
    ({"models": []}, "ads.models"),
    ({"judge": "no-such-model"}, "ads.judge"),
])
def test_config_errors_name_the_key(change, key):
    config = yaml.safe_load(open(REPO / "config" / "tasks.yaml"))
    config.update(yaml.safe_load(open(REPO / "config" / "defaults.yaml")))
    config["ads"].update(yaml.safe_load(open(ADS_TINY))["ads"])
    config["ads"].update(change)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        grid.check_ads_config(config)


def test_a_judge_rates_free_text_tasks_only():
    config = yaml.safe_load(open(REPO / "config" / "tasks.yaml"))
    config.update(yaml.safe_load(open(REPO / "config" / "defaults.yaml")))
    config["ads"]["judge"] = "smollm2-135m"
    w = SimpleNamespace(task="self-instruct", model="smollm2-135m", method="none", seed="0")
    assert grid.baseline_inputs(w, config)["judge"] == "results/models/smollm2-135m"
    assert "judge" not in grid.baseline_inputs(SimpleNamespace(task="strategyqa-dev", model="smollm2-135m"), config)
    assert grid.judge_params(config, "self-instruct")["name"] == "smollm2-135m"
    assert grid.judge_params(config, "strategyqa-dev") is None


def test_bad_ads_config_stops_snakemake_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"ads": {**yaml.safe_load(open(ADS_TINY))["ads"], "optimizer": "gpt-9"}}))
    proc = snakemake(workdir(tmp_path / "wd"), "-n", configfiles=(bad,), check=False)
    assert proc.returncode != 0
    assert "algrid: config key 'ads.optimizer': unknown model 'gpt-9'" in proc.stderr
    assert "Traceback" not in proc.stderr
