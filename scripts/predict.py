from algrid import predict
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: predict.predict_files(sm.input.model, sm.input.suite, sm.params.tasks, list(sm.output), adapter=sm.input.get("adapter"),
                                  model=sm.params.model), log_file=sm.log[0], threads=sm.threads,
    gpus=sm.resources.get("gpu", 0))
