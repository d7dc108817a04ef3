"""The SparkSession: checks that pyspark, Java 17+, the master URL and the workers' Python are
usable, then the active session, the ``--spark-master`` cluster or ``local[*]``; and the one
place Spark failures become cardgen errors.

The JVM writes its own output (log4j, stack traces) to Spark's log file in the temp directory,
never to the terminal: cardgen's errors name that file when it may help.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cardgen import errors
from cardgen.engines.spark.jvm_output import (
    SPARK_LOG,
    close_dead_gateway,
    jvm_error,
    jvm_output_to,
)
from cardgen.errors import CardgenError, UsageError
from cardgen.models.base import one_line

MIN_JAVA = 17
JAVA_FIX = (
    "install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) and set JAVA_HOME "
    "to its directory (e.g. export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64), or put its "
    "`java` on PATH"
)
MASTER_FIX = "use local[4], local[*], spark://host:7077, yarn or k8s://https://host:6443"
MASTER_CONNECT_SECONDS = 5.0
WORKER_CHECK_SECONDS = 60.0
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_LOCAL = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]")
_WORKER_ERROR = re.compile(r"cardgen\.errors\.(\w+): (.+)")
_CANNOT_RUN = re.compile(r'Cannot run program "([^"]*)": error=\d+, ([^\n]+)')
_NO_MODULE = re.compile(r"No module named '([^']+)'")
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


def require_pyspark() -> None:
    """UsageError naming the install command when pyspark (4.0 or newer) is missing."""
    try:
        import pyspark
    except ImportError:
        raise UsageError(
            "--engine spark needs pyspark, which is not installed: pip install 'cardgen[spark]'"
        ) from None
    major = int(pyspark.__version__.split(".")[0])
    if major < 4:
        raise UsageError(
            f"--engine spark needs pyspark 4.0 or newer, found {pyspark.__version__}: "
            "pip install 'cardgen[spark]'"
        )


def java_version() -> int:
    """The major version of the Java that Spark will start (JAVA_HOME's, else PATH's);
    UsageError with how to install one when there is none or it is older than 17."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = str(Path(home) / "bin" / "java")
        if not os.access(java, os.X_OK):
            raise UsageError(f"JAVA_HOME is {home!r}, which has no bin/java; {JAVA_FIX}")
    else:
        found = shutil.which("java")
        if found is None:
            raise UsageError(f"--engine spark needs Java, and no `java` is on PATH; {JAVA_FIX}")
        java = found
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run {java} -version ({one_line(exc)}); {JAVA_FIX}") from None
    match = _VERSION.search(done.stderr + done.stdout)
    if match is None:
        raise UsageError(f"cannot tell the version of Java at {java}; {JAVA_FIX}")
    major = int(match.group(2) if match.group(1) == "1" else match.group(1))
    if major < MIN_JAVA:
        raise UsageError(
            f"--engine spark needs Java {MIN_JAVA} or newer, found Java {major} at {java}; "
            f"{JAVA_FIX}"
        )
    return major


def check_master(master: str) -> None:
    """UsageError for a master URL pyspark cannot start on (it takes local..., spark://...,
    yarn and k8s://...), or a ``spark://`` master none of whose hosts accepts a connection."""
    if not (_LOCAL.fullmatch(master) or master == "yarn" or master.startswith("k8s://")):
        if not master.startswith("spark://"):
            raise UsageError(f"--spark-master {master!r} is not a Spark master URL; {MASTER_FIX}")
        _check_reachable(master)


def _check_reachable(master: str) -> None:
    failures = []
    for host in master.removeprefix("spark://").split(","):
        try:
            address = urlsplit(f"spark://{host}")
            name, port = address.hostname, address.port
        except ValueError:
            name = port = None
        if not name or port is None:
            raise UsageError(
                f"--spark-master {master!r} names {host!r}, not host:port; e.g. spark://host:7077"
            )
        try:
            with socket.create_connection((name, port), timeout=MASTER_CONNECT_SECONDS):
                return
        except OSError as exc:
            failures.append(f"{name}:{port}: {exc.strerror or one_line(exc)}")
    raise UsageError(
        f"cannot reach the Spark master of --spark-master {master!r} ({'; '.join(failures)}); "
        "check the host and port (spark://host:7077) and that the master is running"
    )


def worker_python() -> str:
    """The Python that Spark's workers run: the active context's, else PYSPARK_PYTHON's."""
    from pyspark import SparkContext

    found = getattr(SparkContext._active_spark_context, "pythonExec", None)
    return str(found or os.environ.get("PYSPARK_PYTHON") or "python3")


_CHECKED_PYTHONS: set[str] = set()


def check_worker_python(python: str) -> None:
    """UsageError when ``python``, the Python that Spark's local workers run, cannot run or
    cannot import cardgen, pandas and pyarrow; checked once per path, and not at all when it
    is this Python."""
    found = shutil.which(python)
    if python in _CHECKED_PYTHONS or (found and os.path.abspath(found) == sys.executable):
        return
    try:
        done = subprocess.run(
            [python, "-c", "import cardgen, pandas, pyarrow"],
            capture_output=True,
            text=True,
            timeout=WORKER_CHECK_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        raise UsageError(f"{_named(python)} cannot run ({reason}); {_python_fix()}") from None
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"{_named(python)} did not import cardgen within {WORKER_CHECK_SECONDS:.0f} s; "
            f"{_python_fix()}"
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        error = lines[-1] if lines else f"exit status {done.returncode}"
        module = _NO_MODULE.search(error)
        lacks = f"has no {module.group(1).split('.')[0]}" if module else "cannot import cardgen"
        raise UsageError(f"{_named(python)} {lacks} ({error}); {_python_fix()}")
    _CHECKED_PYTHONS.add(python)


def _named(python: str) -> str:
    """The workers' Python as a message names it: by PYSPARK_PYTHON when that chose it."""
    if os.environ.get("PYSPARK_PYTHON") == python:
        return f"PYSPARK_PYTHON={shlex.quote(python)}"
    return f"the Python of Spark's workers, {shlex.quote(python)},"


def _python_fix(where: str = "") -> str:
    return (
        f"point PYSPARK_PYTHON at a Python where cardgen is installed{where}, e.g. "
        f"PYSPARK_PYTHON={shlex.quote(sys.executable)}"
    )


def _worker_python_error(message: str) -> str | None:
    """What a Spark failure says about the workers' Python (it cannot start, or lacks a
    module cardgen needs), as a cardgen message; None when it says nothing of the kind."""
    cannot_run = _CANNOT_RUN.search(message)
    if cannot_run is not None:
        python, reason = cannot_run.groups()
        return (
            f"{_named(python)} cannot run on Spark's workers ({reason.strip()}); "
            f"{_python_fix(' on every executor')}"
        )
    module = _NO_MODULE.search(message)
    if module is not None and "Python worker" in message:
        name = module.group(1)
        return (
            f"{_named(worker_python())} has no {name.split('.')[0]} (No module named "
            f"{name!r}); {_python_fix(' on every executor')}"
        )
    return None


def spark_session(master: str | None = None) -> Any:
    """The active SparkSession when ``master`` is None and there is one, else a session on
    ``master`` (``local[*]`` by default). Local masters run workers on this Python unless
    PYSPARK_PYTHON names another, which must have cardgen installed."""
    require_pyspark()
    from pyspark.sql import SparkSession

    if master is not None:
        check_master(master)
    session = SparkSession.getActiveSession()
    if session is None or master is not None:
        java_version()
        master = master or "local[*]"
        if session is None and master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            check_worker_python(os.environ["PYSPARK_PYTHON"])
        running, session = session, _start(master)
        if running is not None and session.sparkContext.master != master:
            raise UsageError(
                f"this process already runs a Spark session on {session.sparkContext.master}, "
                f"so --spark-master {master} would not be used; stop that session first "
                "(spark.stop()), or leave out --spark-master to use it"
            )
    context = session.sparkContext
    if str(context.master).startswith("local"):
        check_worker_python(context.pythonExec)
    return session


def _start(master: str) -> Any:
    """A session on ``master``, the JVM's output going to Spark's log; UsageError naming what
    the JVM said when it cannot start."""
    from pyspark.sql import SparkSession

    log = SPARK_LOG.open()
    start = log.stat().st_size
    failure = None
    with jvm_output_to(log), pandas_warning_ignored():
        try:
            session = (
                SparkSession.builder.master(master)
                .appName("cardgen")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.ui.enabled", "false")
                .getOrCreate()
            )
        except Exception as exc:  # py4j and JVM start-up errors have no common base class
            close_dead_gateway(exc)
            failure = jvm_error(log, start) or one_line(exc)
    if failure is not None:
        raise UsageError(
            f"cannot start Spark on --spark-master {master!r} ({failure}); check the master URL "
            f"({MASTER_FIX}) and that the cluster is reachable{SPARK_LOG.named()}"
        )
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def pandas_warning_ignored() -> Iterator[None]:
    """PySpark's FutureWarning that it "does not yet fully support pandas >= 3.0.0", silenced
    meanwhile: the driver gives it whenever it makes a pandas UDF (``mapInPandas``,
    ``applyInPandas``), and what cardgen does with pandas works with pandas 3."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
        yield


@contextmanager
def spark_errors(what: str, fallback: type[CardgenError] | None = None) -> Iterator[None]:
    """A cardgen error raised in a Python worker is raised again here, as itself; a worker
    Python that cannot start or lacks a module becomes a UsageError naming PYSPARK_PYTHON;
    with ``fallback``, any other Spark failure becomes that error, naming ``what`` failed.
    PySpark's warning about pandas 3 is silenced (see ``pandas_warning_ignored``)."""
    try:
        with pandas_warning_ignored():
            yield
    except CardgenError:
        raise
    except Exception as exc:
        message = str(exc)
        found = _WORKER_ERROR.findall(message)
        kind = getattr(errors, found[-1][0], None) if found else None
        if isinstance(kind, type) and issubclass(kind, CardgenError):
            raise kind(found[-1][1].strip()) from None
        python = _worker_python_error(message)
        if python is not None:
            raise UsageError(python) from None
        if fallback is None:
            raise
        raise fallback(f"{what} failed in Spark: {one_line(exc)}{SPARK_LOG.named()}") from None
