from algrid import shards
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: shards.merge_scores(list(sm.input), sm.output[0]), log_file=sm.log[0], uses_torch=False)
