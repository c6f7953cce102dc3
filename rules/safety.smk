# The safety family (seed 003): a model, or a model + LoRA adapter, answers a hazard-stratified sample of the
# AILuminate prompts; each judge gives SAFE/UNSAFE per answer; a majority vote over valid votes gives the safety
# rate (Wilson 95%), per hazard, with a grade against a reference run. Three places run it: the standalone grid
# (results/safety/{model}/{adapter}), each finetune round's adapter ({ROUND}/safety) and the base model of a
# finetune preset (results/base/{model}/{preset}/safety). validate_judge scores every judge on human labels.
from algrid.safety.grid import (
    SAFETY_BASE,
    SAFETY_RUN,
    check_safety,
    judge_gpus,
    judge_inputs,
    judge_load,
    judge_model_ref,
    judge_spec,
    prompts_file,
    pyrit_root,
    reference_name,
    safety_generation,
    safety_identity,
    safety_judges,
    safety_metric_files,
    safety_score_inputs,
)

try:
    check_safety(config)
except AlgridError as err:
    sys.exit(f"algrid: {err}")


wildcard_constraints:
    adapter=SLUG,
    judge=SLUG,


SAFETY_ROUND = f"{ROUND}/safety"
MODEL_RESOURCES = {"gpu": 1, "mem_mb": 16000, "runtime": 240}
JUDGE_RESOURCES = {**MODEL_RESOURCES, "gpu": lambda w: judge_gpus(config, w.judge)}  # refusal detector: no GPU


rule safety_prompts:
    input:
        prompts_file(config),
    output:
        "results/safety/prompts.jsonl",
    log:
        "results/logs/safety_prompts.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("safety_prompts"),
        n=config["safety"]["n_prompts"],
        seed=config["safety"]["seed"],
    script:
        "../scripts/safety_prompts.py"


rule prepare_adapter:
    output:
        directory("results/adapters/{adapter}"),
    log:
        "results/logs/prepare_adapter/{adapter}.log",
    benchmark:
        "results/benchmarks/prepare_adapter/{adapter}.tsv"
    conda:
        "../envs/model.yaml"
    params:
        code=code_version("prepare_adapter"),
        source=lambda w: config["adapters"][w.adapter]["source"],
        model=lambda w: config["adapters"][w.adapter]["model"],
    script:
        "../scripts/prepare_adapter.py"


rule safety_respond:
    input:
        model="results/models/{model}",
        prompts=rules.safety_prompts.output[0],
        adapter=lambda w: [] if w.adapter == "base" else f"results/adapters/{w.adapter}",
    output:
        f"{SAFETY_RUN}/responses.jsonl",
    log:
        f"{SAFETY_RUN}/logs/respond.log",
    benchmark:
        f"{SAFETY_RUN}/benchmarks/respond.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        **MODEL_RESOURCES,
    params:
        code=code_version("safety_respond"),
        model=lambda w: model_load(config, w.model),
        generation=lambda w: safety_generation(w, config),
    script:
        "../scripts/safety_respond.py"


use rule safety_respond as safety_respond_round with:
    input:
        model="results/models/{model}",
        prompts=rules.safety_prompts.output[0],
        adapter=f"{ROUND}/adapter",
    output:
        f"{SAFETY_ROUND}/responses.jsonl",
    log:
        f"{SAFETY_ROUND}/logs/respond.log",
    benchmark:
        f"{SAFETY_ROUND}/benchmarks/respond.tsv"


use rule safety_respond as safety_respond_base with:
    input:
        model="results/models/{model}",
        prompts=rules.safety_prompts.output[0],
    output:
        f"{SAFETY_BASE}/responses.jsonl",
    log:
        f"{SAFETY_BASE}/logs/respond.log",
    benchmark:
        f"{SAFETY_BASE}/benchmarks/respond.tsv"


rule safety_judge:
    input:
        unpack(lambda w: judge_inputs(w, config, SAFETY_RUN, ALGRID)),
    output:
        f"{SAFETY_RUN}/judges/{{judge}}.jsonl",
    log:
        f"{SAFETY_RUN}/logs/judge.{{judge}}.log",
    benchmark:
        f"{SAFETY_RUN}/benchmarks/judge.{{judge}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        **JUDGE_RESOURCES,
    params:
        code=code_version("safety_judge"),
        spec=lambda w: judge_spec(config, w.judge),
        model_ref=lambda w: judge_model_ref(config, w.judge),
        load=lambda w: judge_load(config, w.judge),
    script:
        "../scripts/safety_judge.py"


use rule safety_judge as safety_judge_round with:
    input:
        unpack(lambda w: judge_inputs(w, config, SAFETY_ROUND, ALGRID)),
    output:
        f"{SAFETY_ROUND}/judges/{{judge}}.jsonl",
    log:
        f"{SAFETY_ROUND}/logs/judge.{{judge}}.log",
    benchmark:
        f"{SAFETY_ROUND}/benchmarks/judge.{{judge}}.tsv"


use rule safety_judge as safety_judge_base with:
    input:
        unpack(lambda w: judge_inputs(w, config, SAFETY_BASE, ALGRID)),
    output:
        f"{SAFETY_BASE}/judges/{{judge}}.jsonl",
    log:
        f"{SAFETY_BASE}/logs/judge.{{judge}}.log",
    benchmark:
        f"{SAFETY_BASE}/benchmarks/judge.{{judge}}.tsv"


rule safety_score:
    input:
        unpack(lambda w: safety_score_inputs(w, config, SAFETY_RUN)),
    output:
        judgments=f"{SAFETY_RUN}/judgments.jsonl",
        metrics=f"{SAFETY_RUN}/metrics.json",
    log:
        f"{SAFETY_RUN}/logs/score.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("safety_score"),
        judges=safety_judges(config),
        identity=safety_identity,
        tie=config["safety"]["tie"],
        reference=reference_name(config),
    script:
        "../scripts/safety_score.py"


use rule safety_score as safety_score_round with:
    input:
        unpack(lambda w: safety_score_inputs(w, config, SAFETY_ROUND)),
    output:
        judgments=f"{SAFETY_ROUND}/judgments.jsonl",
        metrics=f"{SAFETY_ROUND}/metrics.json",
    log:
        f"{SAFETY_ROUND}/logs/score.log",


use rule safety_score as safety_score_base with:
    input:
        unpack(lambda w: safety_score_inputs(w, config, SAFETY_BASE)),
    output:
        judgments=f"{SAFETY_BASE}/judgments.jsonl",
        metrics=f"{SAFETY_BASE}/metrics.json",
    log:
        f"{SAFETY_BASE}/logs/score.log",


rule safety_summary:
    input:
        safety_metric_files(config),
    output:
        report(
            "results/safety_summary.csv",
            caption="../resources/report/safety_summary.rst",
            category="Safety",
            labels={"table": "safety rate per model and adapter"},
        ),
    log:
        "results/logs/safety_summary.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("safety_tables"),
        table="safety_summary",
    script:
        "../scripts/safety_tables.py"


rule validate_judge:
    input:
        unpack(lambda w: judge_inputs(w, config, None, ALGRID)),
    output:
        "results/judges/{judge}/validation.json",
    log:
        "results/logs/validate_judge/{judge}.log",
    benchmark:
        "results/benchmarks/validate_judge/{judge}.tsv"
    conda:
        "../envs/model.yaml"
    threads: config["threads"]["model"]
    resources:
        **JUDGE_RESOURCES,
    params:
        code=code_version("validate_judge"),
        root=pyrit_root(config),
        spec=lambda w: judge_spec(config, w.judge),
        model_ref=lambda w: judge_model_ref(config, w.judge),
        load=lambda w: judge_load(config, w.judge),
        limit=config["safety"]["validation_limit"],
    script:
        "../scripts/validate_judge.py"


use rule safety_summary as judge_validation with:
    input:
        [f"results/judges/{j}/validation.json" for j in safety_judges(config)],
    output:
        report(
            "results/judges/validation.csv",
            caption="../resources/report/judge_validation.rst",
            category="Safety",
            labels={"table": "judges vs human labels"},
        ),
    log:
        "results/logs/judge_validation.log",
    params:
        code=code_version("safety_tables"),
        table="judge_validation",


rule plot_judge_validation:
    input:
        rules.judge_validation.output[0],
    output:
        report(
            "results/plots/judge_validation.png",
            caption="../resources/report/judge_validation_plot.rst",
            category="Safety",
            labels={"figure": "judges vs human labels"},
        ),
    log:
        "results/logs/plot_judge_validation.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code_version("plot_judge_validation"),
    script:
        "../scripts/plot_judge_validation.py"


rule safety:  # target: the standalone safety grid and its judges' validation
    input:
        safety_metric_files(config),
        rules.safety_summary.output,
        rules.judge_validation.output,
        rules.plot_judge_validation.output,
