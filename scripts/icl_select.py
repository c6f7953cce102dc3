from algrid.icl import demos
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: demos.select_demos(dict(sm.input), sm.output[0], strategy=sm.params.strategy, k=sm.params.k,
                               seed=sm.params.seed, params=sm.params.strategy_params, eval_limit=sm.params.eval_limit,
                               predict=sm.params.predict, pool_sample=sm.params.pool_sample),
    log_file=sm.log[0], threads=sm.threads, uses_torch=sm.params.predict is not None, gpus=sm.resources.get("gpu", 0))
