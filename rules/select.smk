rule select:
    input:
        unpack(lambda w: select_inputs(w, config)),
    output:
        f"{ROUND}/selected.json",
    log:
        f"{ROUND}/logs/select.log",
    benchmark:
        f"{ROUND}/benchmarks/select.tsv"
    conda:
        "../envs/select.yaml"
    params:
        code=code_version("select_examples"),
        k=round_k,
        seed=round_seed,
        strategy_params=lambda w: config["strategies"].get(w.strategy, {}),
        cold_start=lambda w: cold_start(w, config),
        budget_key="finetune.budgets",
    script:
        "../scripts/select_examples.py"
