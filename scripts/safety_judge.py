from algrid.runner import run
from algrid.safety import first, judging

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: judging.judge_file(first(sm.input.responses), sm.output[0], judge=sm.wildcards.judge, spec=sm.params.spec,
                               model_ref=sm.params.model_ref, guidelines=first(sm.input.get("guidelines")),
                               load=sm.params.load),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
