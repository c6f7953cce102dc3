rule select:
    input:
        unpack(lambda w: select_inputs(w, config)),
    output:
        FT + "/round{round}/selected.json",
    log:
        FT + "/round{round}/logs/select.log",
    benchmark:
        FT + "/round{round}/benchmarks/select.tsv"
    conda:
        "../envs/select.yaml"
    params:
        k=round_k,
        seed=round_seed,
        strategy_params=lambda w: config["strategies"].get(w.strategy, {}),
        budget_key="finetune.budgets",
    script:
        "../scripts/select_examples.py"
