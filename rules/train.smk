rule train_adapter:
    input:
        unpack(lambda w: train_inputs(w, config)),
    output:
        directory(f"{ROUND}/adapter"),
    log:
        f"{ROUND}/logs/train_adapter.log",
    benchmark:
        f"{ROUND}/benchmarks/train_adapter.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        gpu=1,
    params:
        code=code_version("train_adapter"),
        family=lambda w: config["tasks"][w.task]["family"],
        prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
        model=lambda w: model_load(config, w.model),
        preset=lambda w: train_params(config, w.preset),
        seed=round_seed,
    script:
        "../scripts/train_adapter.py"
