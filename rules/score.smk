# Pool uncertainty under the base model (round 1) or round i-1's adapter (round i). With scoring.shard_size
# set, each is scored in shards of that many pool rows (one GPU job each) and merged by a CPU job into the
# same file; ruleorder picks which rule makes scores.parquet, so the DAG needs no checkpoint.
if config["scoring"].get("shard_size") is None:

    ruleorder: score_pool_base > merge_scores_base
    ruleorder: score_pool_round > merge_scores_round

else:

    ruleorder: merge_scores_base > score_pool_base
    ruleorder: merge_scores_round > score_pool_round


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
        scoring=scoring_params(config),
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


use rule score_pool_base as score_pool_base_shard with:
    output:
        "results/scores/{task}/{model}/base.shard{shard}.parquet",
    log:
        "results/logs/score_pool/{task}/{model}/base.shard{shard}.log",
    benchmark:
        "results/benchmarks/score_pool/{task}/{model}/base.shard{shard}.tsv"
    params:
        code=code_version("score_pool"),
        family=lambda w: config["tasks"][w.task]["family"],
        prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
        model=lambda w: model_load(config, w.model),
        scoring=scoring_params(config),
        rows=lambda w: score_shards(config, w.task)[int(w.shard)],


use rule score_pool_round as score_pool_round_shard with:
    output:
        f"{ROUND}/scores.shard{{shard}}.parquet",
    log:
        f"{ROUND}/logs/score_pool.shard{{shard}}.log",
    benchmark:
        f"{ROUND}/benchmarks/score_pool.shard{{shard}}.tsv"
    params:
        code=code_version("score_pool"),
        family=lambda w: config["tasks"][w.task]["family"],
        prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
        model=lambda w: model_load(config, w.model),
        scoring=scoring_params(config),
        rows=lambda w: score_shards(config, w.task)[int(w.shard)],


rule merge_scores_base:
    input:
        lambda w: shard_files(config, w.task, f"results/scores/{w.task}/{w.model}/base"),
    output:
        "results/scores/{task}/{model}/base.parquet",
    log:
        "results/logs/score_pool/{task}/{model}/base.merge.log",
    benchmark:
        "results/benchmarks/score_pool/{task}/{model}/base.merge.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("merge_scores"),
    script:
        "../scripts/merge_scores.py"


use rule merge_scores_base as merge_scores_round with:
    input:
        lambda w: shard_files(config, w.task, f"{FT}/round{{round}}/scores".format(**w)),
    output:
        f"{ROUND}/scores.parquet",
    log:
        f"{ROUND}/logs/score_pool.merge.log",
    benchmark:
        f"{ROUND}/benchmarks/score_pool.merge.tsv"
