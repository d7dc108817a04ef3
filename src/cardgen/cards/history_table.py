"""The table a training log becomes: columns, rows per epoch or evaluation, and the checks
every log format shares (finite numbers, bounded rows and columns, one title per column)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cardgen.errors import CardError
from cardgen.trust.untrusted import quote

MAX_ROWS = 10_000
MAX_COLUMNS = 100
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


def column_title(key: str) -> str:
    """``val_accuracy`` -> ``Validation Accuracy``, ``eval_macro_f1`` -> ``Macro F1``."""
    if key == "loss":
        return "Training Loss"
    if key == "eval_loss":
        return "Validation Loss"
    words = key.removeprefix("eval_").split("_")
    return " ".join(WORDS.get(word, word.capitalize()) for word in words)


def column_titles(
    keys: list[str], taken: list[str], what: str, sets: Sequence[str] = ()
) -> dict[str, str]:
    """Column title of each key; a key whose title is already taken keeps its own name.

    With evaluation ``sets``, ``eval_dev_loss`` is titled ``dev: Loss``.
    """
    if len(keys) > MAX_COLUMNS:
        raise CardError(f"{what} has {len(keys):,} metrics, over cardgen's limit of {MAX_COLUMNS}")
    used = set(taken)
    titles = {}
    for key in keys:
        name = next((n for n in sets if key.startswith(f"eval_{n}_")), None)
        if name is None:
            title = column_title(key)
        else:
            rest = key.removeprefix(f"eval_{name}_")
            title = f"{name}: {'Loss' if rest == 'loss' else column_title(rest)}"
        if title in used:
            title = key
        if title in used:
            raise CardError(f"{what}: two metrics would both be shown as {quote(title)}")
        used.add(title)
        titles[key] = title
    return titles


def check_rows(rows: int, what: str) -> None:
    if rows > MAX_ROWS:
        raise CardError(f"{what} has {rows:,} rows, over cardgen's limit of {MAX_ROWS:,}")


def finite_number(value: Any, where: str) -> float | int:
    """``value`` when it is a finite number; CardError naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CardError(f"{where} is {quote(value)}, not a number")
    if not math.isfinite(value):
        raise CardError(f"{where} is {value}, not a finite number")
    return value
