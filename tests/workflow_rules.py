"""Every rule of the workflow as Snakemake itself parses it: resources, threads, conda env and script.

Read through Snakemake's API in a child process (the API changes the working directory and the Snakefile
extends sys.path), on the default config, so rules that a given grid does not plan are included too.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, workdir

_DUMP = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (ConfigSettings, DeploymentSettings, OutputSettings, ResourceSettings,
                                      StorageSettings, WorkflowSettings)

repo, wd = Path(sys.argv[1]), Path(sys.argv[2])
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
                            storage_settings=StorageSettings(), workflow_settings=WorkflowSettings(),
                            deployment_settings=DeploymentSettings(), snakefile=repo / "Snakefile", workdir=wd)
    rules = {}
    for rule in workflow._workflow.rules:
        here = Path(rule.snakefile).parent
        rules[rule.name] = {
            "resources": {k: r.raw for k, r in rule.resources.items()
                          if not k.startswith("_") and isinstance(r.raw, (int, str))},
            "per_job": sorted(k for k, r in rule.resources.items()  # resources given by a function of the job
                              if not k.startswith("_") and k != "tmpdir" and r.raw is None and r.is_evaluable()),
            "threads": rule.resources["_cores"].raw,
            "conda": str((here / rule.conda_env).resolve()) if rule.conda_env else None,
            "script": str((here / rule.script).resolve()) if rule.script else None,
        }
print("RULES=" + json.dumps(rules))
"""


def workflow_rules(tmp: Path) -> dict[str, dict]:
    """name -> {"resources": {...}, "per_job": [names of resources that are functions], "threads": int|str,
    "conda": path|None, "script": path|None}."""
    proc = subprocess.run([sys.executable, "-c", _DUMP, str(REPO), str(workdir(tmp))], capture_output=True,
                          text=True, cwd=tmp)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RULES=")), None)
    if proc.returncode != 0 or line is None:
        raise AssertionError(f"reading the workflow's rules failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(line.removeprefix("RULES="))


def loads_no_model(script: Path) -> bool:
    """The script says so: ``run(..., uses_torch=False)`` (it neither imports torch nor loads a model)."""
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run"
               and any(k.arg == "uses_torch" and isinstance(k.value, ast.Constant) and k.value.value is False
                       for k in node.keywords)
               for node in ast.walk(ast.parse(Path(script).read_text())))
