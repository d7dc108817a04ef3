"""One place that validates run options, before any data, model or output is touched."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import UsageError

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
    n_bootstrap: int = 1000,
    seed: int = 0,
    label_order: Sequence[str] | None = None,
) -> None:
    """Raise UsageError naming the first bad option and what it accepts."""
    _check_int("--batch-size", batch_size, low=1, high=MAX_TOKENS, optional=True)
    _check_int("--max-length", max_length, low=1, high=MAX_TOKENS, optional=True, unit="tokens")
    _check_int("--limit", limit, low=1, high=None, optional=True, unit="rows")
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
