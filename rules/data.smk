rule prepare_model:
    output:
        directory("results/models/{model}"),
    log:
        "results/logs/prepare_model/{model}.log",
    benchmark:
        "results/benchmarks/prepare_model/{model}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    params:
        source=lambda w: config["models"][w.model]["source"],
        dtype=lambda w: config["models"][w.model].get("dtype", "float32"),
    script:
        "../scripts/prepare_model.py"


rule prepare_dataset:
    input:
        lambda w: task_files(config, w.task),
    output:
        pool="results/data/{task}/pool.jsonl",
        eval="results/data/{task}/eval.jsonl",
        fewshot="results/data/{task}/fewshot.jsonl",
    log:
        "results/logs/prepare_dataset/{task}.log",
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda w: config["tasks"][w.task],
        data_root=data_root(config),
    script:
        "../scripts/prepare_dataset.py"
