# The icl family (seed 000, "ActiveLLM"): per task x model x strategy x shots x seed, choose demonstrations from
# the task's pool, predict the eval split with them in the prompt (no training), score. Pool scores
# (score_pool_base) and embeddings (embed_pool, embed_split) are the shared files the finetune family uses too.


rule icl_select:
    input:
        unpack(lambda w: icl_select_inputs(w, config)),
    output:
        f"{ICL}/demos.json",
    log:
        f"{ICL}/logs/select.log",
    benchmark:
        f"{ICL}/benchmarks/select.tsv"
    conda:
        "../envs/model.yaml"  # mdl, votek and set_search call the model
    threads: config["threads"]["model"]
    resources:
        gpu=lambda w: int("model" in strategy_needs(w.strategy)),
    params:
        code=code_version("icl_select"),
        strategy=lambda w: w.strategy,
        k=lambda w: int(w.shots),
        seed=lambda w: int(w.seed),
        strategy_params=lambda w: config["strategies"].get(w.strategy, {}),
        eval_limit=(config.get("icl") or {}).get("eval_limit"),
        pool_sample=(config.get("icl") or {}).get("pool_sample"),
        predict=lambda w: icl_select_predict(w, config),
    script:
        "../scripts/icl_select.py"


rule icl_predict:
    input:
        model="results/models/{model}",
        pool="results/data/{task}/pool.jsonl",
        eval="results/data/{task}/eval.jsonl",
        demos=f"{ICL}/demos.json",
    output:
        f"{ICL}/predictions.jsonl",
    log:
        f"{ICL}/logs/predict.log",
    benchmark:
        f"{ICL}/benchmarks/predict.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
    params:
        code=code_version("icl_predict"),
        predict=lambda w: icl_predict_params(w, config),
    script:
        "../scripts/icl_predict.py"


rule icl_judge:
    input:
        model=lambda w: f"results/models/{icl_judge(w, config)}",
        eval="results/data/{task}/eval.jsonl",
        predictions=f"{ICL}/predictions.jsonl",
    output:
        f"{ICL}/judgments.jsonl",
    log:
        f"{ICL}/logs/judge.log",
    benchmark:
        f"{ICL}/benchmarks/judge.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
    params:
        code=code_version("icl_judge"),
        judge=lambda w: {
            "family": config["tasks"][w.task]["family"],
            "prompt": config["tasks"][w.task].get("prompt", {}),
            "model": model_load(config, icl_judge(w, config)),
            "max_new_tokens": 8,
            "batch_size": config["icl"]["batch_size"],
        },
    script:
        "../scripts/icl_judge.py"


rule icl_score:
    input:
        unpack(lambda w: icl_score_inputs(w, config)),
    output:
        f"{ICL}/metrics.json",
    log:
        f"{ICL}/logs/score.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("icl_score"),
        metric=lambda w: config["tasks"][w.task]["metric"],
        identity=icl_identity,
        judge=lambda w: icl_judge(w, config),
    script:
        "../scripts/icl_score.py"


rule icl_summary:
    input:
        icl_metric_files(config),
    output:
        report(
            "results/icl_summary.csv",
            caption="../resources/report/icl_summary.rst",
            category="In-context learning",
            labels={"table": "icl summary"},
        ),
    log:
        "results/logs/icl_summary.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("icl_summary"),
    script:
        "../scripts/icl_summary.py"


use rule icl_summary as icl_category_summary with:
    input:
        lambda w: icl_category_files(w.category),
    output:
        "results/icl_summary/{category}.csv",
    log:
        "results/logs/icl_summary/{category}.log",
    wildcard_constraints:
        category="|".join([*ICL_CATEGORIES, ICL_ALL]),


rule plot_icl:
    input:
        "results/icl_summary.csv",
    output:
        report(
            "results/plots/icl_accuracy.png",
            caption="../resources/report/icl_accuracy.rst",
            category="In-context learning",
            labels={"figure": "icl accuracy"},
        ),
    log:
        "results/logs/plot_icl.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("plot_icl"),
    script:
        "../scripts/plot_icl.py"


use rule plot_icl as plot_icl_category with:
    input:
        "results/icl_summary/{category}.csv",
    output:
        report(
            "results/plots/icl/{category}.png",
            caption="../resources/report/icl_accuracy.rst",
            category="In-context learning",
            labels={"figure": "icl accuracy: {category}"},
        ),
    log:
        "results/logs/plot_icl/{category}.log",
    wildcard_constraints:
        category="|".join([*ICL_CATEGORIES, ICL_ALL]),


# Targets: seed 000's batch scripts (one per task category), over icl.models x strategies x shots x seeds.


rule icl:
    input:
        icl_metric_files(config),
        "results/icl_summary.csv",
        "results/plots/icl_accuracy.png",


rule classification:
    input:
        lambda w: icl_category_files("classification"),
        "results/icl_summary/classification.csv",
        "results/plots/icl/classification.png",


rule multichoice:
    input:
        lambda w: icl_category_files("multichoice"),
        "results/icl_summary/multichoice.csv",
        "results/plots/icl/multichoice.png",


rule commonsense:
    input:
        lambda w: icl_category_files("commonsense"),
        "results/icl_summary/commonsense.csv",
        "results/plots/icl/commonsense.png",


rule math:
    input:
        lambda w: icl_category_files("math"),
        "results/icl_summary/math.csv",
        "results/plots/icl/math.png",


rule instruction:
    input:
        lambda w: icl_category_files("instruction"),
        "results/icl_summary/instruction.csv",
        "results/plots/icl/instruction.png",


rule all_tasks:
    input:
        lambda w: icl_category_files(ICL_ALL),
        "results/icl_summary/all_tasks.csv",
        "results/plots/icl/all_tasks.png",
