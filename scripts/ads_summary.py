from algrid.ads import verdict
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: verdict.summarize(list(sm.input), sm.output.summary, sm.output.verdicts,
                               tie_margin=sm.params.tie_margin), log_file=sm.log[0], uses_torch=False)
