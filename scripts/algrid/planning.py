"""Planning speed: what the Snakefile does once at parse so that Snakemake's per-job work is cheaper."""

import inspect

from snakemake.common import overwrite_function_params


def cache_signatures(rules) -> None:
    """Store the parameters of every input and params function on the function, through Snakemake's own
    ``overwrite_function_params``.

    Snakemake inspects a function's signature each time it calls it (three times per params function per
    job); with the parameters stored it reads them instead of rebuilding them from the code. They are the
    very mapping ``inspect.signature`` gives, so which arguments Snakemake passes, and every value, stay the same.
    """
    for rule in rules:
        for _, item in [*rule.input._allitems(), *rule.params._allitems()]:
            func = getattr(getattr(item, "_file", None), "callable", None) or item  # named input functions
            if inspect.isfunction(func) and "__signature__" not in func.__dict__:
                func.__signature__ = inspect.signature(func)
                overwrite_function_params(func, func.__signature__.parameters)
