from algrid.finetune import features
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: features.train_warmup(sm.input.model, sm.input.pool, sm.output.adapter, family=sm.params.family,
                                  prompt=sm.params.prompt, model_spec=sm.params.model, preset=sm.params.preset,
                                  params=sm.params.less["warmup"], preset_name=sm.wildcards.preset),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
