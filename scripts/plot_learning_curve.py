from algrid import plots
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: plots.learning_curve(sm.input[0], sm.output[0]), log_file=sm.log[0], uses_torch=False)
