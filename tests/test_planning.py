"""algrid.planning: parse-time work that makes Snakemake's per-job work cheaper, without changing any value."""

import json
import os
import subprocess

from conftest import REPO, SNAKEMAKE

# Input and params functions of every kind Snakemake distinguishes: wildcards only, the aux arguments
# (input, output, threads, resources), **kwargs, a named input function and unpack().
SNAKEFILE = """import json, sys
sys.path.insert(0, {scripts!r})
from algrid.planning import cache_signatures

rule all:
    input: expand("out/{{s}}.json", s=["a", "bb"])

rule make_in:
    output: "in/{{s}}.txt"
    run:
        open(output[0], "w").write(wildcards.s)

rule make:
    input:
        unpack(lambda w: {{"first": f"in/{{w.s}}.txt"}}),
        second=lambda w: "in/a.txt",
    output: "out/{{s}}.json"
    threads: 2
    resources: mem_mb=lambda w, attempt: 100 * attempt
    params:
        plain="{{s}}-plain",
        wild=lambda w: w.s * 2,
        aux=lambda w, input, output, threads, resources: [w.s, list(input), list(output), threads, resources.mem_mb],
        kwargs=lambda w, **rest: sorted(rest),
    run:
        json.dump({{"params": dict(params.items()), "input": dict(input.items())}}, open(output[0], "w"))

if config.get("cache"):
    cache_signatures(workflow.rules)
    functions = [f for r in workflow.rules for _, f in [*r.input._allitems(), *r.params._allitems()]]
    functions = [getattr(getattr(f, "_file", None), "callable", None) or f for f in functions]
    json.dump(sum("__signature__" in getattr(f, "__dict__", {{}}) for f in functions), open("cached.json", "w"))
"""


def run(wd, cache: bool) -> dict:
    wd.mkdir()
    (wd / "Snakefile").write_text(SNAKEFILE.format(scripts=str(REPO / "scripts")))
    cmd = [str(SNAKEMAKE), "-c2", "--config", f"cache={cache}"]
    proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {s: json.loads((wd / "out" / f"{s}.json").read_text()) for s in ("a", "bb")}


def test_cached_signatures_change_no_input_or_param(tmp_path):
    plain, cached = run(tmp_path / "plain", False), run(tmp_path / "cached", True)
    assert cached == plain
    assert plain["bb"]["params"]["aux"] == ["bb", ["in/bb.txt", "in/a.txt"], ["out/bb.json"], 2, 100]
    assert {"input", "output", "resources", "threads"} <= set(plain["bb"]["params"]["kwargs"])
    assert json.loads((tmp_path / "cached" / "cached.json").read_text()) == 5  # every function, none twice


# The same config files read by Snakemake's configfile: and by algrid.planning.read_configfiles (libyaml)
CONFIG_SNAKEFILE = """import json, sys
sys.path.insert(0, {scripts!r})
from algrid.planning import read_configfiles

files = [{files}]
if {fast}:
    read_configfiles(workflow, config, files)
else:
    for f in files:
        configfile: f

json.dump({{"config": config, "listed": [str(f) for f in workflow.configfiles]}}, open("config.json", "w"))
"""


def test_config_read_with_libyaml_equals_snakemakes_configfile(tmp_path):
    files = [REPO / "config" / "tasks.yaml", REPO / "config" / "defaults.yaml"]
    (tmp_path / "grid.yaml").write_text("finetune: {seeds: [7]}\nscoring: {batch_size: 3}\n")
    seen = {}
    for fast in (False, True):
        wd = tmp_path / str(fast)
        wd.mkdir()
        (wd / "Snakefile").write_text(
            CONFIG_SNAKEFILE.format(scripts=str(REPO / "scripts"), files=", ".join(repr(str(f)) for f in files), fast=fast)
        )
        cmd = [str(SNAKEMAKE), "-c1", "-n", "--configfile", str(tmp_path / "grid.yaml"), "--config", "data_root=/elsewhere"]
        proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, env={**os.environ})
        assert proc.returncode == 0, proc.stderr[-3000:]
        seen[fast] = json.loads((wd / "config.json").read_text())
    assert seen[True] == seen[False]
    config = seen[True]["config"]
    assert config["finetune"]["seeds"] == [7] and config["scoring"]["batch_size"] == 3  # the command line wins
    assert config["data_root"] == "/elsewhere" and "two-digit-addition" in config["tasks"]
    assert seen[True]["listed"][-2:] == [str(f) for f in files]



def test_a_config_found_valid_is_not_validated_again_until_it_or_the_schema_changes(tmp_path, monkeypatch):
    import pytest
    import yaml
    from snakemake.utils import update_config

    from algrid import config as cfg
    from algrid.errors import ConfigError

    monkeypatch.setattr(cfg, "VALID_CACHE", tmp_path / "valid.json")
    schema = tmp_path / "schema.yaml"
    schema.write_bytes((REPO / "config" / "schema.yaml").read_bytes())
    config = {}
    for name in ("tasks.yaml", "defaults.yaml", "config.yaml"):
        update_config(config, yaml.safe_load((REPO / "config" / name).read_text()))

    cfg.check_schema(config, schema)
    assert len(json.loads((tmp_path / "valid.json").read_text())) == 1
    cfg.check_schema(config, schema)  # found in the cache: nothing added
    assert len(json.loads((tmp_path / "valid.json").read_text())) == 1

    bad = {**config, "scoring": {**config["scoring"], "batch_size": "many"}}
    with pytest.raises(ConfigError, match="scoring.batch_size"):
        cfg.check_schema(bad, schema)
    with pytest.raises(ConfigError, match="scoring.batch_size"):  # invalid configs are never remembered
        cfg.check_schema(bad, schema)

    # a schema edit makes the remembered config be checked again
    line = "batch_size: {type: integer, minimum: 1, default: 8, description: scoring batch size.}"
    assert line in schema.read_text()
    schema.write_text(schema.read_text().replace(line, line.replace("minimum: 1,", "minimum: 1000,")))
    with pytest.raises(ConfigError, match="scoring.batch_size"):
        cfg.check_schema(config, schema)


def test_malformed_config_yaml_is_one_line_naming_file_and_line(tmp_path):
    """config/config.yaml is the file users edit: a YAML error names it and the line, and a list is refused."""
    import pytest
    from types import SimpleNamespace

    from algrid.errors import DataError
    from algrid.planning import read_configfiles

    workflow = SimpleNamespace(configfiles=[], config_settings=SimpleNamespace(overwrite_config={}))
    bad = tmp_path / "config.yaml"
    bad.write_text("finetune:\n  seeds: [0, 1\n  budgets: [100]\n")
    with pytest.raises(DataError, match=rf"^{bad}:3: not valid YAML: did not find expected ',' or ']'"):
        read_configfiles(workflow, {}, [bad])
    bad.write_text("- finetune\n")
    with pytest.raises(DataError, match=rf"^{bad}: must be a YAML mapping"):
        read_configfiles(workflow, {}, [bad])
    with pytest.raises(DataError, match=rf"^{tmp_path}/gone.yaml: cannot read the config file: No such file"):
        read_configfiles(workflow, {}, [tmp_path / "gone.yaml"])
