from algrid.ads import evaluate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: evaluate.evaluate(dict(sm.input.items()), sm.output.predictions, sm.output.metrics,
                              method=sm.params.method, task=sm.params.task, model_spec=sm.params.model,
                              settings=sm.params.settings, identity=sm.params.identity, judge_spec=sm.params.judge),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
