from pathlib import Path

from algrid import evaluate
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)


def main():  # one file per eval task: predictions/<eval_task>.jsonl -> metrics/<eval_task>.json
    for predictions, out in zip(sm.input, sm.output, strict=True):
        task = Path(out).stem
        evaluate.score_file(predictions, out, metric=sm.params.metrics[task],
                            identity={**sm.params.identity, "eval_task": task})


run(main, log_file=sm.log[0], uses_torch=False)
