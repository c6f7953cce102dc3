from algrid.finetune import stopping
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: stopping.stopping_table(sm.params.cells, sm.output[0], params=sm.params.thresholds), log_file=sm.log[0],
    uses_torch=False)
