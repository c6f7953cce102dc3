from algrid import selection
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: selection.diagnose_round(sm.input.selected, sm.input.pool, sm.input.embeddings, sm.output[0],
                                     identity=sm.params.identity), log_file=sm.log[0], uses_torch=False)
