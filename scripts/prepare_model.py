from algrid import models
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: models.prepare_model(sm.params.source, sm.output[0], key=f"models.{sm.wildcards.model}.source",
                                 dtype=sm.params.dtype), log_file=sm.log[0], threads=sm.threads)
