from algrid.ads import corpus
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: corpus.build_corpus(sm.params.spec, sm.output[0], data_root=sm.params.data_root), log_file=sm.log[0],
    uses_torch=False)
