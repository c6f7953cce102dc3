"""The SLURM route, for real: profiles/slurm through snakemake-executor-plugin-slurm on a one-node SLURM.

tests/slurm_cluster.py starts munged, slurmctld and slurmd (Debian's slurm-wlm 22.05) with a `cpu` and a `gpu`
partition and a two-GPU GRES. A small grid runs there with `--profile profiles/slurm` and, at the same time,
locally; the results must be the same, every model job must have asked SLURM for exactly one GPU on the gpu
partition and every other job for none on the cpu partition. Three flags differ from a cluster run, each for a
reason of this machine: `--sdm env-modules` (the profile's single-venv route: conda channels are unreachable
here), `--slurm-status-command squeue` (no slurmdbd, so no sacct: squeue sees finished jobs for MinJobAge)
and a 1 s first status check (the default 40 s would dominate a run of 23 short jobs).
"""

import os
import re
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from conftest import DEFAULT_GRID, DATA_ROOT, REPO, SNAKEMAKE, TINY, planned_jobs, workdir
from slurm_cluster import RUN_CONF, SlurmCluster
from workflow_rules import loads_no_model, workflow_rules

pytestmark = pytest.mark.workflow
PROFILE = REPO / "profiles" / "slurm"
# entropy over two rounds reaches every model rule: base and round pool scoring, training, both predictions
GRID = {"finetune": {"strategies": ["entropy"], "rounds": [2]}}
GPU_RULES = {"prepare_model", "embed_pool", "score_pool_base", "score_pool_round", "train_adapter",
             "predict_round", "predict_base"}
ON_THIS_MACHINE = ["--sdm", "env-modules", "--slurm-status-command", "squeue",
                   "--slurm-init-seconds-before-status-checks", "1"]
RESULTS = ("final_metrics.csv", "summary.csv", "selection_diagnostics.csv")
TIMING = re.compile(r"seconds|runtime|hours|_s$|max_rss|wall", re.I)  # measured, so may differ between runs


def profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def run_snakemake(wd, configfiles, args, env, timeout=900) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(wd), "--configfile", *map(str, configfiles)]
    return subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root):
    """The grid on SLURM and locally (concurrently); SLURM's job records; the cluster torn down."""
    tmp = tmp_path_factory.mktemp("slurm")
    grid = tmp / "grid.yaml"
    grid.write_text(yaml.safe_dump(GRID))
    configs = (DEFAULT_GRID, TINY, grid)
    env = {**os.environ, "ALGRID_DATA_ROOT": str(DATA_ROOT), "HF_HUB_OFFLINE": "1"}
    local_wd, slurm_wd = workdir(tmp / "local"), workdir(tmp / "on-slurm")
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(local_wd), "--configfile", *map(str, configs)]
    local = subprocess.Popen(cmd + ["-c1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             start_new_session=True)
    try:
        cluster = SlurmCluster(tmp / "cluster")
        with cluster:
            proc = run_snakemake(slurm_wd, configs, ["--profile", str(PROFILE), *ON_THIS_MACHINE],
                                 {**cluster.env, **{k: env[k] for k in ("ALGRID_DATA_ROOT", "HF_HUB_OFFLINE")}})
            jobs, jobcomp = cluster.jobs(), cluster.jobcomp.read_text()
            if proc.returncode != 0:
                raise AssertionError(f"SLURM run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}\n"
                                     f"{cluster.logs()}")
        local_out, _ = local.communicate(timeout=900)
    finally:
        if local.poll() is None:
            os.killpg(local.pid, signal.SIGKILL)
            local.wait()
    assert local.returncode == 0, f"local run failed:\n{local_out[-5000:]}"
    return SimpleNamespace(local=local_wd, slurm=slurm_wd, jobs=jobs, jobcomp=jobcomp, cluster=cluster,
                           planned=planned_jobs(subprocess.CompletedProcess([], 0, local_out, "")), log=proc.stderr)


def rule_of(job: dict) -> str:
    """The plugin names each job's rule in its comment: rule_<name>[_wildcards_<values>]."""
    return re.fullmatch(r"rule_(.+?)(?:_wildcards_.*)?", job["Comment"])[1]


def test_results_equal_the_local_run(runs):
    for name in RESULTS:
        local, slurm = runs.local / "results" / name, runs.slurm / "results" / name
        a, b = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in (local, slurm))
        measured = [c for c in a.columns if TIMING.search(c)]
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0, name
        pd.testing.assert_frame_equal(a.drop(columns=measured), b.drop(columns=measured), obj=name)
        if not measured:  # nothing measured in the file: the same bytes
            assert local.read_bytes() == slurm.read_bytes(), name
    assert (runs.slurm / "results/plots/learning_curve.png").stat().st_size > 10_000


def test_every_job_ran_on_slurm_and_completed(runs):
    ran = {}
    for job in runs.jobs:
        ran[rule_of(job)] = ran.get(rule_of(job), 0) + 1
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
    expected = {rule: n for rule, n in runs.planned.items() if rule != "all"}  # `all` has no job: runs in place
    assert ran == expected
    assert GPU_RULES <= set(ran)
    # jobcomp/filetxt: a record per finished job, written by slurmctld when the job ended
    pattern = r"^JobId=(\d+) .*?JobState=(\w+) Partition=(\w+)"
    records = {m[0]: (m[1], m[2]) for m in re.findall(pattern, runs.jobcomp, re.M)}
    assert records == {job["JobId"]: ("COMPLETED", job["Partition"]) for job in runs.jobs}


def test_each_gpu_rule_asked_for_exactly_one_gpu_and_cpu_rules_for_none(runs):
    for job in runs.jobs:
        rule = rule_of(job)
        asked = (job["Partition"], job.get("TresPerJob"), job.get("TresPerNode"), job.get("JOB_GRES"))
        if rule in GPU_RULES:
            # --gpus=1 only (a --gres on top would show as TresPerNode), one GPU allocated, on the gpu partition
            assert asked == ("gpu", "gres:gpu:1", None, "gpu:1"), (rule, asked)
            assert job.get("CpusPerTres") == "gres:gpu:1", (rule, job.get("CpusPerTres"))  # cpus_per_gpu: threads
        else:
            assert asked == ("cpu", None, None, "(null)"), (rule, asked)


def test_the_cluster_is_torn_down(runs):
    assert all(p.poll() is not None for p in runs.cluster.procs.values()) and not runs.cluster.procs
    assert not RUN_CONF.is_symlink()
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            running.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # ended while we looked
            pass
    assert not [c for c in running if str(runs.cluster.root) in c], "a daemon of the test cluster still runs"


# ---- the profile itself (static, no cluster) -------------------------------------------------------------------
@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return workflow_rules(tmp_path_factory.mktemp("rules"))


def profile_resources(rule: str, declared: dict, threads: int) -> dict:
    """A rule's resources as a run with the profile sees them: the rule's, profile defaults for the unset ones,
    set-resources over both (Snakemake's order); `threads` in a default is the rule's threads."""
    prof = profile()
    merged = {k: (threads if v == "threads" else v) for k, v in prof["default-resources"].items()}
    merged |= {k: v for k, v in declared.items() if k != "tmpdir"}
    return merged | prof.get("set-resources", {}).get(rule, {})


def test_profile_asks_for_gpus_one_way_only():
    prof = profile()
    blocks = [prof["default-resources"], *prof.get("set-resources", {}).values()]
    assert not any("gres" in block for block in blocks), "gpu comes from `gpu`, never also from `gres`"
    assert prof["default-resources"].get("cpus_per_gpu") and "slurm_partition" not in prof["default-resources"]
    assert prof["rerun-incomplete"] is True and prof["latency-wait"] >= 30
    assert (PROFILE / prof["slurm-partition-config"]).is_file()


def test_every_model_rule_is_routed_to_the_gpu_partition(rules):
    """The plugin's own partition choice and GPU flags for every rule, under the profile: a rule that asks for
    a GPU (and every rule in the model env) lands on `gpu` with `--gpus=1`, any other on `cpu` with no GPU."""
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    partitions = read_partition_file(PROFILE / profile()["slurm-partition-config"])
    quiet = SimpleNamespace(info=lambda *a: None, warning=lambda *a: None, debug=lambda *a: None)
    unknown = set(profile().get("set-resources", {})) - set(rules)
    assert not unknown, f"set-resources names rules the workflow lacks: {unknown}"
    routed = {}
    for name, rule in rules.items():
        if not rule["script"]:
            continue
        threads = rule["threads"] if isinstance(rule["threads"], int) else 1
        model_env = rule["conda"] and rule["conda"].endswith("envs/model.yaml") and not loads_no_model(rule["script"])
        # a GPU per job, both values: the judges (none for the refusal detector, algrid.safety.grid.judge_gpus)
        # and icl_select (one only for a strategy that scores with the model, strategy_needs in rules/common.smk)
        gpus = [1, 0] if "gpu" in rule["per_job"] else [rule["resources"].get("gpu", 0)]
        per_job_ok = "judge" in name or name == "icl_select"
        assert len(gpus) == 1 or per_job_ok, f"{name} asks for a GPU per job; only judge rules and icl_select do"
        for n_gpus in gpus:
            declared = {**rule["resources"], **({"gpu": n_gpus} if n_gpus else {})}
            job = SimpleNamespace(name=name, threads=threads, resources=profile_resources(name, declared, threads))
            route = (get_best_partition(partitions, job, quiet), set_gres_string(job).strip())
            gpu = bool(job.resources.get("gpu"))
            assert gpu or not model_env or len(gpus) > 1, f"{name} loads a model (envs/model.yaml) but asks for no GPU"
            assert route == (("gpu", "--gpus=1") if gpu else ("cpu", "")), (name, route)
            routed.setdefault(name, route)
    assert GPU_RULES | {"icl_predict", "icl_judge", "embed_split"} <= {n for n, r in routed.items() if r[0] == "gpu"}
