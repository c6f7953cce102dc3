"""Planning speed: what the Snakefile does once at parse so that Snakemake's per-job work is cheaper."""

import inspect


def cache_signatures(rules) -> None:
    """Store the signature of every input and params function on the function (Python's ``__signature__``).

    Snakemake inspects a function's signature each time it calls it (three times per params function per
    job); ``inspect.signature`` returns a stored ``__signature__`` instead of rebuilding it from the code.
    Which arguments Snakemake passes, and so every value, stays the same.
    """
    for rule in rules:
        for _, item in [*rule.input._allitems(), *rule.params._allitems()]:
            func = getattr(getattr(item, "_file", None), "callable", None) or item  # named input functions
            if inspect.isfunction(func) and "__signature__" not in func.__dict__:
                func.__signature__ = inspect.signature(func)
