from algrid.ads import loop
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: loop.run_iteration(dict(sm.input.items()), dict(sm.output.items()), task=sm.params.task,
                               models_spec=sm.params.models, settings=sm.params.settings, seed=sm.params.seed,
                               iteration=sm.params.iteration, run=sm.params.run),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
