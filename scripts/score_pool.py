from algrid import scoring
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: scoring.score_file(sm.input.model, sm.input.pool, sm.input.fewshot, sm.output[0],
                               adapter=sm.input.get("adapter"),
                               family=sm.params.family, prompt=sm.params.prompt, model_spec=sm.params.model,
                               rows=sm.params.get("rows"), **sm.params.scoring), log_file=sm.log[0],
    threads=sm.threads, gpus=sm.resources.get("gpu", 0))
