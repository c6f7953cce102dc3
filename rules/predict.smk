def eval_inputs(w):
    return {
        "model": f"results/models/{w.model}",
        "eval": f"results/data/{w.eval_task}/eval.jsonl",
        "fewshot": f"results/data/{w.eval_task}/fewshot.jsonl",
        "prefix": task_files(config, w.eval_task)[-1:] if config["tasks"][w.eval_task].get("prompt_file") else [],
    }


def eval_params(w):
    task, preset = config["tasks"][w.eval_task], config["presets"][w.preset]
    keys = ("fewshot_k", "max_new_tokens", "eval_batch_size")
    return {
        "family": task["family"],
        "metric": task["metric"],
        "prompt": task.get("prompt", {}),
        "model": config["models"][w.model],
        **{k: preset[k] for k in keys},
    }


rule predict_round:
    input:
        unpack(eval_inputs),
        adapter=FT + "/round{round}/adapter",
    output:
        FT + "/round{round}/predictions/{eval_task}.jsonl",
    log:
        FT + "/round{round}/logs/predict.{eval_task}.log",
    benchmark:
        FT + "/round{round}/benchmarks/predict.{eval_task}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
    params:
        eval=eval_params,
    script:
        "../scripts/predict.py"


use rule predict_round as predict_base with:
    input:
        unpack(eval_inputs),
    output:
        "results/base/{model}/{preset}/predictions/{eval_task}.jsonl",
    log:
        "results/base/{model}/{preset}/logs/predict.{eval_task}.log",
    benchmark:
        "results/base/{model}/{preset}/benchmarks/predict.{eval_task}.tsv"


rule score_round:
    input:
        FT + "/round{round}/predictions/{eval_task}.jsonl",
    output:
        FT + "/round{round}/metrics/{eval_task}.json",
    log:
        FT + "/round{round}/logs/score.{eval_task}.log",
    conda:
        "../envs/data.yaml"
    params:
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
