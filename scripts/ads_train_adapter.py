from algrid.ads import evaluate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: evaluate.train(sm.input.model, sm.input.scores, sm.input.collected, sm.input.pool, sm.output[0],
                           task=sm.params.task, preset=sm.params.preset, model_spec=sm.params.model,
                           seed=sm.params.seed), log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
