from algrid import plots
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: plots.selection_vs_rounds(sm.input.diagnostics, sm.input.summary, sm.output[0]), log_file=sm.log[0],
    uses_torch=False)
