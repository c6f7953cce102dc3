from algrid import embed
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: embed.embed_file(sm.params.source, sm.input.rows, sm.output[0], batch_size=sm.params.batch_size,
                             key=f"embedders.{sm.wildcards.embedder}.source"), log_file=sm.log[0], threads=sm.threads)
