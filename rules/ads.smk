# The ads family (seed 004, active data search): per task x policy x optimizer x seed, iterations of proposed
# API trajectories (iteration i reads i-1), the best trajectory's data used in context and to train a LoRA
# adapter, test evaluation against the no-data, random and BM25 demonstration baselines, summary and verdict.
from algrid.ads import grid as ads_grid

try:
    ads_grid.check_ads_config(config)
except AlgridError as err:
    sys.exit(f"algrid: {err}")


wildcard_constraints:
    optimizer=SLUG,
    iter=r"\d+",
    mode="icl|lora",
    method="none|random|bm25",


rule ads_corpus:
    input:
        lambda w: local_files(config["ads"]["corpus"], data_root(config)),
    output:
        "results/ads/corpus.jsonl",
    log:
        "results/logs/ads_corpus.log",
    benchmark:
        "results/benchmarks/ads_corpus.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("ads_corpus"),
        spec=config["ads"]["corpus"],
        data_root=data_root(config),
    script:
        "../scripts/ads_corpus.py"


rule ads_iteration:
    input:
        unpack(lambda w: ads_grid.iteration_inputs(w, config)),
    output:
        trajectories=f"{ads_grid.ADS_ITER}/trajectories.jsonl",
        api_calls=f"{ads_grid.ADS_ITER}/api_calls.jsonl",
        collected=f"{ads_grid.ADS_ITER}/collected.jsonl",
        scores=f"{ads_grid.ADS_ITER}/scores.json",
    log:
        f"{ads_grid.ADS_ITER}/logs/iteration.log",
    benchmark:
        f"{ads_grid.ADS_ITER}/benchmarks/iteration.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=120,
    params:
        code=code_version("ads_iteration"),
        task=lambda w: ads_grid.task_params(config, w.task),
        models=lambda w: {
            "policy": ads_grid.model_params(config, w.model),
            "optimizer": ads_grid.model_params(config, w.optimizer),
        },
        settings=ads_grid.loop_settings(config),
        seed=lambda w: int(w.seed),
        iteration=lambda w: int(w.iter),
        run=lambda w: f"{w.task}/{w.model}/{w.optimizer}/seed{w.seed}",
    script:
        "../scripts/ads_iteration.py"


rule ads_train_adapter:
    input:
        model="results/models/{model}",
        pool="results/data/{task}/pool.jsonl",
        scores=lambda w: f"{ads_grid.last_iteration(w, config)}/scores.json",
        collected=lambda w: f"{ads_grid.last_iteration(w, config)}/collected.jsonl",
    output:
        directory(f"{ads_grid.ADS}/adapter"),
    log:
        f"{ads_grid.ADS}/logs/train_adapter.log",
    benchmark:
        f"{ads_grid.ADS}/benchmarks/train_adapter.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=120,
    params:
        code=code_version("ads_train_adapter"),
        task=lambda w: ads_grid.task_params(config, w.task),
        preset=lambda w: train_params(config, config["ads"]["preset"]),
        model=lambda w: ads_grid.model_params(config, w.model),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/ads_train_adapter.py"


rule ads_evaluate:
    input:
        unpack(lambda w: ads_grid.evaluate_inputs(w, config)),
    output:
        predictions=f"{ads_grid.ADS}/eval/{{mode}}/predictions.jsonl",
        metrics=f"{ads_grid.ADS}/eval/{{mode}}/metrics.json",
    log:
        f"{ads_grid.ADS}/logs/evaluate.{{mode}}.log",
    benchmark:
        f"{ads_grid.ADS}/benchmarks/evaluate.{{mode}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=60,
    params:
        code=code_version("ads_evaluate"),
        method=lambda w: ads_grid.MODE_STRATEGY[w.mode],
        task=lambda w: ads_grid.task_params(config, w.task),
        model=lambda w: ads_grid.model_params(config, w.model),
        judge=lambda w: ads_grid.judge_params(config, w.task),
        settings=ads_grid.eval_settings(config),
        identity=lambda w: ads_grid.identity(w, ads_grid.MODE_STRATEGY[w.mode]),
    script:
        "../scripts/ads_evaluate.py"


use rule ads_evaluate as ads_baseline with:
    input:
        unpack(lambda w: ads_grid.baseline_inputs(w, config)),
    output:
        predictions=f"{ads_grid.ADS_BASELINE}/predictions.jsonl",
        metrics=f"{ads_grid.ADS_BASELINE}/metrics.json",
    log:
        f"{ads_grid.ADS_BASELINE}/logs/evaluate.log",
    benchmark:
        f"{ads_grid.ADS_BASELINE}/benchmarks/evaluate.tsv"
    params:
        code=code_version("ads_evaluate"),
        method=lambda w: w.method,
        task=lambda w: ads_grid.task_params(config, w.task),
        model=lambda w: ads_grid.model_params(config, w.model),
        judge=lambda w: ads_grid.judge_params(config, w.task),
        settings=ads_grid.eval_settings(config),
        identity=lambda w: ads_grid.identity(w, w.method),


rule ads_summary:
    input:
        ads_grid.ads_metric_files(config),
    output:
        summary=report(
            "results/ads/summary.csv",
            caption="../resources/report/ads_summary.rst",
            category="Active data search",
            labels={"table": "ads summary"},
        ),
        verdicts=report(
            "results/ads/verdicts.csv",
            caption="../resources/report/ads_verdicts.rst",
            category="Active data search",
            labels={"table": "ads verdicts"},
        ),
    log:
        "results/logs/ads_summary.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("ads_summary"),
        tie_margin=config["ads"]["tie_margin"],
    script:
        "../scripts/ads_summary.py"


rule plot_ads:
    input:
        rules.ads_summary.output.summary,
    output:
        report(
            "results/plots/ads_score_vs_cost.png",
            caption="../resources/report/ads_score_vs_cost.rst",
            category="Active data search",
            labels={"figure": "ads score vs cost"},
        ),
    log:
        "results/logs/plot_ads.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("plot_ads"),
    script:
        "../scripts/plot_ads.py"


rule ads:
    input:
        ads_grid.ads_iteration_files(config),
        ads_grid.ads_metric_files(config),
        "results/ads/summary.csv",
        "results/ads/verdicts.csv",
        "results/plots/ads_score_vs_cost.png",
