from algrid import tasks
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: tasks.prepare_split(sm.params.spec, sm.output[0], key=sm.params.key, data_root=sm.params.data_root,
                                first=sm.params.first, exclude=list(sm.input.exclude)),
    log_file=sm.log[0], uses_torch=False)
