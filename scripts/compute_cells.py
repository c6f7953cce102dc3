from pathlib import Path

from algrid import compute
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
results = Path(sm.input.final_metrics).parent
run(lambda: compute.write_cell_compute(results, sm.input.final_metrics, sm.input.summary, sm.output.csv,
                                       sm.output.table, sm.output.plot), log_file=sm.log[0], uses_torch=False)
