"""Planning speed: what the Snakefile does once at parse so that Snakemake's per-job work is cheaper."""

import copy
import inspect

import yaml
from snakemake.utils import update_config

from algrid.errors import DataError


def read_configfiles(workflow, config: dict, paths) -> None:
    """What ``configfile:`` does for each path, read with libyaml instead of Snakemake's pure-Python loader (about
    0.2 s less per plan for config/tasks.yaml and defaults.yaml): each file merged into ``config`` in order,
    then the command line's ``--configfile``/``--config`` values merged on top, and each path listed for the report.
    """
    for path in paths:
        update_config(config, _read_configfile(path))
        workflow.configfiles.append(path)
    update_config(config, workflow.config_settings.overwrite_config)


def read_module_configfiles(workflow, config: dict, paths) -> None:
    """algrid as a module of another workflow (``module algrid: ... config: config``): ``config`` is the user's,
    already merged with the command line's values; algrid's files go under it, so the user's keys win. In place:
    the user's own rules see the same resolved config."""
    user = copy.deepcopy(config)
    config.clear()
    for path in paths:
        update_config(config, _read_configfile(path))
        workflow.configfiles.append(path)
    update_config(config, user)


def _read_configfile(path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            values = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as err:
        raise DataError(path, f"cannot read the config file: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DataError(path, f"not valid YAML: {getattr(err, 'problem', None) or err}",
                        line=mark.line + 1 if mark else None) from None
    if not isinstance(values, dict):
        raise DataError(path, "must be a YAML mapping of config keys")
    return values


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
