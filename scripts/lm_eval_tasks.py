from algrid.finetune import lm_eval_run
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: lm_eval_run.evaluate(sm.input.model, sm.input.get("adapter"), sm.output[0], sm.params.lm_eval,
                                 sm.params.model), log_file=sm.log[0], threads=sm.threads,
    gpus=sm.resources.get("gpu", 0))
