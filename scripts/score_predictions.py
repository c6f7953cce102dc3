from algrid import evaluate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: evaluate.score_file(sm.input[0], sm.output[0], metric=sm.params.metric, identity=sm.params.identity),
    log_file=sm.log[0], uses_torch=False)
