# One prediction job per adapter (and per base model) evaluates every eval task: one model load, not one per task;
# one CPU job per round then scores them all.
# Seed 003 adds: each checkpoint of a sweep, and existing adapters (finetune.adapters) evaluated without training.
from pathlib import Path

from algrid.finetune.grid import ADAPTER_EVAL, adapter_identity, adapter_model, checkpoint_count

CKPT = f"{ROUND}/checkpoints/ckpt{{ckpt}}"
PREDICT_RESOURCES = {"gpu": 1, "mem_mb": 16000, "runtime": 240}


if eval_tasks(config):
    EVAL_SUITE = eval_suite_file(config)

    rule eval_suite:
        input:
            [f for task in eval_suite_files(config).values() for f in task.values() if f],
        output:
            EVAL_SUITE,
        log:
            f"results/logs/eval_suites/{Path(EVAL_SUITE).stem}.log",
        conda:
            "../envs/data.yaml"
        params:
            code=code_version("eval_suite"),
            files=eval_suite_files(config),
        script:
            "../scripts/eval_suite.py"

    rule predict_round:
        input:
            model="results/models/{model}",
            suite=EVAL_SUITE,
            adapter=f"{ROUND}/adapter",
        output:
            [f"{ROUND}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            f"{ROUND}/logs/predict.log",
        benchmark:
            f"{ROUND}/benchmarks/predict.tsv"
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **PREDICT_RESOURCES,
        params:
            code=code_version("predict"),
            model=lambda w: model_load(config, w.model),
            tasks=lambda w: eval_params(w, config),
        script:
            "../scripts/predict.py"

    use rule predict_round as predict_base with:
        input:
            model="results/models/{model}",
            suite=EVAL_SUITE,
        output:
            [f"results/base/{{model}}/{{preset}}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            "results/base/{model}/{preset}/logs/predict.log",
        benchmark:
            "results/base/{model}/{preset}/benchmarks/predict.tsv"

    rule score_round:  # one job per round scores every eval task's predictions
        input:
            [f"{ROUND}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        output:
            [f"{ROUND}/metrics/{e}.json" for e in eval_tasks(config)],
        log:
            f"{ROUND}/logs/score.log",
        conda:
            "../envs/data.yaml"
        params:
            code=code_version("score_predictions"),
            metrics=eval_metrics(config),
            identity=lambda w: cell_identity(w),
        script:
            "../scripts/score_predictions.py"

    use rule score_round as score_base with:
        input:
            [f"results/base/{{model}}/{{preset}}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        output:
            [f"results/base/{{model}}/{{preset}}/metrics/{e}.json" for e in eval_tasks(config)],
        log:
            "results/base/{model}/{preset}/logs/score.log",


if eval_tasks(config):

    use rule predict_round as predict_checkpoint with:
        input:
            model="results/models/{model}",
            suite=EVAL_SUITE,
            adapter=f"{CKPT}/adapter",
        output:
            [f"{CKPT}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            f"{ROUND}/logs/predict.ckpt{{ckpt}}.log",
        benchmark:
            f"{ROUND}/benchmarks/predict.ckpt{{ckpt}}.tsv"
        wildcard_constraints:
            ckpt=r"\d+",

    use rule predict_round as predict_adapter with:
        input:
            model=lambda w: f"results/models/{adapter_model(config, w.adapter)}",
            suite=EVAL_SUITE,
            adapter="results/adapters/{adapter}",
        output:
            [f"{ADAPTER_EVAL}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        log:
            f"{ADAPTER_EVAL}/logs/predict.log",
        benchmark:
            f"{ADAPTER_EVAL}/benchmarks/predict.tsv"
        params:
            code=code_version("predict"),
            model=lambda w: model_load(config, adapter_model(config, w.adapter)),
            tasks=lambda w: eval_params(w, config),

    use rule score_round as score_checkpoint with:
        input:
            [f"{CKPT}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        output:
            [f"{CKPT}/metrics/{e}.json" for e in eval_tasks(config)],
        log:
            f"{ROUND}/logs/score.ckpt{{ckpt}}.log",
        wildcard_constraints:
            ckpt=r"\d+",
        params:
            code=code_version("score_predictions"),
            metrics=eval_metrics(config),
            identity=lambda w: {**cell_identity(w), "checkpoint": int(w.ckpt)},

    use rule score_round as score_adapter with:
        input:
            [f"{ADAPTER_EVAL}/predictions/{e}.jsonl" for e in eval_tasks(config)],
        output:
            [f"{ADAPTER_EVAL}/metrics/{e}.json" for e in eval_tasks(config)],
        log:
            f"{ADAPTER_EVAL}/logs/score.log",
        params:
            code=code_version("score_predictions"),
            metrics=eval_metrics(config),
            identity=lambda w: adapter_identity(config, w.adapter, w.preset),


rule checkpoint_scores:  # every checkpoint of a sweep scored on every eval task; the best one marked
    input:
        checkpoints=lambda w: [
            f"{CKPT.format(**w, ckpt=i)}/adapter" for i in range(1, checkpoint_count(config, w.preset) + 1)
        ],
        metrics=lambda w: [  # the last checkpoint is the end of training: the round's own metrics
            f"{CKPT.format(**w, ckpt=i)}/metrics/{e}.json"
            for i in range(1, checkpoint_count(config, w.preset))
            for e in eval_tasks(config)
        ]
        + [f"{ROUND.format(**w)}/metrics/{e}.json" for e in eval_tasks(config)],
    output:
        f"{ROUND}/checkpoint_scores.csv",
    log:
        f"{ROUND}/logs/checkpoint_scores.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("checkpoint_scores"),
        select_on=lambda w: eval_tasks(config)[0],
    script:
        "../scripts/checkpoint_scores.py"
