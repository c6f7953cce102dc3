# lm-evaluation-harness tasks (finetune.lm_eval) as an evaluation of every adapter: one job per final-round adapter
# (rounds: all, every round's), per base model and per evaluated adapter (finetune.adapters), each one model load
# for every task (algrid.finetune.lm_eval_run); their results join final_metrics.csv in the aggregate rule.
# The rules are always defined (so the SLURM routing checks see them); only a grid with tasks asks for their files.
from algrid.finetune import lm_eval_run, lm_eval_tasks
from algrid.finetune.grid import adapter_model

try:  # unknown tasks (lm-eval's registry and include_path, where lm-eval is installed), include_path, metrics keys
    lm_eval_tasks.check_config(config, lm_eval_run.known_tasks)
except AlgridError as err:
    sys.exit(f"algrid: {err}")

LM_EVAL_RESOURCES = {"gpu": 1, "mem_mb": 16000, "runtime": 240}
LM_EVAL_BASE = lm_eval_tasks.BASE_DIR
LM_EVAL_ADAPTER = lm_eval_tasks.ADAPTER_DIR


rule lm_eval_round:
    input:
        model="results/models/{model}",
        adapter=f"{ROUND}/adapter",
        tasks=lm_eval_tasks.include_files(config),  # user task YAMLs (include_path): editing one reruns the jobs
    output:
        f"{ROUND}/lm-eval/results.json",
    log:
        f"{ROUND}/logs/lm_eval.log",
    benchmark:
        f"{ROUND}/benchmarks/lm_eval.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        **LM_EVAL_RESOURCES,
    params:
        code=code_version("lm_eval_tasks"),
        model=lambda w: model_load(config, w.model),
        lm_eval=lm_eval_tasks.job_params(config),
    script:
        "../scripts/lm_eval_tasks.py"


use rule lm_eval_round as lm_eval_base with:
    input:
        model="results/models/{model}",
        tasks=lm_eval_tasks.include_files(config),
    output:
        f"{LM_EVAL_BASE}/results.json",
    log:
        f"{LM_EVAL_BASE}/logs/lm_eval.log",
    benchmark:
        f"{LM_EVAL_BASE}/benchmarks/lm_eval.tsv"


use rule lm_eval_round as lm_eval_adapter with:
    input:
        model=lambda w: f"results/models/{adapter_model(config, w.adapter)}",
        adapter="results/adapters/{adapter}",
        tasks=lm_eval_tasks.include_files(config),
    output:
        f"{LM_EVAL_ADAPTER}/results.json",
    log:
        f"{LM_EVAL_ADAPTER}/logs/lm_eval.log",
    benchmark:
        f"{LM_EVAL_ADAPTER}/benchmarks/lm_eval.tsv"
    params:
        code=code_version("lm_eval_tasks"),
        model=lambda w: model_load(config, adapter_model(config, w.adapter)),
        lm_eval=lm_eval_tasks.job_params(config),
