from algrid.runner import run
from algrid.safety import prompts

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: prompts.write_prompts(sm.input[0], sm.output[0], n=sm.params.n, seed=sm.params.seed), log_file=sm.log[0],
    uses_torch=False)
