from algrid import tasks
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: tasks.prepare_task(sm.params.spec, dict(sm.output), key=f"tasks.{sm.wildcards.task}",
                               data_root=sm.params.data_root), log_file=sm.log[0], uses_torch=False)
