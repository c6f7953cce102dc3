from algrid.runner import run
from algrid.safety import first, respond

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: respond.respond_file(sm.input.model, sm.input.prompts, sm.output[0], model=sm.params.model,
                                 adapter=first(sm.input.get("adapter")), **sm.params.generation),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
