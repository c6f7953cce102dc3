"""Seed 003's pipeline end to end on a tiny grid: SmolLM2-135M in 4-bit NF4 (bitsandbytes' CPU backend), LoRA on
4 GSM8K rows (strategy all) with a 2-checkpoint sweep, a seeded half of 4 test rows, 2 AILuminate prompts judged
by the refusal detector, an existing adapter evaluated without training; then a denominator mismatch and a
missing adapter, each one line."""

import json

import pandas as pd
import pytest
import yaml
from conftest import snakemake, workdir

pytestmark = pytest.mark.workflow

TARGETS = ("results/final_metrics.csv",
           "results/finetune/gsm8k/smol-nf4/qlora-ci/all/b4-m1/seed0/round1/checkpoint_scores.csv")
ROUND = "results/finetune/gsm8k/smol-nf4/qlora-ci/all/b4-m1/seed0/round1"


def tiny_config(model_dir, adapter_dir) -> dict:
    return {
        "models": {"smol-nf4": {"source": {"type": "local", "path": str(model_dir)}, "quantization": "nf4"}},
        "tasks": {"gsm8k": {"splits": {"pool": {"limit": 4, "sample": "first"},
                                       "eval": {"limit": 4, "sample": "first"}}}},
        "finetune": {"tasks": ["gsm8k"], "eval_tasks": ["gsm8k"], "models": ["smol-nf4"], "presets": ["qlora-ci"],
                     "strategies": ["all"], "budgets": [4], "rounds": [1], "seeds": [0], "safety": True,
                     "adapters": {"peft-ci": "qlora-ci"}},
        "adapters": {"peft-ci": {"source": str(adapter_dir), "model": "smol-nf4"}},
        "presets": {"qlora-ci": {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "lr": 1.0e-3, "epochs": 1,
                                 "batch_size": 2, "max_length": 384, "target_modules": ["q_proj", "v_proj"],
                                 "fewshot_k": 1, "max_new_tokens": 24, "eval_batch_size": 2,
                                 "eval_fraction": 0.5, "eval_seed": 42,
                                 "checkpoint_sweep": True, "max_checkpoints": 2}},
        "thresholds": {"qlora-ci": {"accuracy": 0.26, "safety": 0.26}},
        "safety": {"judges": ["refusal"], "n_prompts": 2, "max_new_tokens": 12, "batch_size": 2},
        "threads": {"model": 1},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("qlora")
    adapter_dir = root / "existing-adapter"  # an adapter made elsewhere: PEFT's own save format
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(adapter_dir)
    config = root / "qlora_ci.yaml"
    config.write_text(yaml.safe_dump(tiny_config(model_dir, adapter_dir)))
    wd = workdir(root / "wd")
    snakemake(wd, "-c2", *TARGETS, configfiles=(config,))
    return wd, config


def test_final_metrics_carry_accuracy_safety_denominators_and_verdicts(built):
    wd, _ = built
    rows = {r["strategy"]: r for r in json.loads((wd / "results/final_metrics.json").read_text())}
    assert set(rows) == {"base", "all", "adapter"}
    for row in rows.values():
        assert row["n_total"] == row["n_expected"] == 2  # half of the 4 eval rows, seed 42
        assert row["safety_n_prompts"] == row["safety_n_expected"] == 2
        assert row["safety_n_valid"] + row["safety_n_invalid"] + row["safety_n_empty"] == 2
        assert row["safety_ci_low"] <= row["safety_rate"] <= row["safety_ci_high"]
        enough = row["safety_n_valid"] / 2 >= 0.95  # safety.min_valid's default
        assert row["passed"] == (enough and row["accuracy"] >= 0.26 and row["safety_rate"] >= 0.26)
        assert enough or row["verdict"].startswith("insufficient valid verdicts")
        assert row["verdict"]
        # the judge behind the rate, validated on PyRIT's human labels in the same grid, beside it
        validation = json.loads((wd / "results/judges/refusal/validation.json").read_text())["sets"]["objective"]
        assert row["judge_refusal_accuracy"] == validation["accuracy"]["value"] is not None
        assert row["judge_refusal_n"] == validation["n"] > 0 and row["judge_refusal_kappa"] is not None
    assert rows["adapter"]["adapter"] == "peft-ci" and rows["adapter"]["model"] == "smol-nf4"
    assert rows["adapter"]["safety_source"] == "results/safety/smol-nf4/peft-ci/metrics.json"
    predicted = [json.loads(line)["id"] for line in (wd / ROUND / "predictions/gsm8k.jsonl").read_text().splitlines()]
    base = [json.loads(line)["id"] for line in
            (wd / "results/base/smol-nf4/qlora-ci/predictions/gsm8k.jsonl").read_text().splitlines()]
    assert len(predicted) == 2 and predicted == base  # the same seeded rows for every run


def test_qlora_trains_in_nf4_with_declared_checkpoints(built):
    wd, _ = built
    record = json.loads((wd / ROUND / "adapter/resolved.json").read_text())
    assert record["params"]["quantization"] == "nf4" and record["n_examples"] == 4
    assert record["versions"]["bitsandbytes"] == "0.50.2"
    steps = [json.loads((wd / ROUND / f"checkpoints/ckpt{i}/adapter/checkpoint.json").read_text())["step"]
             for i in (1, 2)]
    assert steps == [1, 2]
    table = pd.read_csv(wd / ROUND / "checkpoint_scores.csv")
    assert list(table["checkpoint"]) == [1, 2] and table["best"].sum() == 1
    assert (table["n_total"] == 2).all()
    best = table.sort_values(["accuracy", "checkpoint"], ascending=[False, True]).iloc[0]["checkpoint"]
    assert table.loc[table["best"], "checkpoint"].item() == best


def test_a_denominator_mismatch_is_one_line_naming_the_run(built):
    wd, config = built
    path = wd / ROUND / "metrics/gsm8k.json"
    metrics = json.loads(path.read_text())
    original = path.read_text()
    try:
        path.write_text(json.dumps({**metrics, "n_total": 1, "item_ids": metrics["item_ids"][:1],
                                    "item_correct": metrics["item_correct"][:1]}))
        proc = snakemake(wd, "-c1", "results/final_metrics.csv", configfiles=(config,), check=False)
        assert proc.returncode != 0
        lines = [line for line in proc.stderr.splitlines() if line.startswith("algrid:")]
        assert len(lines) == 1 and f"run {ROUND}: gsm8k accuracy denominator (n_total) is 1 but the config " \
            "implies 2 (presets.qlora-ci.eval_fraction = 0.5 of the 4 rows of results/data/gsm8k/eval.jsonl)" in lines[0]
    finally:
        path.write_text(original)


def test_a_missing_adapter_is_one_line(built, tmp_path):
    wd, config = built
    spec = yaml.safe_load(config.read_text())
    spec["adapters"]["peft-gone"] = {"source": str(tmp_path / "gone"), "model": "smol-nf4"}
    changed = tmp_path / "gone.yaml"
    changed.write_text(yaml.safe_dump(spec))
    proc = snakemake(wd, "-c1", "results/adapters/peft-gone", configfiles=(changed,), check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("algrid:")]
    assert lines == [f"algrid: config key 'adapters.peft-gone.source': adapter directory '{tmp_path / 'gone'}' "
                     "does not exist"]
