from algrid.icl import summary
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: summary.plot_summary(sm.input[0], sm.output[0]), log_file=sm.log[0], uses_torch=False)
