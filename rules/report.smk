rule plot_learning_curve:
    input:
        rules.aggregate.output.summary,
    output:
        report(
            "results/plots/learning_curve.png",
            caption="../resources/report/learning_curve.rst",
            category="Accuracy",
            labels={"figure": "learning curve"},
        ),
    log:
        "results/logs/plot_learning_curve.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("plot_learning_curve"),
    script:
        "../scripts/plot_learning_curve.py"


rule final_metrics_table:
    input:
        rules.aggregate.output.csv,
    output:
        report(
            "results/final_metrics.html",
            caption="../resources/report/final_metrics.rst",
            category="Metrics",
            labels={"table": "final metrics, per run, round and eval task"},
        ),
    log:
        "results/logs/final_metrics_table.log",
    benchmark:
        "results/benchmarks/final_metrics_table.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("final_metrics_table"),
    script:
        "../scripts/final_metrics_table.py"


# --- what the grid cost, from every job's benchmark: file (algrid.compute) -------------------------------------


rule compute_rules:
    input:
        final_metrics=rules.aggregate.output.csv,  # after every job that feeds it (its benchmark file is written)
    output:
        csv="results/compute/rules.csv",
        table=report(
            "results/compute/rules.html",
            caption="../resources/report/compute_rules.rst",
            category="Compute",
            labels={"table": "runtime and memory per rule"},
        ),
        plot=report(
            "results/plots/rule_costs.png",
            caption="../resources/report/compute_rules_plot.rst",
            category="Compute",
            labels={"figure": "runtime and memory per rule"},
        ),
    log:
        "results/logs/compute_rules.log",
    benchmark:
        "results/benchmarks/compute_rules.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("compute_rules"),
    script:
        "../scripts/compute_rules.py"


rule compute_cells:
    input:
        final_metrics=rules.aggregate.output.csv,
        summary=rules.aggregate.output.summary,
    output:
        csv="results/compute/cells.csv",
        table=report(
            "results/compute/cells.html",
            caption="../resources/report/compute_cells.rst",
            category="Compute",
            labels={"table": "compute per cell"},
        ),
        plot=report(
            "results/plots/accuracy_vs_compute.png",
            caption="../resources/report/accuracy_vs_compute.rst",
            category="Compute",
            labels={"figure": "accuracy against compute"},
        ),
    log:
        "results/logs/compute_cells.log",
    benchmark:
        "results/benchmarks/compute_cells.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("compute_cells"),
    script:
        "../scripts/compute_cells.py"


# --- label savings at matched accuracy, from the learning curves and the compute per cell (algrid.finetune.savings)


rule label_savings:
    input:
        metrics=finetune_metric_files(config),  # per-item results: the curves are resampled jointly
        cells=rules.compute_cells.output.csv,
    output:
        csv=report(
            "results/savings.csv",
            caption="../resources/report/savings.rst",
            category="Label savings",
            labels={"table": "labels needed to match random, differences at equal labels and compute"},
        ),
        plot=report(
            "results/plots/label_savings.png",
            caption="../resources/report/savings_plot.rst",
            category="Label savings",
            labels={"figure": "share of random's labels needed"},
        ),
    log:
        "results/logs/label_savings.log",
    benchmark:
        "results/benchmarks/label_savings.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("savings"),
    script:
        "../scripts/savings.py"
