"""A real one-node SLURM on localhost for tests: munged, slurmctld and slurmd started as plain processes.

Debian's ``slurm-wlm`` (22.05) and ``munge`` must be installed (./test.sh installs them). Everything lives in one
directory (config, state, spool, logs, the munge socket and key) and is torn down by ``stop()``. The node offers
two partitions, ``cpu`` and ``gpu`` (the names profiles/slurm/partitions.yaml uses), and a ``gpu`` GRES of two
device-like files, so SLURM schedules, counts and exports GPUs (``CUDA_VISIBLE_DEVICES``) as on a real GPU node.
There is no slurmdbd: finished jobs stay visible to ``squeue``/``scontrol`` (``MinJobAge``) for the whole run,
and ``jobcomp/filetxt`` writes one record per finished job.
"""

import os
import shutil
import signal
import stat
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLUSTER = "algrid-test"
RUN_CONF = Path("/run/slurm/conf")  # clients' fallback config directory (a configless slurmd's link)
NODE = "algrid-node"
NODE_CPUS = 4  # more than this machine has (SlurmdParameters=config_overrides): a few jobs at once
NODE_GPUS = 2
NODE_MEM_MB = 262144  # memory is booked, not enforced (no cgroups): the profile's requests must fit


def missing_commands() -> list[str]:
    return [c for c in (*DAEMONS, "sbatch", "squeue", "scontrol", "sinfo", "munge") if shutil.which(c) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """``with SlurmCluster(root) as cluster:`` runs a one-node cluster; ``cluster.env`` is what clients need."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.procs: dict[str, subprocess.Popen] = {}
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "etc" / "slurm.conf"
        self.jobcomp = self.root / "log" / "jobcomp.txt"
        self.munge_socket = self.root / "munge" / "munge.sock"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for var in [v for v in self.env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))]:
            if var != "SLURM_CONF":
                del self.env[var]

    # -- configuration -------------------------------------------------------------------------------------
    def write_config(self) -> None:
        for sub in ("etc", "state", "spool", "log", "munge", "dev"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o755)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        for i in range(NODE_GPUS):  # character devices with NVIDIA's numbers; nothing ever opens them
            os.mknod(self.root / "dev" / f"nvidia{i}", stat.S_IFCHR | 0o600, os.makedev(195, i))
        self.ctld_port, slurmd_port = _free_port(), _free_port()
        self.conf.write_text(f"""\
ClusterName={CLUSTER}
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={self.ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.root / 'state'}
SlurmdSpoolDir={self.root / 'spool'}
SlurmctldPidFile={self.root / 'slurmctld.pid'}
SlurmdPidFile={self.root / 'slurmd.pid'}
SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}
SlurmdLogFile={self.root / 'log' / 'slurmd.log'}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge=3600
InactiveLimit=0
KillWait=5
Waittime=0
NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={self.host} CPUs={NODE_CPUS} Boards=1 SocketsPerBoard=1 \
CoresPerSocket={NODE_CPUS} ThreadsPerCore=1 RealMemory={NODE_MEM_MB} Gres=gpu:{NODE_GPUS} State=UNKNOWN
PartitionName=cpu Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={NODE} Default=NO MaxTime=INFINITE State=UP
""")
        (self.conf.parent / "gres.conf").write_text(  # gres/gpu needs File=: SLURM drops file-less GPUs
            f"AutoDetect=off\nNodeName={NODE} Name=gpu File={self.root / 'dev'}/nvidia[0-{NODE_GPUS - 1}]\n")
        (self.conf.parent / "plugstack.conf").write_text("")
        self.conf.parent.joinpath("cgroup.conf").write_text("")

    # -- processes ---------------------------------------------------------------------------------------------
    def _start(self, name: str, cmd: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True, preexec_fn=_die_with_parent)

    def start(self) -> "SlurmCluster":
        missing = missing_commands()
        if missing:
            raise RuntimeError(f"SLURM test needs {', '.join(missing)} (apt-get install slurm-wlm munge)")
        if Path("/etc/slurm/slurm.conf").exists():
            raise RuntimeError("/etc/slurm/slurm.conf exists: this machine is part of a real cluster; not starting one")
        if RUN_CONF.is_symlink() or RUN_CONF.exists():
            if CLUSTER not in _read(RUN_CONF / "slurm.conf") and RUN_CONF.exists():
                raise RuntimeError(f"{RUN_CONF} exists: a real slurmd runs on this machine; not touching it")
            RUN_CONF.unlink()  # left by a test cluster that was killed
        self.write_config()
        # Where srun inside a job finds the cluster: the jobstep plugin drops SLURM_CONF (with every SLURM_*
        # variable) from the environment it gives srun, which then reads /etc/slurm/slurm.conf or, failing
        # that, /run/slurm/conf/slurm.conf (the link a configless slurmd keeps). We keep that link, to our config.
        RUN_CONF.parent.mkdir(parents=True, exist_ok=True)
        RUN_CONF.symlink_to(self.conf.parent, target_is_directory=True)
        munge = self.root / "munge"
        # --force: the socket's parent directories (pytest's tmp) are not world-executable
        self._start("munged", ["munged", "--foreground", "--force", f"--socket={self.munge_socket}",
                               f"--key-file={munge / 'munge.key'}", f"--log-file={munge / 'munged.log'}",
                               f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'munged.seed'}"])
        self._wait(lambda: self.munge_socket.exists(), "munged socket")
        self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._wait(lambda: self._ok(["scontrol", "ping"], "UP"), "slurmctld")
        self._start("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(self.conf)])
        self._wait(lambda: self._ok(["sinfo", "-h", "-N", "-o", "%T"], "idle"), "slurmd (node idle)")
        return self

    def _ok(self, cmd, expect) -> bool:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        return proc.returncode == 0 and expect in proc.stdout

    def _wait(self, ready, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited while waiting for {what}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        texts = []
        for path in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if path.is_file():
                texts.append(f"== {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(texts)

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons in reverse order (TERM, then KILL)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, capture_output=True)
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()
        if RUN_CONF.is_symlink() and os.readlink(RUN_CONF).startswith(str(self.root)):
            RUN_CONF.unlink()

    def __enter__(self) -> "SlurmCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- queries ---------------------------------------------------------------------------------------------
    def run(self, *cmd: str) -> str:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld remembers (all of them, MinJobAge=3600), as ``scontrol show job -o`` fields."""
        out = self.run("scontrol", "show", "job", "-o", "--details")
        return [_fields(line) for line in out.splitlines() if line.startswith("JobId=")]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it ends (Linux prctl)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _fields(line: str) -> dict[str, str]:
    """``Key=Value Key=Value ...`` (values may contain spaces only in a few keys we do not read)."""
    out = {}
    for item in line.split():
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out
