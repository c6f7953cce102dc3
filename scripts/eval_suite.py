from algrid import tasks
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: tasks.prepare_eval_suite(sm.params.files, sm.output[0]), log_file=sm.log[0], uses_torch=False)
