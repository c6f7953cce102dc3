rule score_pool_base:
    input:
        model="results/models/{model}",
        pool="results/data/{task}/pool.jsonl",
        fewshot="results/data/{task}/fewshot.jsonl",
    output:
        "results/scores/{task}/{model}/base.parquet",
    log:
        "results/logs/score_pool/{task}/{model}/base.log",
    benchmark:
        "results/benchmarks/score_pool/{task}/{model}/base.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
    params:
        code=code_version("score_pool"),
        family=lambda w: config["tasks"][w.task]["family"],
        prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
        model=lambda w: model_load(config, w.model),
        scoring=config["scoring"],
    script:
        "../scripts/score_pool.py"


use rule score_pool_base as score_pool_round with:
    input:
        model="results/models/{model}",
        pool="results/data/{task}/pool.jsonl",
        fewshot="results/data/{task}/fewshot.jsonl",
        adapter=lambda w: f"{FT}/round{{prev}}/adapter".format(**w, prev=int(w.round) - 1),
    output:
        f"{ROUND}/scores.parquet",
    log:
        f"{ROUND}/logs/score_pool.log",
    benchmark:
        f"{ROUND}/benchmarks/score_pool.tsv"
