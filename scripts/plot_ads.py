from algrid.ads import verdict
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: verdict.plot_score_vs_cost(sm.input[0], sm.output[0]), log_file=sm.log[0], uses_torch=False)
