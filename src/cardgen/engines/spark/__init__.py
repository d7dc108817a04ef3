"""The Spark engine: evaluate on a Spark cluster with the same answers as the local engine.

Executors load the model once per Python worker, run it on their partitions and write the
per-example predictions as Parquet; the driver reads back their compact columns and the
evaluation goes on exactly as for the local engine. Nothing outside this package imports
pyspark, and importing this package does not either: its names load on first use, after a
check that pyspark is installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SparkClassifier", "SparkEngine", "spark_classifier"]
_MODULES = {
    "SparkClassifier": "classifier",
    "spark_classifier": "classifier",
    "SparkEngine": "engine",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    from cardgen.engines.spark.session import require_pyspark

    require_pyspark()
    return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
