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
