from algrid.runner import run
from algrid.safety import report

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: report.plot_validation(sm.input[0], sm.output[0]), log_file=sm.log[0], uses_torch=False)
