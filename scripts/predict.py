from algrid import predict
from algrid.runner import run

sm = snakemake  # noqa: F821 (injected by Snakemake)
run(lambda: predict.predict_file(sm.input.model, sm.input.eval, sm.input.fewshot, sm.output[0],
                                 adapter=sm.input.get("adapter"), prefix_file=(sm.input.prefix or [None])[0],
                                 **sm.params.eval), log_file=sm.log[0], threads=sm.threads)
