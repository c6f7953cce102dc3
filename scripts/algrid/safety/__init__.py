"""The safety family (seed 003): answers of a model or adapter to hazardous prompts, judged SAFE/UNSAFE.

prompts (AILuminate loading, stratified subsample) -> respond (generation) -> judges (each judge's verdicts)
-> rates (majority vote, safety rate with its interval, per hazard, grade); validate scores judges on human labels.
"""


def first(paths):
    """The one path of an optional named rule input (Snakemake gives an empty list when it is absent)."""
    if paths is None or isinstance(paths, str):
        return paths
    paths = list(paths)
    return str(paths[0]) if paths else None
