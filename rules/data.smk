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
        code=code_version("prepare_model"),
        source=lambda w: config["models"][w.model]["source"],
        dtype=lambda w: config["models"][w.model].get("dtype", "float32"),
    script:
        "../scripts/prepare_model.py"


rule prepare_dataset:
    input:
        unpack(lambda w: split_inputs(w, config)),
    output:
        "results/data/{task}/{split}.jsonl",
    log:
        "results/logs/prepare_dataset/{task}/{split}.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("prepare_dataset"),
        spec=lambda w: split_source(config["tasks"][w.task], w.split)[1],
        first=lambda w: split_source(config["tasks"][w.task], w.split)[2],
        key=lambda w: f"tasks.{w.task}.{splits_key(config['tasks'][w.task], config.get('data_source', 'local'))}."
        f"{split_source(config['tasks'][w.task], w.split)[0]}",
        data_root=data_root(config),
    script:
        "../scripts/prepare_dataset.py"


rule prepare_prompt:  # data_source hub: a task's hf_prompt_file (URL), fetched through datasets
    output:
        "results/data/{task}/prompt.txt",
    log:
        "results/logs/prepare_prompt/{task}.log",
    benchmark:
        "results/benchmarks/prepare_prompt/{task}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("prepare_prompt"),
        source=lambda w: config["tasks"][w.task]["prompt_file"],
    script:
        "../scripts/prepare_prompt.py"
