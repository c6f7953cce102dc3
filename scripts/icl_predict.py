from algrid.icl import predict
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: predict.predict_file(sm.input.model, sm.input.pool, sm.input.eval, sm.input.demos, sm.output[0],
                                **sm.params.predict), log_file=sm.log[0], threads=sm.threads,
    gpus=sm.resources.get("gpu", 0))
