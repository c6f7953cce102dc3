rule aggregate:
    input:
        finetune_metric_files(config),
        icl_metric_files(config),
        ads_metric_files(config),
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
    script:
        "../scripts/aggregate.py"
