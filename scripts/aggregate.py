from algrid import aggregate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: aggregate.aggregate(list(sm.input), sm.output.csv, sm.output.json, sm.output.summary), log_file=sm.log[0], uses_torch=False)
