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
        code=code_version("embed_rows"),
        source=lambda w: config["embedders"][w.embedder]["source"],
        batch_size=lambda w: config["embedders"][w.embedder].get("batch_size", 64),
    script:
        "../scripts/embed_rows.py"


use rule embed_pool as embed_split with:
    input:
        rows="results/data/{task}/{split}.jsonl",
    output:
        "results/embeddings/{task}/{embedder}.{split}.npy",
    log:
        "results/logs/embed_split/{task}/{embedder}.{split}.log",
    benchmark:
        "results/benchmarks/embed_split/{task}/{embedder}.{split}.tsv"
