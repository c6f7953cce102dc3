from algrid.runner import run
from algrid.safety import rates

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: rates.score_file(sm.input.responses, dict(zip(sm.params.judges, sm.input.judges)), sm.output.judgments,
                             sm.output.metrics, identity=sm.params.identity, tie=sm.params.tie,
                             reference_path=sm.input.get("reference"), reference_name=sm.params.reference),
    log_file=sm.log[0], uses_torch=False)
