from algrid.icl import judge
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: judge.judge_file(sm.input.model, sm.input.eval, sm.input.predictions, sm.output[0], **sm.params.judge),
    log_file=sm.log[0], threads=sm.threads,
    gpus=sm.resources.get("gpu", 0))
