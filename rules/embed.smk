rule embed_pool:
    input:
        rows="results/data/{task}/pool.jsonl",
    output:
        "results/embeddings/{task}/{embedder}.npy",
    log:
        "results/logs/embed_pool/{task}/{embedder}.log",
    benchmark:
        "results/benchmarks/embed_pool/{task}/{embedder}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    params:
        source=lambda w: config["embedders"][w.embedder]["source"],
        batch_size=lambda w: config["embedders"][w.embedder].get("batch_size", 64),
    script:
        "../scripts/embed_rows.py"


use rule embed_pool as embed_eval with:
    input:
        rows="results/data/{task}/eval.jsonl",
    output:
        "results/embeddings/{task}/{embedder}.eval.npy",
    log:
        "results/logs/embed_eval/{task}/{embedder}.log",
    benchmark:
        "results/benchmarks/embed_eval/{task}/{embedder}.tsv"
