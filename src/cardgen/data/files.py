"""Local dataset files: CSV, TSV, JSON, JSONL and Parquet, read into columns."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cardgen.data.columns import ArrowColumns, Columns, check_names, json_kind
from cardgen.errors import CardgenError, DataError
from cardgen.trust.untrusted import MAX_FILE_BYTES, parse_json, quote, read_lines, read_text

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}
_BARE_CR = re.compile(r"(?<=\r)(?!\n)")
MAX_PARQUET_BYTES = 4 * MAX_FILE_BYTES
"""Most uncompressed bytes a Parquet file may hold (a small file can unpack to gigabytes)."""


def read_file(path: Path) -> Columns:
    """The columns of a data file, chosen by its suffix; DataError names the line or value."""
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"unknown dataset format {quote(path.suffix)} for {path}; "
            f"use one of {', '.join(FILE_FORMATS)} or a `datasets` directory"
        )
    rows: Mapping[str, list[Any]]
    try:
        if kind == "parquet":
            rows = _read_parquet(path)
        elif kind in ("csv", "tsv"):
            rows = _read_delimited(_lines(path), "\t" if kind == "tsv" else ",")
        elif kind == "jsonl":
            rows = _read_jsonl(_lines(path))
        else:
            rows = _read_json(_read_text(path))
    except DataError as exc:
        raise DataError(f"cannot read {path} as {kind}: {exc}") from None
    return Columns(
        rows=rows, class_names=None, source=str(path), name=path.stem, split=infer_split(path)
    )


# How `datasets` names splits in file and folder names (datasets.data_files.SPLIT_KEYWORDS): a
# keyword at the start or after a separator, followed by a separator (".", "-", "_", " ", digit).
SPLIT_KEYWORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SEPARATORS = r"[-._ 0-9]"


def infer_split(path: Path) -> str | None:
    """The split a data file's name says, as ``datasets`` reads it: ``sst2_validation.jsonl``
    -> validation, ``test.csv`` -> test; else its folder's name when that is a keyword
    (``dev/part-0.csv`` -> validation). None when no name says it or two splits are named."""
    found = {
        split
        for split, keywords in SPLIT_KEYWORDS.items()
        for keyword in keywords
        if re.search(rf"(?:^|{_SEPARATORS}){keyword}{_SEPARATORS}", path.name.lower())
    }
    if not found:
        folder = path.parent.name.lower()
        found = {split for split, words in SPLIT_KEYWORDS.items() if folder in words}
    return found.pop() if len(found) == 1 else None


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a byte-order mark dropped); DataError names a bad byte's line."""
    try:
        text = read_text(path, error=DataError, what="dataset file")
    except DataError as exc:
        bad = exc.__context__
        if not isinstance(bad, UnicodeDecodeError):
            raise
        raw, start = bad.object, bad.start
        hint = "it looks like UTF-16; " if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        line = raw.count(b"\n", 0, start) + 1
        raise DataError(
            f"dataset file {path} is not UTF-8 text: byte 0x{raw[start]:02x} on line {line} "
            f"(byte offset {start}, {bad.reason}); {hint}save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _lines(path: Path) -> Iterator[str]:
    """The file's lines as UTF-8 text, streamed (``read_lines``); DataError also names the
    line of a NUL byte."""
    for number, line in read_lines(path, error=DataError, what="dataset file"):
        if "\x00" in line:
            raise DataError(
                f"NUL byte on line {number}; this is not a text file (a spreadsheet, or "
                "UTF-16?); export it as UTF-8"
            )
        yield line


def _read_delimited(lines: Iterator[str], delimiter: str) -> dict[str, list[Any]]:
    """CSV or TSV with a header line; every row must have as many fields as the header."""
    reader = csv.reader(_split_bare_cr(lines), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return {}
        if not header:
            raise DataError("line 1 is empty; the first line must name the columns")
        check_names(header, "the header")
        columns: list[list[str]] = [[] for _ in header]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"line {reader.line_num} has {_count(len(row), 'field')} but the header "
                    f"has {len(header)}; quote fields that contain {delimiter!r} or newlines"
                )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
    except csv.Error as exc:
        hint = "; use JSONL or Parquet for longer texts" if "field limit" in str(exc) else ""
        raise DataError(f"line {reader.line_num}: {exc}{hint}") from None
    return dict(zip(header, columns, strict=True))


def _split_bare_cr(lines: Iterator[str]) -> Iterator[str]:
    """Lines with a lone CR split as universal newlines would (old Mac line ends)."""
    for line in lines:
        if "\r" in line.rstrip("\r\n"):
            yield from filter(None, _BARE_CR.split(line))
        else:
            yield line


def _read_jsonl(lines: Iterator[str]) -> dict[str, list[Any]]:
    """One JSON object per line, gathered straight into columns (a key a row lacks is None)."""
    columns: dict[str, list[Any]] = {}
    rows = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"line {number}"
        record = parse_json(line, source=where, error=DataError)
        if not isinstance(record, dict):
            raise DataError(
                f"{where} is a JSON {json_kind(record)}, not an object; JSONL needs one "
                'object per line, like {"text": "...", "label": "..."}'
            )
        for key in record:
            if key not in columns:
                columns[key] = [None] * rows
        for key, column in columns.items():
            column.append(record.get(key))
        rows += 1
    return columns


def _read_json(text: str) -> dict[str, list[Any]]:
    """A list of row objects, or an object of equal-length column lists."""
    data = parse_json(text, source="the file", error=DataError)
    layouts = '[{"text": ..., "label": ...}, ...] or {"text": [...], "label": [...]}'
    if isinstance(data, list):
        return _records_to_columns(data)
    if not isinstance(data, dict):
        raise DataError(f"the file holds a JSON {json_kind(data)}; use {layouts}")
    for key, value in data.items():
        if not isinstance(value, list):
            raise DataError(
                f"the file is a JSON object whose {quote(key)} is a {json_kind(value)}, not a "
                f"list of column values; use {layouts}"
            )
    lengths = {key: len(value) for key, value in data.items()}
    if len(set(lengths.values())) > 1:
        (short, n), *_, (long, m) = sorted(lengths.items(), key=lambda item: item[1])
        raise DataError(
            f"columns have different lengths: {quote(short)} has {_count(n, 'value')}, "
            f"{quote(long)} has {m}; every column needs one value per row"
        )
    return data


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _records_to_columns(records: list[Any]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for number, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(
                f"item {number} is a JSON {json_kind(record)}, not an object; "
                'every row must be an object like {"text": "...", "label": "..."}'
            )
        names.update(dict.fromkeys(record))
    return {name: [record.get(name) for record in records] for name in names}


def _read_parquet(path: Path) -> ArrowColumns:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as parquet:
            check_names(parquet.schema_arrow.names, "its schema")
            meta = parquet.metadata
            size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if size > MAX_PARQUET_BYTES:
                raise DataError(
                    f"it unpacks to {size:,} bytes, over cardgen's limit of "
                    f"{MAX_PARQUET_BYTES:,} bytes; evaluate on a sample of it"
                )
            return ArrowColumns(parquet.read(), str(path))
    except CardgenError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError, EOFError) as exc:
        raise DataError(
            f"not a readable Parquet file ({type(exc).__name__}: {quote(str(exc))})"
        ) from None
