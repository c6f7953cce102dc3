from algrid.finetune import savings
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: savings.write_savings(sm.input.metrics, sm.input.cells, sm.output.csv, sm.output.plot),
    log_file=sm.log[0], uses_torch=False)
