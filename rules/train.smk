# A preset with checkpoint_sweep (seed 003's medium: at most 3) also saves its adapter at evenly spaced steps as
# declared outputs ({ROUND}/checkpoints/ckpt{i}/adapter): one rule per checkpoint count, presets split by constraint.
from algrid.finetune.grid import plain_presets, preset_pattern, sweep_groups

TRAIN_RESOURCES = {"gpu": 1, "mem_mb": 16000, "runtime": 720}


if plain_presets(config):

    rule train_adapter:
        input:
            unpack(lambda w: train_inputs(w, config)),
        output:
            adapter=directory(f"{ROUND}/adapter"),
        log:
            f"{ROUND}/logs/train_adapter.log",
        benchmark:
            f"{ROUND}/benchmarks/train_adapter.tsv"
        wildcard_constraints:
            preset=preset_pattern(plain_presets(config)),
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **TRAIN_RESOURCES,
        params:
            code=code_version("train_adapter"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            preset=lambda w: train_params(config, w.preset),
            seed=round_seed,
        script:
            "../scripts/train_adapter.py"


for n_checkpoints, sweep_presets in sweep_groups(config).items():

    rule:
        name:
            f"train_adapter_sweep{n_checkpoints}"
        input:
            unpack(lambda w: train_inputs(w, config)),
        output:
            adapter=directory(f"{ROUND}/adapter"),
            checkpoints=[directory(f"{ROUND}/checkpoints/ckpt{i}/adapter") for i in range(1, n_checkpoints + 1)],
        log:
            f"{ROUND}/logs/train_adapter.log",
        benchmark:
            f"{ROUND}/benchmarks/train_adapter.tsv"
        wildcard_constraints:
            preset=preset_pattern(sweep_presets),
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **TRAIN_RESOURCES,
        params:
            code=code_version("train_adapter"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            preset=lambda w: train_params(config, w.preset),
            seed=round_seed,
        script:
            "../scripts/train_adapter.py"
