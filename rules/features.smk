# Model features of the pool (and of the eval tasks' target split) for the fine-tuning selection strategies that
# need them (algrid.finetune.features): badge (gradient embeddings of the model's greedy answer), bald (MC dropout
# mutual information), rds (hidden states), less (LoRA gradients under a warm-up adapter). Each rule exists only
# when a strategy of the grid needs it, so other grids plan exactly as before.
from algrid.finetune.feature_files import BASE, LESS

FEATURE_KINDS = {strategies.get(s).features for s in (config.get("finetune") or {}).get("strategies", [])}
FEATURE_RESOURCES = {"gpu": 1}


if FEATURE_KINDS & {"badge", "rds"}:

    rule pool_features_base:
        input:
            model="results/models/{model}",
            rows="results/data/{task}/pool.jsonl",
            fewshot="results/data/{task}/fewshot.jsonl",
        output:
            f"{BASE}/{{kind}}.npz",
        log:
            "results/logs/pool_features/{task}/{model}/{kind}.log",
        benchmark:
            "results/benchmarks/pool_features/{task}/{model}/{kind}.tsv"
        wildcard_constraints:
            kind="badge|rds",
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **FEATURE_RESOURCES,
        params:
            code=code_version("pool_features"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            features=lambda w: feature_rule_params(w.kind),
            preset=None,
        script:
            "../scripts/pool_features.py"


if "rds" in FEATURE_KINDS:

    use rule pool_features_base as target_features_rds with:
        input:
            model="results/models/{model}",
            rows="results/data/{task}/{split}.jsonl",
        output:
            f"{BASE}/rds.{{split}}.npz",
        log:
            "results/logs/pool_features/{task}/{model}/rds.{split}.log",
        benchmark:
            "results/benchmarks/pool_features/{task}/{model}/rds.{split}.tsv"
        wildcard_constraints:
            kind="rds",
        params:
            code=code_version("pool_features"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            features=feature_rule_params("rds"),
            preset=None,


if FEATURE_KINDS & {"badge", "bald"}:

    rule pool_features_round:
        input:
            model="results/models/{model}",
            rows="results/data/{task}/pool.jsonl",
            fewshot="results/data/{task}/fewshot.jsonl",
            adapter=lambda w: f"{FT}/round{{prev}}/adapter".format(**w, prev=int(w.round) - 1),
        output:
            f"{ROUND}/features/{{kind}}.npz",
        log:
            f"{ROUND}/logs/pool_features.{{kind}}.log",
        benchmark:
            f"{ROUND}/benchmarks/pool_features.{{kind}}.tsv"
        wildcard_constraints:
            kind="badge|bald",
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **FEATURE_RESOURCES,
        params:
            code=code_version("pool_features"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            features=lambda w: feature_rule_params(w.kind),
            preset=lambda w: w.preset,
        script:
            "../scripts/pool_features.py"


if "less" in FEATURE_KINDS:

    rule less_warmup:
        input:
            model="results/models/{model}",
            pool="results/data/{task}/pool.jsonl",
        output:
            adapter=directory(f"{LESS}/warmup"),
        log:
            "results/logs/less_warmup/{task}/{model}/{preset}.log",
        benchmark:
            "results/benchmarks/less_warmup/{task}/{model}/{preset}.tsv"
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **TRAIN_RESOURCES,
        params:
            code=code_version("less_warmup"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            preset=lambda w: train_params(config, w.preset),
            less=less_warmup_params,
        script:
            "../scripts/less_warmup.py"

    rule less_features_pool:
        input:
            model="results/models/{model}",
            rows="results/data/{task}/pool.jsonl",
            adapter=rules.less_warmup.output.adapter,
        output:
            f"{LESS}/pool.npz",
        log:
            "results/logs/pool_features/{task}/{model}/{preset}/less.log",
        benchmark:
            "results/benchmarks/pool_features/{task}/{model}/{preset}/less.tsv"
        conda:
            "../envs/model.yaml"
        threads: config["threads"]["model"]
        resources:
            **FEATURE_RESOURCES,
        params:
            code=code_version("pool_features"),
            family=lambda w: config["tasks"][w.task]["family"],
            prompt=lambda w: config["tasks"][w.task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            features=feature_rule_params("less"),
            preset=lambda w: w.preset,
            max_length=lambda w: config["presets"][w.preset]["max_length"],
        script:
            "../scripts/pool_features.py"

    use rule less_features_pool as less_features_target with:
        input:
            model="results/models/{model}",
            rows="results/data/{eval_task}/{split}.jsonl",
            adapter=rules.less_warmup.output.adapter,
        output:
            f"{LESS}/{{eval_task}}.{{split}}.npz",
        log:
            "results/logs/pool_features/{task}/{model}/{preset}/less.{eval_task}.{split}.log",
        benchmark:
            "results/benchmarks/pool_features/{task}/{model}/{preset}/less.{eval_task}.{split}.tsv"
        params:
            code=code_version("pool_features"),
            family=lambda w: config["tasks"][w.eval_task]["family"],
            prompt=lambda w: config["tasks"][w.eval_task].get("prompt", {}),
            model=lambda w: model_load(config, w.model),
            features=feature_rule_params("less"),
            preset=lambda w: w.preset,
            max_length=lambda w: config["presets"][w.preset]["max_length"],
