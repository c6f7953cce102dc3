from algrid import aggregate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: aggregate.aggregate(list(sm.input.metrics), sm.output.csv, sm.output.json, sm.output.summary,
                                safety=sm.params.safety, expect=sm.params.expect,
                                judge_validation=list(sm.input.judges), lm_eval=sm.params.lm_eval,
                                lm_eval_metrics=sm.params.lm_eval_metrics), log_file=sm.log[0],
    uses_torch=False)
