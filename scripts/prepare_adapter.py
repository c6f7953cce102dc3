from algrid.runner import run
from algrid.safety import adapters

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: adapters.prepare_adapter(sm.params.source, sm.output[0], key=f"adapters.{sm.wildcards.adapter}",
                                     base_model=sm.params.model), log_file=sm.log[0], uses_torch=False)
