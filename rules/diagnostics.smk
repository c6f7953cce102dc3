rule diagnose_selection:
    input:
        selected=f"{ROUND}/selected.json",
        pool="results/data/{task}/pool.jsonl",
        embeddings=lambda w: f"results/embeddings/{w.task}/{config['finetune']['embedder']}.npy",
    output:
        f"{ROUND}/diagnostics.json",
    log:
        f"{ROUND}/logs/diagnose_selection.log",
    conda:
        "../envs/select.yaml"
    params:
        code=code_version("diagnose_selection"),
        identity=lambda w: cell_identity(w),
    script:
        "../scripts/diagnose_selection.py"


rule selection_diagnostics:
    input:
        finetune_round_files(config, "diagnostics.json"),
    output:
        report(
            "results/selection_diagnostics.csv",
            caption="../resources/report/selection_diagnostics.rst",
            category="Selection",
            labels={"table": "selection diagnostics"},
        ),
    log:
        "results/logs/selection_diagnostics.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("selection_table"),
    script:
        "../scripts/selection_table.py"


rule plot_selection:
    input:
        diagnostics=rules.selection_diagnostics.output[0],
        summary=rules.aggregate.output.summary,
    output:
        report(
            "results/plots/selection_vs_rounds.png",
            caption="../resources/report/selection_vs_rounds.rst",
            category="Selection",
            labels={"figure": "diversity and accuracy vs rounds"},
        ),
    log:
        "results/logs/plot_selection.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("plot_selection"),
    script:
        "../scripts/plot_selection.py"


rule stopping_criteria:
    input:
        stopping_files(config),
    output:
        report(
            "results/stopping_criteria.csv",
            caption="../resources/report/stopping_criteria.rst",
            category="Selection",
            labels={"table": "stopping criteria per round"},
        ),
    log:
        "results/logs/stopping_criteria.log",
    benchmark:
        "results/benchmarks/stopping_criteria.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("stopping_table"),
        cells=stopping_cells(config),
        thresholds=config["finetune"].get("stopping", {}),
    script:
        "../scripts/stopping_table.py"
