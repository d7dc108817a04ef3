"""Training history for cards: a Trainer ``trainer_state.json`` or a Keras history (CSV / JSON).

Both become one table of results per epoch (or per evaluation) and a few hyperparameters.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

# trainer_state.json keys that describe how training was run (the rest is bookkeeping).
TRAINER_HYPERPARAMETERS = (
    "train_batch_size",
    "num_train_epochs",
    "max_steps",
    "logging_steps",
    "eval_steps",
    "save_steps",
)
# Evaluation log entries that are timings, not metrics.
EVAL_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")
NO_LOG = "No log"
WORDS = {"f1": "F1", "auc": "AUC", "roc": "ROC", "lr": "Learning Rate", "val": "Validation"}

Cell = float | int | str | None


@dataclass
class TrainingHistory:
    """Results per epoch (``rows``, keyed by ``columns``) and hyperparameters of a training run.

    ``kind`` is ``"trainer"`` (a transformers ``trainer_state.json``) or ``"keras"`` (a Keras
    ``CSVLogger`` file or ``history.history`` saved as JSON); ``source`` is the file name.
    """

    kind: str
    source: str
    columns: list[str]
    rows: list[dict[str, Cell]]
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def load_training_history(path: str | Path) -> TrainingHistory:
    """Read a ``trainer_state.json``, a Keras ``CSVLogger`` CSV or a Keras history JSON."""
    source = Path(path)
    if not source.is_file():
        raise UsageError(f"training history {source} does not exist")
    try:
        text = source.read_text(encoding="utf-8")
        if source.suffix.lower() == ".csv":
            return _keras_csv(text, source.name)
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise UsageError(f"cannot read training history {source}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        return _trainer_state(data, source.name)
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        return _keras_history(data, source.name)
    raise UsageError(
        f"{source} is neither a trainer_state.json (with a log_history list) nor a Keras "
        "history (a CSVLogger .csv, or a JSON object of per-epoch lists like "
        '{"loss": [...], "val_loss": [...]})'
    )


def load_hyperparameters(path: str | Path) -> dict[str, Any]:
    """Read a JSON object of hyperparameters (name -> value)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"hyperparameters file {source} does not exist") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read hyperparameters file {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{source} must hold a JSON object of hyperparameters (name -> value)")
    return data


def column_title(key: str) -> str:
    """``val_accuracy`` -> ``Validation Accuracy``, ``eval_macro_f1`` -> ``Macro F1``."""
    if key == "loss":
        return "Training Loss"
    if key == "eval_loss":
        return "Validation Loss"
    words = key.removeprefix("eval_").split("_")
    return " ".join(WORDS.get(word, word.capitalize()) for word in words)


def _trainer_state(state: Mapping[str, Any], source: str) -> TrainingHistory:
    """One row per evaluation (with the latest training loss), else one per epoch."""
    log = [entry for entry in state["log_history"] if isinstance(entry, dict)]
    train = [entry for entry in log if "loss" in entry]
    evals = [entry for entry in log if any(key.startswith("eval_") for key in entry)]
    hyperparameters = {key: state[key] for key in TRAINER_HYPERPARAMETERS if key in state}
    if evals:
        metrics = _ordered_keys(
            evals, keep=lambda key: key.startswith("eval_") and key[5:] not in EVAL_TIMINGS
        )
        rows: list[dict[str, Cell]] = []
        for entry in evals:
            before = [t for t in train if t.get("step", 0) <= entry.get("step", 0)]
            row: dict[str, Cell] = {
                "Training Loss": before[-1]["loss"] if before else NO_LOG,
                "Epoch": entry.get("epoch"),
                "Step": entry.get("step"),
            }
            row.update({column_title(key): entry.get(key) for key in metrics})
            rows.append(row)
        columns = ["Training Loss", "Epoch", "Step", *(column_title(key) for key in metrics)]
        return TrainingHistory("trainer", source, columns, rows, hyperparameters)
    last_per_epoch: dict[int, Mapping[str, Any]] = {}
    for entry in train:
        last_per_epoch[math.ceil(float(entry.get("epoch", 0)) - 1e-9)] = entry
    rows = [
        {"Training Loss": e["loss"], "Epoch": e.get("epoch"), "Step": e.get("step")}
        for e in last_per_epoch.values()
    ]
    return TrainingHistory(
        "trainer", source, ["Training Loss", "Epoch", "Step"], rows, hyperparameters
    )


def _keras_history(history: Mapping[str, list[Any]], source: str) -> TrainingHistory:
    """Keras ``history.history``: metric name -> one value per epoch."""
    keys = _keras_order(list(history))
    epochs = max(len(values) for values in history.values())
    rows: list[dict[str, Cell]] = []
    for i in range(epochs):
        row: dict[str, Cell] = {"Epoch": i + 1}
        for key in keys:
            values = history[key]
            row[column_title(key)] = values[i] if i < len(values) else None
        rows.append(row)
    return TrainingHistory("keras", source, ["Epoch", *map(column_title, keys)], rows)


def _keras_csv(text: str, source: str) -> TrainingHistory:
    """A Keras ``CSVLogger`` file: an ``epoch`` column counted from 0, then one per metric."""
    records = list(csv.DictReader(text.splitlines()))
    if not records or "epoch" not in records[0]:
        raise ValueError("expected a Keras CSVLogger file with an 'epoch' column")
    keys = [key for key in records[0] if key != "epoch"]
    by_epoch = sorted(records, key=lambda record: int(record["epoch"]))
    history = {key: [_number(record[key]) for record in by_epoch] for key in keys}
    return _keras_history(history, source)


def _keras_order(keys: list[str]) -> list[str]:
    """loss, training metrics, val_loss, validation metrics, then anything else (e.g. lr)."""
    training = [k for k in keys if not k.startswith("val_") and k not in ("loss", "lr")]
    validation = [k for k in keys if k.startswith("val_") and k != "val_loss"]
    first = [k for k in ("loss",) if k in keys]
    middle = [k for k in ("val_loss",) if k in keys]
    rest = [k for k in ("lr",) if k in keys]
    return first + training + middle + validation + rest


def _ordered_keys(
    entries: Sequence[Mapping[str, Any]], *, keep: Callable[[str], bool]
) -> list[str]:
    """Keys in order of first appearance, ``eval_loss`` first."""
    seen: dict[str, None] = {}
    for entry in entries:
        seen.update(dict.fromkeys(key for key in entry if keep(key)))
    return sorted(seen, key=lambda key: key != "eval_loss")


def _number(value: str) -> Cell:
    try:
        number = float(value)
    except ValueError:
        return value or None
    return int(number) if number.is_integer() and "." not in value else number
