from algrid.icl import score
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: score.score_file(sm.input.predictions, sm.output[0], metric=sm.params.metric, identity=sm.params.identity,
                             judgments_path=sm.input.get("judgments")), log_file=sm.log[0], uses_torch=False)
