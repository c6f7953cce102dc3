from algrid.finetune.grid import (
    adapter_eval_metric_files,
    check_finetune_extras,
    expectations,
    judge_validation_files,
    safety_pairs,
)

try:  # seed 003's keys: thresholds per known preset, adapters to evaluate, strategy 'all' on the whole pool
    check_finetune_extras(config)
except AlgridError as err:
    sys.exit(f"algrid: {err}")


rule aggregate:
    input:
        metrics=finetune_metric_files(config)
        + adapter_eval_metric_files(config)
        + icl_metric_files(config)
        + ads_metric_files(config),
        safety=sorted(set(safety_pairs(config).values())),
        judges=judge_validation_files(config),  # each judge's agreement with human labels, beside the rate
        eval_splits=sorted(set(expectations(config)["eval_files"].values())),
        lm_eval=lm_eval_tasks.result_files(config),  # lm-eval's results of every run (finetune.lm_eval)
    output:
        csv="results/final_metrics.csv",
        json="results/final_metrics.json",
        summary=report(
            "results/summary.csv",
            caption="../resources/report/summary.rst",
            category="Metrics",
            labels={"table": "per cell, over seeds"},
        ),
    log:
        "results/logs/aggregate.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("aggregate"),
        safety=safety_pairs(config),
        expect=expectations(config),
        lm_eval=lm_eval_tasks.result_identities(config),
        lm_eval_metrics=lm_eval_tasks.settings(config)["metrics"],
    script:
        "../scripts/aggregate.py"
