rule plot_learning_curve:
    input:
        rules.aggregate.output.csv,
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
    script:
        "../scripts/plot_learning_curve.py"
