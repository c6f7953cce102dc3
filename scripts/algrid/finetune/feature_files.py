"""Which model-feature files a fine-tuning selection reads (strategies with ``features``: badge, bald, rds, less),
and the parameters each feature job gets. Plain Python: rules/common.smk and rules/features.smk call it."""

from algrid import strategies

FT = "results/finetune/{task}/{model}/{preset}/{strategy}/b{budget}-m{rounds}/seed{seed}"
BASE = "results/features/{task}/{model}"  # under the base model: badge's round 1, rds
LESS = "results/features/{task}/{model}/{preset}/less"  # under LESS's warm-up adapter


def feature_inputs(w, config) -> dict:
    """``features`` (the pool's) and ``query_features`` (each eval task's target split) of round ``w.round``."""
    strategy = strategies.get(w.strategy)
    kind, i = strategy.features, int(w.round)
    if kind is None or (i == 1 and not getattr(strategy, "first_round_features", True)):
        return {}
    ft, keys = config["finetune"], {"task": w.task, "model": w.model, "preset": w.preset}
    split = ft["target_split"]
    if kind == "rds":
        return {"features": f"{BASE.format(**keys)}/rds.npz",
                "query_features": [f"results/features/{e}/{w.model}/rds.{split}.npz" for e in ft["eval_tasks"]]}
    if kind == "less":
        return {"features": f"{LESS.format(**keys)}/pool.npz",
                "query_features": [f"{LESS.format(**keys)}/{e}.{split}.npz" for e in ft["eval_tasks"]]}
    if i == 1:
        return {"features": f"{BASE.format(**keys)}/{kind}.npz"}
    return {"features": f"{FT.format(**{k: w[k] for k in FT_KEYS})}/round{i}/features/{kind}.npz"}


FT_KEYS = ("task", "model", "preset", "strategy", "budget", "rounds", "seed")


def feature_params(config, kind: str, keys=None) -> dict:
    """The strategy ``kind``'s resolved parameters that its feature job uses (``feature_params``, or ``keys``):
    changing any other reruns only its selections."""
    strategy = strategies.get(kind)
    params = strategy.resolve_params((config.get("strategies") or {}).get(kind) or {})
    return {k: params[k] for k in (strategy.feature_params if keys is None else keys)}

