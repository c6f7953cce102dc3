# algrid: reproducible experiments on choosing the data an LLM learns from.
# This file only sets up: config, validation, includes and the default target.
import sys

from snakemake.utils import min_version

min_version("8.0")
# algrid's own files (this file's directory): also when another workflow uses algrid as a module, where
# workflow.basedir is that workflow's directory
ALGRID = str(workflow.current_basedir)
sys.path.insert(0, f"{ALGRID}/scripts")
from algrid.errors import AlgridError
from algrid.planning import cache_signatures, read_configfiles, read_module_configfiles

# config/{tasks,defaults}.yaml, and config/config.yaml unless --configfile names the grid to run; read from
# algrid's directory, so `-d <elsewhere>` finds them. As a module, the user's config (`config: config`) is the grid
# and goes over tasks and defaults.
try:
    if workflow.modifier.is_main_snakefile():
        base_configs = ["tasks", "defaults"] + ([] if workflow.overwrite_configfiles else ["config"])
        read_configfiles(workflow, config, [f"{ALGRID}/config/{name}.yaml" for name in base_configs])
    else:
        read_module_configfiles(workflow, config, [f"{ALGRID}/config/{name}.yaml" for name in ("tasks", "defaults")])
except AlgridError as err:
    sys.exit(f"algrid: {err}")


include: "rules/common.smk"


try:  # algrid.config: the schema (types, ranges, unknown keys), then the cross-key checks
    check_schema(config, f"{ALGRID}/config/schema.yaml")
    config["tasks"] = for_source(config["tasks"], config.get("data_source", "local"))  # local files or the Hub
    check_config(config)
except AlgridError as err:
    sys.exit(f"algrid: {err}")


report: "resources/report/workflow.rst"


wildcard_constraints:
    task=SLUG,
    eval_task=SLUG,
    model=SLUG,
    preset=SLUG,
    strategy=STRATEGY,
    embedder=SLUG,
    split=SLUG,
    budget=r"\d+",
    rounds=r"\d+",
    seed=r"\d+",
    round=r"\d+",
    shots=r"\d+",
    shard=r"\d+",


include: "rules/data.smk"
include: "rules/embed.smk"
include: "rules/score.smk"
include: "rules/select.smk"
include: "rules/train.smk"
include: "rules/features.smk"
include: "rules/predict.smk"
include: "rules/lm_eval.smk"
include: "rules/icl.smk"
include: "rules/ads.smk"
include: "rules/safety.smk"
include: "rules/metrics.smk"
include: "rules/diagnostics.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        default_targets(config),


cache_signatures(workflow.rules)  # algrid.planning: Snakemake's per-job calls of input/params functions
