from algrid import selection
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: selection.select_round(dict(sm.input), sm.output[0], strategy=sm.wildcards.strategy, k=sm.params.k,
                                   seed=sm.params.seed, params=sm.params.strategy_params,
                                   round_=int(sm.wildcards.round), cold_start=sm.params.cold_start),
    log_file=sm.log[0], uses_torch=False)
