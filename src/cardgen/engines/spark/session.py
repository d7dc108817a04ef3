"""The SparkSession: checks that pyspark and Java 17+ are there, then the active session, the
``--spark-master`` cluster or ``local[*]``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cardgen import errors
from cardgen.errors import CardgenError, UsageError
from cardgen.models.base import one_line

MIN_JAVA = 17
JAVA_FIX = (
    "install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) and set JAVA_HOME "
    "to its directory (e.g. export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64), or put its "
    "`java` on PATH"
)
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


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


_WORKER_ERROR = re.compile(r"cardgen\.errors\.(\w+): (.+)")


def spark_session(master: str | None = None) -> Any:
    """The active SparkSession when ``master`` is None and there is one, else a session on
    ``master`` (``local[*]`` by default). Local masters run workers on this Python."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    java_version()
    master = master or "local[*]"
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        session = (
            SparkSession.builder.master(master)
            .appName("cardgen")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
    except Exception as exc:  # py4j and JVM start-up errors have no common base class
        raise UsageError(
            f"cannot start Spark on --spark-master {master!r} ({one_line(exc)}); check the "
            "master URL (local[4], spark://host:7077, yarn) and that the cluster is reachable"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session

@contextmanager
def spark_errors(what: str, fallback: type[CardgenError] | None = None) -> Iterator[None]:
    """A cardgen error raised in a Python worker is raised again here, as itself; with
    ``fallback``, any other Spark failure becomes that error, naming ``what`` failed. PySpark's
    warning about pandas 3 (it works for what cardgen does) is silenced."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            yield
    except CardgenError:
        raise
    except Exception as exc:
        found = _WORKER_ERROR.findall(str(exc))
        kind = getattr(errors, found[-1][0], None) if found else None
        if isinstance(kind, type) and issubclass(kind, CardgenError):
            raise kind(found[-1][1].strip()) from None
        if fallback is None:
            raise
        raise fallback(f"{what} failed in Spark: {one_line(exc)}") from None
