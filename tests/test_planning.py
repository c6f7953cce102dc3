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

