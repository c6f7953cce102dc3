from algrid.runner import run
from algrid.safety import report

sm = snakemake  # noqa: F821 (injected by Snakemake)
TABLES = {"safety_summary": report.safety_summary, "judge_validation": report.validation_table}
run(lambda: TABLES[sm.params.table](list(sm.input), sm.output[0]), log_file=sm.log[0], uses_torch=False)
