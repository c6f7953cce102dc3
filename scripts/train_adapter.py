from algrid import train
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: train.train_round(sm.input.model, sm.input.pool, sm.input.selected, sm.output.adapter,
                              init_adapter=sm.input.get("init_adapter"), family=sm.params.family,
                              prompt=sm.params.prompt, model_spec=sm.params.model, preset=sm.params.preset,
                              seed=sm.params.seed, checkpoints=list(sm.output.get("checkpoints", [])),
                              checkpoint_key=f"presets.{sm.wildcards.preset}.max_checkpoints"),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
