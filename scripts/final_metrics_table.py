from algrid import compute
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: compute.csv_to_html(sm.input[0], sm.output[0], "final_metrics.csv"), log_file=sm.log[0],
    uses_torch=False)
