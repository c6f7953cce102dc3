rule aggregate:
    input:
        finetune_metric_files(config),
    output:
        csv="results/final_metrics.csv",
        json="results/final_metrics.json",
    log:
        "results/logs/aggregate.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/aggregate.py"
