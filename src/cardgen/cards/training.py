"""Training history for cards: a Trainer ``trainer_state.json`` or a Keras history (CSV / JSON).

Both become one table of results per epoch (or per evaluation) and a few hyperparameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cardgen.cards.history_table import (
    Cell,
    TrainingHistory,
    check_rows,
    column_titles,
    finite_number,
)
from cardgen.cards.keras import keras_csv, keras_history
from cardgen.errors import CardError
from cardgen.trust.untrusted import parse_json, quote, read_text

# trainer_state.json keys that describe how training was run (the rest is bookkeeping). Its
# logging_steps / eval_steps / save_steps hold the Trainer's defaults even when that strategy
# is not `steps`, so they are shown only where the log shows the strategy was `steps`.
TRAINER_HYPERPARAMETERS = ("train_batch_size", "num_train_epochs", "max_steps")
STEP_KINDS = ("logging", "eval", "save")
# Evaluation log entries that are timings, not metrics (also as eval_<set>_runtime).
EVAL_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")
NO_LOG = "No log"
MAX_HISTORY_BYTES = 64 * 2**20
MAX_HYPERPARAMETERS_BYTES = 2**20
MAX_HYPERPARAMETERS = 1_000


def load_training_history(path: str | Path) -> TrainingHistory:
    """Read a ``trainer_state.json``, a Keras ``CSVLogger`` CSV or a Keras history JSON.

    The file is untrusted: it is read with bounds, and every value the card shows must be a
    finite number where a number belongs; anything else is a CardError naming the entry.
    """
    source = Path(path)
    what = f"training history {source}"
    text = read_text(source, error=CardError, what="training history", max_bytes=MAX_HISTORY_BYTES)
    text = text.removeprefix("\ufeff")
    if source.suffix.lower() == ".csv":
        return keras_csv(text, source.name, what)
    data = parse_json(text, source=what, error=CardError)
    if isinstance(data, dict) and "log_history" in data:
        return _trainer_state(data, source.name, what)
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        return keras_history(data, source.name, what)
    raise CardError(
        f"{source} is neither a trainer_state.json (with a log_history list) nor a Keras "
        "history (a CSVLogger .csv, or a JSON object of per-epoch lists like "
        '{"loss": [...], "val_loss": [...]})'
    )


def load_hyperparameters(path: str | Path) -> dict[str, Any]:
    """Read a JSON object of hyperparameters (name -> value)."""
    source = Path(path)
    text = read_text(
        source,
        error=CardError,
        what="hyperparameters file",
        max_bytes=MAX_HYPERPARAMETERS_BYTES,
        encoding="utf-8-sig",
    )
    data = parse_json(text, source=f"hyperparameters file {source}", error=CardError)
    return check_hyperparameters(data, source=str(source))


def check_hyperparameters(data: Any, *, source: str) -> dict[str, Any]:
    """``data`` as a dict of hyperparameters, or CardError: names must be non-empty strings and
    numbers finite."""
    if not isinstance(data, Mapping):
        raise CardError(
            f"{source} must hold a JSON object of hyperparameters (name -> value), "
            f"found a {type(data).__name__}"
        )
    if len(data) > MAX_HYPERPARAMETERS:
        raise CardError(
            f"{source} has {len(data):,} hyperparameters, over cardgen's limit of "
            f"{MAX_HYPERPARAMETERS:,}"
        )
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip():
            raise CardError(
                f"{source} has the hyperparameter name {quote(key)}; names must be non-empty "
                "strings"
            )
        _check_finite(value, f"hyperparameter {quote(key)} in {source}")
    return dict(data)


def _trainer_state(state: Mapping[str, Any], source: str, what: str) -> TrainingHistory:
    """One row per evaluation (with the latest training loss), else one per epoch."""
    log = state["log_history"]
    if not isinstance(log, list) or not log:
        found = "an empty list" if isinstance(log, list) else f"a {type(log).__name__}"
        raise CardError(f"{what}: log_history must be a non-empty list of objects, found {found}")
    train, evals = [], []
    for i, entry in enumerate(log):
        where = f"{what}: log_history[{i}]"
        if not isinstance(entry, dict):
            raise CardError(f"{where} is a {type(entry).__name__}, not an object (key -> value)")
        is_eval = any(key.startswith("eval_") for key in entry)
        if "loss" not in entry and not is_eval:
            continue  # the end-of-training summary and other bookkeeping
        for key in ("epoch", "step"):
            if key not in entry:
                raise CardError(f"{where} has no {key!r}; every log entry needs one")
            finite_number(entry[key], f"{where}[{key!r}]")
        if "loss" in entry:
            finite_number(entry["loss"], f"{where}['loss']")
            train.append(entry)
        if is_eval:
            for key, value in entry.items():
                if key.startswith("eval_"):
                    finite_number(value, f"{where}[{quote(key)}]")
            evals.append(entry)
    if not train and not evals:
        raise CardError(f"{what}: log_history has no training loss and no evaluation entries")
    hyperparameters = _trainer_hyperparameters(state, train, evals, what)
    if evals:
        merged = _merge_by_step(evals)
        check_rows(len(merged), what)
        metrics = _ordered_keys(
            merged, keep=lambda key: key.startswith("eval_") and not _is_timing(key)
        )
        fixed = ["Training Loss", "Epoch", "Step"]
        sets = _eval_sets(evals)
        metrics = _group_by_set(metrics, sets)
        titles = column_titles(metrics, fixed, what, sets=sets)
        rows: list[dict[str, Cell]] = []
        for entry in merged:
            before = [t for t in train if t["step"] <= entry["step"]]
            row: dict[str, Cell] = {
                "Training Loss": before[-1]["loss"] if before else NO_LOG,
                "Epoch": entry["epoch"],
                "Step": entry["step"],
            }
            row.update({titles[key]: entry.get(key) for key in metrics})
            rows.append(row)
        columns = [*fixed, *titles.values()]
        return TrainingHistory("trainer", source, columns, rows, hyperparameters)
    last_per_epoch: dict[int, Mapping[str, Any]] = {}
    for entry in train:
        last_per_epoch[math.ceil(float(entry["epoch"]) - 1e-9)] = entry
    check_rows(len(last_per_epoch), what)
    rows = [
        {"Training Loss": e["loss"], "Epoch": e["epoch"], "Step": e["step"]}
        for e in last_per_epoch.values()
    ]
    return TrainingHistory(
        "trainer", source, ["Training Loss", "Epoch", "Step"], rows, hyperparameters
    )


def _trainer_hyperparameters(
    state: Mapping[str, Any],
    train: Sequence[Mapping[str, Any]],
    evals: Sequence[Mapping[str, Any]],
    what: str,
) -> dict[str, Any]:
    """Batch size, epochs and steps, plus the logging and evaluation strategies the log shows
    (``steps`` with their interval, or ``epoch``); the save strategy is not in the log."""
    hyperparameters: dict[str, Any] = {}
    for key in TRAINER_HYPERPARAMETERS:
        if state.get(key) is not None:
            hyperparameters[key] = finite_number(state[key], f"{what}: {key!r}")
    last_step = max((float(e["step"]) for e in [*train, *evals]), default=0.0)
    # Without entries: logging defaults to `steps` (none was reached), evaluation to `no`.
    for kind, entries, default in (("logging", train, "steps"), ("eval", evals, "no")):
        interval = state.get(f"{kind}_steps")
        if interval is not None:
            finite_number(interval, f"{what}: {kind + '_steps'!r}")
        strategy = _strategy(entries, interval, last_step) if entries else default
        hyperparameters[f"{kind}_strategy"] = strategy
        if strategy == "steps" and interval is not None:
            hyperparameters[f"{kind}_steps"] = interval
    return hyperparameters


def _strategy(entries: Sequence[Mapping[str, Any]], interval: Any, last_step: float) -> str:
    """``steps`` when every entry (but one at the end of training) falls on a multiple of
    ``interval``, else ``epoch`` when all fall on epoch ends."""
    steps = isinstance(interval, int | float) and interval >= 1
    on_steps = steps and all(
        float(e["step"]) % interval == 0 or float(e["step"]) == last_step for e in entries
    )
    on_epochs = all(abs(float(e["epoch"]) - round(float(e["epoch"]))) < 1e-6 for e in entries)
    if on_steps and not (on_epochs and all(float(e["step"]) == last_step for e in entries)):
        return "steps"
    return "epoch" if on_epochs else "steps"


def effective_hyperparameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without ``X_steps`` where ``X_strategy`` (or the older
    ``evaluation_strategy``) says it was not in effect, e.g. TrainingArguments saved as JSON."""
    kept = dict(params)
    for kind in STEP_KINDS:
        strategy = params.get(f"{kind}_strategy")
        if strategy is None and kind == "eval":
            strategy = params.get("evaluation_strategy")
        if isinstance(strategy, str) and strategy.lower().removeprefix("intervalstrategy.") != (
            "steps"
        ):
            kept.pop(f"{kind}_steps", None)
    return kept


def _eval_sets(evals: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the evaluation sets of a Trainer with ``eval_dataset={"dev": ...}``: the
    ``X`` of ``eval_X_runtime`` / ``eval_X_loss`` keys."""
    names: dict[str, None] = {}
    for entry in evals:
        for key in entry:
            for suffix in ("_runtime", "_loss"):
                name = key.removeprefix("eval_").removesuffix(suffix)
                if key.startswith("eval_") and key.endswith(suffix) and name != key[5:] and name:
                    names[name] = None
    return sorted(names, key=len, reverse=True)  # longest first: "dev_2" before "dev"


def _group_by_set(keys: list[str], sets: Sequence[str]) -> list[str]:
    """Keys of each evaluation set together (in order of first appearance), loss first."""

    def owner(key: str) -> str:
        return next((n for n in sets if key.startswith(f"eval_{n}_")), "")

    order = list(dict.fromkeys(owner(key) for key in keys))
    return sorted(
        keys, key=lambda k: (order.index(owner(k)), not k.endswith("_loss"), keys.index(k))
    )


def _merge_by_step(evals: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per evaluation step: several eval sets log one entry each at the same step."""
    merged: dict[Any, dict[str, Any]] = {}
    for entry in evals:
        row = merged.setdefault(entry["step"], {"epoch": entry["epoch"], "step": entry["step"]})
        row.update({key: value for key, value in entry.items() if key.startswith("eval_")})
    return list(merged.values())


def _is_timing(key: str) -> bool:
    return any(key == f"eval_{t}" or key.endswith(f"_{t}") for t in EVAL_TIMINGS)


def _ordered_keys(
    entries: Sequence[Mapping[str, Any]], *, keep: Callable[[str], bool]
) -> list[str]:
    """Keys in order of first appearance, ``eval_loss`` first."""
    seen: dict[str, None] = {}
    for entry in entries:
        seen.update(dict.fromkeys(key for key in entry if keep(key)))
    return sorted(seen, key=lambda key: key != "eval_loss")


def _check_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinity anywhere in ``value`` (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise CardError(f"{where} is {value}, not a finite number")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, where)
