# One prediction job per adapter (and per base model) evaluates every eval task: one model load, not one per task.
if eval_tasks(config):

    rule predict_round:
        input:
            unpack(lambda w: eval_inputs(w, config)),
            adapter=f"{ROUND}/adapter",
        output:
            [f"{ROUND}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            f"{ROUND}/logs/predict.log",
        benchmark:
            f"{ROUND}/benchmarks/predict.tsv"
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            gpu=1,
        params:
            code=code_version("predict"),
            model=lambda w: model_load(config, w.model),
            tasks=lambda w: eval_params(w, config),
        script:
            "../scripts/predict.py"

    use rule predict_round as predict_base with:
        input:
            unpack(lambda w: eval_inputs(w, config)),
        output:
            [f"results/base/{{model}}/{{preset}}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            "results/base/{model}/{preset}/logs/predict.log",
        benchmark:
            "results/base/{model}/{preset}/benchmarks/predict.tsv"


rule score_round:
    input:
        f"{ROUND}/predictions/{{eval_task}}.jsonl",
    output:
        f"{ROUND}/metrics/{{eval_task}}.json",
    log:
        f"{ROUND}/logs/score.{{eval_task}}.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("score_predictions"),
        metric=lambda w: config["tasks"][w.eval_task]["metric"],
        identity=lambda w: cell_identity(w),
    script:
        "../scripts/score_predictions.py"


use rule score_round as score_base with:
    input:
        "results/base/{model}/{preset}/predictions/{eval_task}.jsonl",
    output:
        "results/base/{model}/{preset}/metrics/{eval_task}.json",
    log:
        "results/base/{model}/{preset}/logs/score.{eval_task}.log",
