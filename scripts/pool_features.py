from algrid.finetune import features
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
p = sm.params.features
run(lambda: features.features_file(p["kind"], sm.input.model, sm.input.rows, sm.output[0],
                                   adapter=sm.input.get("adapter"), fewshot_path=sm.input.get("fewshot"),
                                   family=sm.params.family, prompt=sm.params.prompt, model_spec=sm.params.model,
                                   params=p["strategy"], scoring=p["scoring"], preset=sm.params.preset,
                                   max_length=sm.params.get("max_length")),
    log_file=sm.log[0], threads=sm.threads, gpus=sm.resources.get("gpu", 0))
