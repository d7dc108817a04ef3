"""One place that validates run options, before any data, model or output is touched."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cardgen.errors import UsageError
from cardgen.trust.untrusted import MAX_LABELS, parse_json, quote, read_text

DTYPES = ("auto", "float32", "float16", "bfloat16")
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_BOOTSTRAP = 100_000
MAX_TOKENS = 1_000_000
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,3})?)$")


def check_run_options(
    *,
    batch_size: int | None = None,
    max_length: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    limit: int | None = None,
    sample: bool = False,
    n_bootstrap: int = 1000,
    seed: int = 0,
    label_order: Sequence[str] | None = None,
    robustness: Sequence[str] = (),
    robustness_sample: int | None = None,
) -> None:
    """Raise UsageError naming the first bad option and what it accepts."""
    _check_int("--batch-size", batch_size, low=1, high=MAX_TOKENS, optional=True)
    _check_int("--max-length", max_length, low=1, high=MAX_TOKENS, optional=True, unit="tokens")
    _check_int("--limit", limit, low=1, high=None, optional=True, unit="rows")
    if sample and limit is None:
        raise UsageError("--sample draws the --limit rows at random: add --limit N, or no --sample")
    _check_int("--bootstrap", n_bootstrap, low=0, high=MAX_BOOTSTRAP, unit="resamples")
    _check_int("--seed", seed, low=0, high=MAX_SEED)
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise UsageError(f"unknown --device {device!r}; use auto, cpu, cuda or cuda:N")
    if dtype not in DTYPES:
        raise UsageError(f"unknown --dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if label_order is not None:
        names = [str(name) for name in label_order]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if not names or any(not name.strip() for name in names) or duplicates:
            raise UsageError(
                "--label-order takes the dataset's labels once each, class id 0 first "
                f"(e.g. --label-order negative,positive), got {','.join(names)!r}"
            )
    _check_robustness(robustness, robustness_sample)


def _check_robustness(names: Sequence[str], sample: int | None) -> None:
    """The sample size; the names are resolved by ``analysis.perturb.resolve_perturbations``."""
    _check_int("--robustness-sample", sample, low=1, high=None, optional=True, unit="rows")
    if not names and sample is not None:
        raise UsageError("--robustness-sample needs --robustness NAMES (e.g. --robustness all)")


def _check_int(
    flag: str,
    value: int | None,
    *,
    low: int,
    high: int | None,
    optional: bool = False,
    unit: str = "",
) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{flag} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high:,}" if high is not None else f"{low} or more"
        what = f" {unit}" if unit else ""
        raise UsageError(f"{flag} must be {bound}{what}, got {value}")


def split_list(value: str | None) -> list[str] | None:
    """``a,b,c`` -> ["a", "b", "c"] (spaces around names dropped); None stays None."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",")]


DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Thresholds:
    """Multi-label decision thresholds: ``per_label`` overrides ``default`` for the labels it
    names (dataset label names); ``source`` is ``default``, ``option`` or the file's name."""

    default: float = DEFAULT_THRESHOLD
    per_label: Mapping[str, float] = field(default_factory=dict)
    source: str = "default"


def check_threshold(value: float | str | Path | Mapping[str, float] | None) -> Thresholds:
    """``--threshold``: one probability (``0.3``), a JSON file of label -> threshold, or such
    a mapping; every threshold must lie strictly between 0 and 1. UsageError otherwise."""
    if value is None:
        return Thresholds()
    if isinstance(value, str) and not value.lower().endswith(".json"):
        try:
            value = float(value)
        except ValueError:
            raise UsageError(
                f"--threshold must be a probability such as 0.5 or a .json file of label -> "
                f"threshold, got {quote(value)}"
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Thresholds(default=_threshold("--threshold", value), source="option")
    source, name = "the thresholds mapping", "mapping"
    if isinstance(value, str | Path):
        path = Path(value)
        source, name = f"thresholds file {path}", path.name
        value = parse_json(
            read_text(path, error=UsageError, what="thresholds file", encoding="utf-8-sig"),
            source=source,
            error=UsageError,
        )
    if not isinstance(value, Mapping) or not value or len(value) > MAX_LABELS:
        raise UsageError(
            f"{source} must be a JSON object of 1 to {MAX_LABELS:,} label -> threshold pairs, "
            'e.g. {"toxic": 0.3, "insult": 0.6}'
        )
    per_label = {str(k): _threshold(f"{source}: label {quote(k)}", v) for k, v in value.items()}
    return Thresholds(per_label=per_label, source=name)


def _threshold(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise UsageError(
            f"{where} has threshold {quote(value)}; a threshold is a probability strictly "
            "between 0 and 1, e.g. 0.5"
        )
    return float(value)


ENGINES = ("local", "spark")


def check_engine(engine: str, spark_master: str | None) -> None:
    """``--engine`` and ``--spark-master``."""
    if engine not in ENGINES:
        raise UsageError(f"unknown --engine {engine!r}; use {' or '.join(ENGINES)}")
    if spark_master is not None and (engine != "spark" or not str(spark_master).strip()):
        raise UsageError(
            "--spark-master names the cluster of --engine spark (e.g. local[4], "
            "spark://host:7077 or yarn); add --engine spark or drop --spark-master"
        )
