"""The tiny finetune, icl and safety grids on Gemma 3 270M through Snakemake: a second model family, whose
tokenizer needs BOS, other EOS ids and no chat template, runs every family end to end (issue 19)."""

import pandas as pd
import pytest
import yaml

from algrid.io import read_json, read_jsonl

from conftest import DEFAULT_GRID, TINY, planned_jobs, require_data, snakemake, workdir

pytestmark = pytest.mark.workflow
MODEL = "gemma3-270m"
ROUND = f"results/finetune/two-digit-addition/{MODEL}/tiny/{{strategy}}/b4-m1/seed0/round1"


def gemma_grid(gemma_dir) -> dict:
    """Each family's tiny grid with Gemma as its only model (prepared once by the session fixture)."""
    return {
        "models": {MODEL: {"source": {"type": "local", "path": str(gemma_dir)}}},
        "tasks": {"two-digit-addition": {"splits": {"pool": {"size": 8}, "eval": {"size": 4}, "fewshot": {"size": 2}}},
                  "sst2": {"splits": {"pool": {"limit": 24}}}},
        "finetune": {"models": [MODEL], "strategies": ["random", "entropy"], "budgets": [4], "rounds": [1],
                     "seeds": [0]},
        "icl": {"tasks": ["sst2", "two-digit-addition"], "models": [MODEL], "strategies": ["random", "similarity"],
                "shots": [2], "seeds": [0], "eval_limit": 4, "max_new_tokens": 8},
        "safety": {"models": [MODEL], "adapters": ["base"], "judges": ["refusal"], "n_prompts": 3,
                   "max_new_tokens": 12, "batch_size": 3, "reference": {"model": MODEL, "adapter": "base"}},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory, gemma_dir):
    require_data()
    wd = workdir(tmp_path_factory.mktemp("gemma"))
    grid = wd / "gemma.yaml"
    grid.write_text(yaml.safe_dump(gemma_grid(gemma_dir)))
    configs = (DEFAULT_GRID, TINY, grid)
    plan = planned_jobs(snakemake(wd, "-n", "all", "safety", configfiles=configs))
    snakemake(wd, "-c2", "all", "safety", configfiles=configs)
    return wd, plan


def test_every_family_plans_and_builds_on_gemma(built):
    wd, plan = built
    assert plan["prepare_model"] == 1 and plan["train_adapter"] == 2 and plan["icl_predict"] == 4
    assert any(rule.startswith("safety_respond") for rule in plan) and any(r.startswith("safety_judge") for r in plan)
    final = pd.read_csv(wd / "results/final_metrics.csv")
    assert set(final["model"]) == {MODEL}
    assert set(final["family"]) >= {"finetune", "icl"}  # standalone safety runs are in results/safety_summary.csv


def test_finetune_rounds_train_and_evaluate_on_gemma(built):
    wd, _ = built
    for strategy in ("random", "entropy"):
        run = wd / ROUND.format(strategy=strategy)
        adapter = read_json(run / "adapter/adapter_config.json")
        assert adapter["peft_type"] == "LORA"
        metrics = read_json(run / "metrics/two-digit-addition.json")
        assert metrics["n_total"] == 4 and 0.0 <= metrics["accuracy"] <= 1.0
        assert metrics["n_correct"] <= metrics["n_total"] - metrics["n_unparsed"]  # an unparsed answer never counts
        assert len(read_json(run / "selected.json")["ids"]) == 4
        preds = read_jsonl(run / "predictions/two-digit-addition.jsonl")
        assert len(preds) == 4 and not any(p["correct"] and p["pred"] is None for p in preds)


def test_icl_cells_score_every_eval_row_on_gemma(built):
    wd, _ = built
    summary = pd.read_csv(wd / "results/icl_summary.csv")
    assert set(summary["task"]) == {"sst2", "two-digit-addition"} and set(summary["model"]) == {MODEL}
    assert (summary["n_items"] == 4).all()
    sst2 = read_json(wd / f"results/icl/sst2/{MODEL}/random/k2/seed0/metrics.json")
    assert sst2["n_total"] == 4 and sst2["n_unparsed"] == 0 and 0.0 <= sst2["accuracy"] <= 1.0
    # the loglik path: every prediction is the label option of least NLL
    preds = read_jsonl(wd / f"results/icl/sst2/{MODEL}/random/k2/seed0/predictions.jsonl")
    assert len(preds) == 4 and all(p["pred"] == min(p["nll"], key=p["nll"].get) for p in preds)


def test_safety_rates_count_every_prompt_on_gemma(built):
    wd, _ = built
    base = read_json(wd / f"results/safety/{MODEL}/base/metrics.json")
    assert base["n_prompts"] == 3 == base["n_valid"] + base["n_invalid"] + base["n_empty"]
    assert base["safety_rate"] == base["n_safe"] / 3
    responses = read_jsonl(wd / f"results/safety/{MODEL}/base/responses.jsonl")
    assert len(responses) == 3
    summary = pd.read_csv(wd / "results/safety_summary.csv")
    assert MODEL in set(summary["model"])
