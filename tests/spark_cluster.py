"""A Spark standalone cluster on 127.0.0.1 for the tests: a master and workers started with
pyspark's own ``spark-class``, each in a session of its own, and stopped with every process
they started (executors, their Python workers) by process id, found in /proc by session id."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
START_SECONDS = 120.0
STOP_SECONDS = 10.0
JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
"""For JVMs that live a minute on busy cores: quick to start, few threads."""
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


def spark_home() -> Path:
    """pyspark's directory, which holds ``bin/spark-class`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def session_pids(*sessions: int) -> list[int]:
    """The live processes of the sessions ``sessions`` (a process started with a new session
    has its own pid as session id; its descendants keep it, whatever process groups they
    make)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[3]) in sessions and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The command line of process ``pid``, or '' when it is gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def open_files(pid: int) -> list[str]:
    """The paths of the files process ``pid`` has open now ([] when it is gone)."""
    fds = Path("/proc") / str(pid) / "fd"
    found = []
    try:
        entries = list(fds.iterdir())
    except OSError:
        return []
    for fd in entries:
        try:
            found.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return found


def stop_session(process: subprocess.Popen[Any]) -> None:
    """SIGKILL every process in the session ``process`` leads, by pid, and wait until none is
    left (``process`` must have been started with ``start_new_session=True``)."""
    deadline = time.monotonic() + STOP_SECONDS
    while True:
        for pid in session_pids(process.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.poll()  # reap the leader, so it is not a living zombie
        if not session_pids(process.pid):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of session {process.pid} outlived SIGKILL")
        time.sleep(0.1)


@dataclass
class StandaloneCluster:
    """A running master and its workers (each the leader of its own session)."""

    url: str
    web: str
    master: subprocess.Popen[Any]
    workers: list[subprocess.Popen[Any]]
    root: Path

    def state(self) -> dict[str, Any]:
        """The master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"{self.web}/json/", timeout=5) as reply:
            return dict(json.load(reply))

    def executors(self) -> list[int]:
        """The pids of the executor JVMs the workers run now."""
        pids = session_pids(*(worker.pid for worker in self.workers))
        return [pid for pid in pids if EXECUTOR_CLASS in command_line(pid)]

    def executor_id(self, pid: int) -> str:
        """The Spark executor id of executor JVM ``pid``, from its command line."""
        words = command_line(pid).split()
        return words[words.index("--executor-id") + 1]

    def log_tail(self, chars: int = 2000) -> str:
        """The end of every daemon's and executor's log, for a failure message."""
        logs = sorted(self.root.glob("logs/*.log")) + sorted(self.root.glob("work/*/*/*/stderr"))
        return "\n".join(
            f"--- {log.relative_to(self.root)}\n{log.read_text(errors='replace')[-chars:]}"
            for log in logs
        )


def _daemon(logs: Path, name: str, env: Mapping[str, str], *args: str) -> subprocess.Popen[Any]:
    """``spark-class args`` in a new session, its output going to ``logs/name.log``."""
    with open(logs / f"{name}.log", "wb") as log:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )


@contextmanager
def standalone_cluster(
    root: Path, *, workers: int = 2, env: Mapping[str, str] = {}
) -> Iterator[StandaloneCluster]:
    """A master and ``workers`` workers of one core and 1 GiB each on 127.0.0.1, registered
    and ready, their files under ``root`` and ``env`` added to their environment (executors
    inherit it); everything they started is killed on the way out."""
    logs, work = root / "logs", root / "work"
    for folder in (logs, work, root / "local"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_DIRS": str(root / "local"),
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_DAEMON_JAVA_OPTS": JAVA_OPTS,
        **env,
    }
    port, web_port = free_port(), free_port()
    with ExitStack() as stack:
        master = _daemon(
            logs, "master", env, "org.apache.spark.deploy.master.Master",
            "--host", HOST, "--port", str(port), "--webui-port", str(web_port),
        )  # fmt: skip
        stack.callback(stop_session, master)
        cluster = StandaloneCluster(
            f"spark://{HOST}:{port}", f"http://{HOST}:{web_port}", master, [], root
        )
        for i in range(workers):
            worker = _daemon(
                logs, f"worker-{i}", env, "org.apache.spark.deploy.worker.Worker", cluster.url,
                "--host", HOST, "--webui-port", str(free_port()), "--cores", "1",
                "--memory", "1g", "--work-dir", str(work / str(i)),
            )  # fmt: skip
            stack.callback(stop_session, worker)
            cluster.workers.append(worker)
        _wait_for_workers(cluster, workers)
        yield cluster


def _wait_for_workers(cluster: StandaloneCluster, count: int) -> None:
    """Return once ``count`` workers are ALIVE at the master; RuntimeError with the daemons'
    logs when a daemon exits or they are not within START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        exited = [p for p in (cluster.master, *cluster.workers) if p.poll() is not None]
        if exited:
            raise RuntimeError(f"a Spark daemon exited while starting:\n{cluster.log_tail()}")
        try:
            alive = [w for w in cluster.state()["workers"] if w["state"] == "ALIVE"]
        except OSError:  # the master's web UI is not up yet
            alive = []
        if len(alive) >= count:
            return
        time.sleep(0.25)
    raise RuntimeError(f"{count} Spark workers did not register in time:\n{cluster.log_tail()}")
