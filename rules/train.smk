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
        family=lambda w: config["tasks"][w.task]["family"],
        prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
        model=lambda w: config["models"][w.model],
        preset=lambda w: config["presets"][w.preset],
        seed=round_seed,
    script:
        "../scripts/train_adapter.py"
