"""Evaluation rows as a Spark DataFrame: read, columns picked, rows numbered in file order,
texts and labels checked the way ``cardgen.data.load`` checks local files, and the fingerprint.
JSON columns that mix strings with other values are read as VARIANT (see ``json_values``), so
their values keep the types the local engine sees.

Rows are numbered without moving them: a file scan's rows keep their order within each split
(file, byte offset), so counting the rows of every split once gives each split's first row
number; other DataFrames are numbered in partition order the same way.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cardgen.data import fingerprint as _fingerprint
from cardgen.data.columns import Columns, check_names, slice_column
from cardgen.data.files import infer_split
from cardgen.data.fingerprint import dataset_fingerprint
from cardgen.data.label_sets import LabelSets
from cardgen.data.load import (
    LABEL_COLUMNS,
    MAX_LABELS,
    kept_rows,
    label_sets_from_json,
    pick_column,
    read_label_names,
    text_columns,
)
from cardgen.engines.spark.json_values import (
    as_inferred_string,
    as_text,
    as_token,
    from_token,
    is_variant,
    variant_schema,
)
from cardgen.engines.spark.session import pandas_warning_ignored
from cardgen.engines.spark.worker import LabelSetColumn, block_digests, row_digests
from cardgen.errors import DataError, UsageError
from cardgen.results.schema import DatasetInfo, TextPair
from cardgen.trust.untrusted import quote

FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "tsv"}
_GLOB_CHARACTERS = re.compile(r"([\\*?\[\]{}])")


@dataclass
class SparkRows:
    """Rows ``index``, ``text``, ``pair`` (None for single texts) and ``label`` (a name)."""

    frame: DataFrame
    label_names: list[str]
    indexed: bool
    info: DatasetInfo
    slice_columns: tuple[str, ...] = ()
    """The ``--slice-by`` columns, carried as ``slice_alias(i)``."""
    label_sets: LabelSets | None = None
    """Multi-label gold, read on the driver in row-id order; ``label`` then holds each row's
    label list as a JSON token, which ``label_column`` reads on the workers."""
    label_column: LabelSetColumn | None = None


def slice_alias(i: int) -> str:
    """The name slice column ``i`` travels under in ``SparkRows.frame``."""
    return f"_slice{i}"


def read_dataset(spark: SparkSession, dataset: str) -> tuple[DataFrame, str, bool]:
    """A file, glob, directory of Parquet files, URI or catalog table as a DataFrame; its
    source name, and whether it is a file scan (numbered by file and offset). A path that
    exists is that path, whatever characters it holds; JSON string columns are read as
    VARIANT (see ``json_values``)."""
    text = os.path.expanduser(str(dataset))
    remote = "://" in text
    matches = [text] if not remote and os.path.exists(text) else sorted(glob.glob(text))
    if not matches and not remote:
        if os.sep in text or Path(text).suffix.lower() in FORMATS or text.startswith("."):
            raise DataError(f"dataset file {quote(str(dataset))} does not exist")
        try:
            return spark.table(text), text, False
        except Exception:  # AnalysisException: no such table
            raise DataError(
                f"dataset {quote(str(dataset))} is not a file, glob or table Spark knows; pass "
                "Parquet, JSON Lines or CSV paths (globs allowed) or a catalog table name"
            ) from None
    first = matches[0] if matches else text
    kind = "parquet" if Path(first).is_dir() else FORMATS.get(Path(first).suffix.lower())
    if kind is None:
        raise DataError(
            f"dataset {quote(str(dataset))} is not a format the Spark engine reads; use "
            f"{', '.join(FORMATS)} files or a directory of Parquet files"
        )
    with_array = kind == "json" and first.endswith(".json") and _starts_with_bracket(first)
    for path in matches:
        _check_literal(path, whole_files=kind in ("csv", "tsv") or with_array)
    paths = [_literal_path(path) for path in matches] or [text]
    if kind == "json":
        options: dict[str, str | bool] = {"mode": "FAILFAST", "multiLine": with_array}
        frame = spark.read.options(**options).json(paths)
        typed = variant_schema(frame.schema)
        if typed is not None:
            frame = spark.read.options(**options).schema(typed).json(paths)
    elif kind in ("csv", "tsv"):
        sep = "\t" if kind == "tsv" else ","
        frame = spark.read.csv(paths, header=True, sep=sep, mode="FAILFAST", multiLine=True)
    else:
        frame = spark.read.parquet(*paths)
    source = str(Path(text)) if len(matches) <= 1 and not remote else str(dataset)
    return frame, source, True


def _literal_path(path: str) -> str:
    """A local path as Spark reads it literally: absolute (Spark's working directory is the
    one it started in) and with Hadoop's glob characters escaped."""
    return _GLOB_CHARACTERS.sub(r"\\\1", Path(os.path.abspath(path)).as_posix())


def _check_literal(path: str, *, whole_files: bool) -> None:
    """DataError for a local path Spark cannot read as itself: Hadoop takes a ``:`` in a file
    name for a URI scheme, and the readers of whole files (CSV, TSV, JSON arrays) list their
    paths again as patterns, so there no glob character or ``:`` may appear at all."""
    full = Path(os.path.splitdrive(os.path.abspath(path))[1]).as_posix()
    found = set(_GLOB_CHARACTERS.findall(full)) | ({":"} & set(full)) if whole_files else set()
    found |= {":"} & set(os.path.basename(full))
    if found:
        convert = ", convert it to JSON Lines or Parquet" if whole_files else ""
        raise DataError(
            f"Spark cannot read {quote(path)}: Hadoop takes {' '.join(sorted(found))} in its "
            f"path for a pattern or a URI scheme; rename the file (or its folder){convert}, or "
            "use --engine local"
        )


def _starts_with_bracket(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096).lstrip().startswith(b"[")
    except OSError:
        return False


def numbered(frame: DataFrame, columns: list[Column], *, file_scan: bool) -> tuple[DataFrame, int]:
    """``columns`` of ``frame`` and ``index``, each row's position in file (or partition)
    order; and the number of rows. For a file scan, ``frame`` must be the scan itself (it
    reads ``_metadata``)."""
    if file_scan:
        keys = [F.col("_metadata.file_path"), F.col("_metadata.file_block_start")]
    else:
        keys = [F.spark_partition_id()]
    key_names = [f"_key{i}" for i in range(len(keys))]
    scan = frame.select(
        *columns,
        *[key.alias(name) for key, name in zip(keys, key_names, strict=True)],
        F.monotonically_increasing_id().alias("_m"),
    )
    splits = sorted(
        scan.groupBy(*key_names).agg(F.count("*").alias("n"), F.min("_m").alias("first")).collect()
    )
    offsets, total = [], 0
    for split in splits:
        offsets.append((*split[: len(keys)], total - split["first"]))
        total += split["n"]
    schema = T.StructType(
        [*[scan.schema[name] for name in key_names], T.StructField("_offset", T.LongType())]
    )
    table = frame.sparkSession.createDataFrame(offsets, schema)
    joined = scan.join(F.broadcast(table), key_names)
    index = F.col("_offset") + F.col("_m")
    return joined.withColumn("index", index).drop(*key_names, "_m", "_offset"), total


def prepare_rows(
    frame: DataFrame,
    *,
    source: str,
    file_scan: bool,
    text_column: str | None,
    text_pair_column: str | None,
    label_column: str | None,
    limit: int | None,
    sample: bool = False,
    seed: int = 0,
    slice_columns: Sequence[str] = (),
    label_format: str | None = None,
) -> SparkRows:
    """Columns picked and rows checked as ``cardgen.data.load`` does, with the dataset info;
    the ``limit`` first rows, or with ``sample`` the same seeded draw as ``cardgen.data.load``
    (rows keep their source row ids); ``slice_columns`` carried along. A label column of lists
    is multi-label: its label sets are read on the driver (``label_format`` as locally)."""
    names = list(frame.columns)
    check_names(names, source)
    firsts = Columns(_first_rows(frame, 20), None, source)
    if not firsts.num_rows:
        raise DataError(f"dataset {source} has no rows")
    text_col, pair_col = text_columns(firsts, names, text_column, text_pair_column, label_column)
    label_col = pick_column(names, label_column, LABEL_COLUMNS, "label", source)
    for col in (text_col, pair_col):
        if col == label_col:
            raise DataError(f"column {quote(col)} cannot hold both the texts and the labels")
    for name in slice_columns:  # the local engine's error for a missing column
        slice_column(Columns({n: [] for n in names}, None, source), name, [])
    lists = isinstance(frame.schema[label_col].dataType, T.ArrayType)
    label = F.to_json(_column(label_col)) if lists else _as(frame, label_col, as_token)
    text = _as(frame, text_col, as_text)
    picked = [text.alias("text"), label.alias("raw")]
    picked += [
        _as(frame, name, as_inferred_string).alias(slice_alias(i))
        for i, name in enumerate(slice_columns)
    ]
    pair = _as(frame, pair_col, as_text) if pair_col else F.lit(None).cast("string")
    tokens = [
        as_token(_column(col)).alias(f"_token_{name}")
        for name, col in (("text", text_col), ("pair", pair_col))
        if col and is_variant(frame, col)
    ]
    rows, total = numbered(frame, [*picked, pair.alias("pair"), *tokens], file_scan=file_scan)
    whole, rows = rows, _kept(rows, total, limit, sample, seed)
    _check_texts(rows, source, text_col, pair_col)
    rows = rows.drop("_token_text", "_token_pair")
    sets, column = None, None
    if lists or (is_variant(frame, label_col) and _has_list(rows)):
        everything = whole if limit is not None and label_format is None else None
        rows, sets, column = _with_label_sets(rows, everything, source, label_col, label_format)
        label_names, indexed = sets.names, sets.indexed
    else:
        decode = from_token if is_variant(frame, label_col) else None
        _check_single_labels(rows, source, label_col, label_format, decode)
        rows, label_names, indexed = _withread_label_names(rows, source, label_col, decode)
    path = Path(source)
    info = DatasetInfo(
        source=source,
        name=path.stem if file_scan else source,
        config=None,
        split=infer_split(path) if file_scan else None,
        num_rows=total if limit is None else min(total, limit),
        fingerprint=fingerprint(rows, source, pairs=pair_col is not None, label_sets=column),
        text_column=text_col,
        label_column=label_col,
        labels=label_names,
        text_pair=(
            None if pair_col is None else TextPair(pair_col, found_by_name=not text_pair_column)
        ),
    )
    return SparkRows(rows, label_names, indexed, info, tuple(slice_columns), sets, column)


def _has_list(rows: DataFrame) -> bool:
    """Whether any raw label (a JSON token) is a list."""
    return bool(rows.where(F.col("raw").startswith("[")).limit(1).count())


def _with_label_sets(
    rows: DataFrame,
    whole: DataFrame | None,
    source: str,
    label_col: str,
    label_format: str | None,
) -> tuple[DataFrame, LabelSets, LabelSetColumn]:
    """Rows with ``label`` the raw JSON token of each label list; the label sets read on the
    driver as ``cardgen.data.load`` reads them (``whole``, the rows before ``--limit``,
    decides what 0/1 lists are, as there), and how the workers read the tokens alike."""
    found = rows.select("index", "raw").orderBy("index").toArrow()
    tokens, ids = found.column("raw").to_pylist(), found.column("index").to_pylist()
    everything = None
    if whole is not None:
        everything = whole.select("index", "raw").orderBy("index").toArrow()["raw"].to_pylist()
    sets = label_sets_from_json(
        tokens, ids, source=source, column=label_col, label_format=label_format, whole=everything
    )
    column = LabelSetColumn(source, label_col, "multi-hot" if sets.multi_hot else "ids")
    return rows.withColumnRenamed("raw", "label"), sets, column


def _check_single_labels(
    rows: DataFrame,
    source: str,
    label_col: str,
    label_format: str | None,
    decode: Callable[[Any], Any] | None,
) -> None:
    """``cardgen.data.load``'s UsageError for ``--label-format`` on one label per row."""
    if label_format is None:
        return
    index, raw = rows.orderBy("index").select("index", "raw").limit(1).collect()[0]
    raise UsageError(
        f"--label-format {label_format} says how lists of labels read, but label column "
        f"{quote(label_col)} of {source} holds one label per row (row {index}: "
        f"{quote(decode(raw) if decode else raw)}); drop --label-format"
    )


def _kept(rows: DataFrame, total: int, limit: int | None, sample: bool, seed: int) -> DataFrame:
    """``rows`` that ``limit`` / ``sample`` keep (``cardgen.data``'s ``kept_rows``), each with
    its ``position`` among them, which the fingerprint's blocks count in."""
    if limit is None or not sample:
        kept = rows if limit is None else rows.where(F.col("index") < limit)
        return kept.withColumn("position", F.col("index"))
    keep = kept_rows(total, limit, sample, seed)
    table = rows.sparkSession.createDataFrame(
        list(zip(keep, range(len(keep)), strict=True)), "index long, position long"
    )
    return rows.join(F.broadcast(table), "index")


def _column(name: str) -> Column:
    """A column by its exact name, whatever characters it holds."""
    return F.col("`" + name.replace("`", "``") + "`")


def _as(frame: DataFrame, name: str, json_value: Callable[[Column], Column]) -> Column:
    """Column ``name``, turned by ``json_value`` when it holds JSON values (VARIANT)."""
    return json_value(_column(name)) if is_variant(frame, name) else _column(name)


def _first_rows(frame: DataFrame, count: int) -> dict[str, list[Any]]:
    """The first ``count`` rows by column, JSON values (VARIANT) as the Python values the
    local engine reads."""
    names = list(frame.columns)
    rows = frame.select(*[_as(frame, n, as_token) for n in names]).limit(count).collect()
    return {
        name: [from_token(row[i]) if is_variant(frame, name) else row[i] for row in rows]
        for i, name in enumerate(names)
    }


def _check_texts(rows: DataFrame, source: str, text_col: str, pair_col: str | None) -> None:
    """DataError naming the first row whose text (or pair text) is not a string."""
    checked = [(name, col) for name, col in (("text", text_col), ("pair", pair_col)) if col]
    firsts = rows.agg(
        *[
            F.min(F.when(F.col(name).isNull(), F.col("index"))).alias(name)
            if isinstance(rows.schema[name].dataType, T.StringType)
            else F.min("index").alias(name)
            for name, _ in checked
        ]
    ).collect()[0]
    for name, col in checked:
        if firsts[name] is None:
            continue
        i = firsts[name]
        token = f"_token_{name}"
        found = rows.where(F.col("index") == i).select(token if token in rows.columns else name)
        value = found.collect()[0][0]
        value = from_token(value) if token in rows.columns else value
        shown = "null or missing" if value is None else quote(value)
        raise DataError(
            f"row {i} of {source} has a {type(value).__name__} in text column {quote(col)} "
            f"({shown}); every text must be a string"
        )


def _withread_label_names(
    rows: DataFrame, source: str, label_col: str, decode: Callable[[Any], Any] | None = None
) -> tuple[DataFrame, list[str], bool]:
    """Rows with ``label`` as names; the label set checked by ``cardgen.data.load``'s rules, on
    the distinct labels in order of first appearance (so errors name the same rows).
    ``decode`` turns raw labels (JSON tokens) into the values checked."""
    grouped = rows.groupBy("raw").agg(F.min("index").alias("first"))
    firsts = grouped.orderBy("first").limit(MAX_LABELS + 1).collect()
    raw, first_rows = [r["raw"] for r in firsts], [r["first"] for r in firsts]
    values = [decode(value) for value in raw] if decode else raw
    if len(values) > MAX_LABELS and all(isinstance(v, str) for v in values):
        count = rows.select("raw").distinct().count()
        raise DataError(
            f"label column {quote(label_col)} of {source} has {count:,} distinct labels, "
            f"over cardgen's limit of {MAX_LABELS:,} (MAX_LABELS): is it the label column?"
        )
    names, label_names, indexed = read_label_names(
        values, first_rows, Columns({}, None, source), label_col
    )
    spark = rows.sparkSession
    schema = T.StructType(
        [T.StructField("raw", rows.schema["raw"].dataType), T.StructField("label", T.StringType())]
    )
    table = spark.createDataFrame(list(zip(raw, names, strict=True)), schema)
    named = rows.join(F.broadcast(table), "raw").drop("raw")
    return named, label_names, indexed


def fingerprint(
    rows: DataFrame, source: str, *, pairs: bool, label_sets: LabelSetColumn | None = None
) -> str:
    """``cardgen.data.load``'s fingerprint: row digests on executors, one digest per block of
    FINGERPRINT_BLOCK_ROWS rows, and the block digests hashed in order on the driver."""
    block_rows = _fingerprint.FINGERPRINT_BLOCK_ROWS
    ordered = rows.select(F.col("position").alias("index"), "text", "pair", "label")
    with pandas_warning_ignored():  # also when called outside spark_errors (bench, tests)
        digests = ordered.mapInPandas(
            row_digests(source, block_rows, pairs=pairs, label_sets=label_sets),
            "block long, index long, digest binary",
        )
        blocks = digests.groupBy("block").applyInPandas(block_digests, "block long, digest binary")
    return dataset_fingerprint([r["digest"] for r in sorted(blocks.collect())])
