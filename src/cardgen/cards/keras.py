"""Keras training logs: a ``CSVLogger`` file or ``history.history`` saved as JSON."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from typing import Any

from cardgen.cards.history_table import (
    Cell,
    TrainingHistory,
    check_rows,
    column_titles,
    finite_number,
)
from cardgen.errors import CardError
from cardgen.trust.untrusted import quote

CSV_SEPARATORS = (",", ";", "\t", "|")
# Keras history keys that are not metrics: shown last, apart from them.
KERAS_SCHEDULE = ("lr", "learning_rate")


def keras_history(history: Mapping[str, list[Any]], source: str, what: str) -> TrainingHistory:
    """Keras ``history.history``: metric name -> one value per epoch (None where missing)."""
    if not history:
        raise CardError(f"{what} has no metric columns besides the epoch")
    lengths = {len(values) for values in history.values()}
    if len(lengths) > 1:
        counts = ", ".join(f"{quote(k)}: {len(v)}" for k, v in list(history.items())[:6])
        raise CardError(
            f"{what}: the per-epoch lists have different lengths ({counts}); each metric needs "
            "one value per epoch"
        )
    epochs = lengths.pop()
    if epochs == 0:
        raise CardError(f"{what}: the per-epoch lists are empty")
    check_rows(epochs, what)
    for key, values in history.items():
        if not key.strip():
            raise CardError(f"{what}: a metric has an empty name")
        for i, value in enumerate(values):
            if value is not None:
                finite_number(value, f"{what}: {quote(key)}[{i}]")
    keys = _keras_order(list(history))
    titles = column_titles(keys, ["Epoch"], what)
    rows: list[dict[str, Cell]] = []
    for i in range(epochs):
        row: dict[str, Cell] = {"Epoch": i + 1}
        row.update({titles[key]: history[key][i] for key in keys})
        rows.append(row)
    return TrainingHistory("keras", source, ["Epoch", *titles.values()], rows)


def keras_csv(text: str, source: str, what: str) -> TrainingHistory:
    """A Keras ``CSVLogger`` file: an ``epoch`` column counted from 0, then one per metric.

    The separator is CSVLogger's ``separator``: one of ``,`` ``;`` tab ``|``, whichever splits
    the header into a column ``epoch``.
    """
    first = text.split("\n", 1)[0].strip("\r")
    separator = next(
        (sep for sep in CSV_SEPARATORS if "epoch" in first.split(sep)), CSV_SEPARATORS[0]
    )
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    try:
        header = next(reader, [])
        lines = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise CardError(f"{what} is not a valid CSV file: {exc} (line {reader.line_num})") from None
    if "epoch" not in header:
        raise CardError(
            f"{what}: expected a Keras CSVLogger file with an 'epoch' column, found the columns "
            f"{quote(header)}"
        )
    if len(set(header)) != len(header) or not all(name.strip() for name in header):
        raise CardError(f"{what}: the header {quote(header)} has an empty or repeated column name")
    if not lines:
        raise CardError(f"{what} has a header but no rows")
    check_rows(len(lines), what)
    by_epoch: dict[int, list[str]] = {}
    for number, row in lines:
        if len(row) != len(header):
            raise CardError(
                f"{what}, line {number}: {len(row)} fields where the header has {len(header)}"
            )
        cell = row[header.index("epoch")].strip()
        if not cell.isdigit():
            raise CardError(f"{what}, line {number}: epoch {quote(cell)} is not a whole number")
        if int(cell) in by_epoch:
            raise CardError(f"{what}, line {number}: epoch {cell} appears twice")
        by_epoch[int(cell)] = row
    keys = [key for key in header if key != "epoch"]
    history = {
        key: [
            _csv_number(by_epoch[epoch][header.index(key)], f"{what}: epoch {epoch}, {quote(key)}")
            for epoch in sorted(by_epoch)
        ]
        for key in keys
    }
    return keras_history(history, source, what)


def _keras_order(keys: list[str]) -> list[str]:
    """loss, training metrics, val_loss, validation metrics, then the learning rate."""
    training = [k for k in keys if not k.startswith("val_") and k not in ("loss", *KERAS_SCHEDULE)]
    validation = [k for k in keys if k.startswith("val_") and k != "val_loss"]
    first = [k for k in ("loss",) if k in keys]
    middle = [k for k in ("val_loss",) if k in keys]
    rest = [k for k in KERAS_SCHEDULE if k in keys]
    return first + training + middle + validation + rest


def _csv_number(value: str, where: str) -> Cell:
    """A CSVLogger cell: a number, or None when empty or ``NA``."""
    text = value.strip()
    if text in ("", "NA"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise CardError(f"{where} is {quote(value)}, not a number") from None
    if not math.isfinite(number):
        raise CardError(f"{where} is {quote(value)}, not a finite number")
    return (
        int(number)
        if number.is_integer() and "." not in text and "e" not in text.lower()
        else number
    )
