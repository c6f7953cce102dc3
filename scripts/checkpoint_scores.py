from algrid.finetune import sweep
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: sweep.write_checkpoint_scores(list(sm.input.checkpoints), list(sm.input.metrics), sm.output[0],
                                          select_on=sm.params.select_on), log_file=sm.log[0], uses_torch=False)
