"""What the driver reads back after the executors predicted: the compact columns of the
Parquet predictions (row id, scores, lengths) with pyarrow, and the rows' texts, gold labels
and slice values from Spark, both in row-id order."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardgen.data.columns import Columns, slice_column
from cardgen.data.load import EvalData
from cardgen.engines.spark.source import SparkRows, slice_alias


@dataclass
class CollectedRows:
    """The rows of a Spark evaluation on the driver: ``data`` in row-id order."""

    row_ids: list[int]
    data: EvalData


def read_scores(
    target: Path, labels: list[str]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Row ids, scores (rows, labels) in ``labels`` order and input lengths of the Parquet
    predictions at ``target``, sorted by row id; texts are not read."""
    import pyarrow.parquet as pq

    table = pq.read_table(target, columns=["index", "probabilities", "length"])
    index = table.column("index").to_numpy()
    order = np.argsort(index, kind="stable")
    probabilities = table.column("probabilities").combine_chunks()
    counts = np.diff(probabilities.offsets.to_numpy())
    if len(counts) and not (counts == len(labels)).all():
        raise RuntimeError("a prediction row does not score every label")
    keys = probabilities.keys.to_numpy(zero_copy_only=False).reshape(len(index), len(labels))
    values = probabilities.items.to_numpy().reshape(len(index), len(labels))
    code = {label: i for i, label in enumerate(labels)}
    scores = np.empty_like(values, dtype=np.float64)
    columns = np.vectorize(code.__getitem__, otypes=[np.int64])(keys) if len(index) else keys
    np.put_along_axis(scores, columns, values, axis=1)
    lengths = table.column("length").to_numpy().astype(np.int64)
    return index[order].astype(np.int64), scores[order], lengths[order]


def collect_rows(rows: SparkRows, header: EvalData) -> CollectedRows:
    """``header`` with the texts, pair texts, gold labels and slice columns of ``rows``,
    collected to the driver in row-id order (slice values as ``cardgen.data`` writes them);
    label sets are the header's, read in the same order."""
    names = list(rows.slice_columns)
    aliases = [slice_alias(i) for i in range(len(names))]
    table = rows.frame.select("index", "text", "pair", "label", *aliases).orderBy("index")
    found = table.toArrow()
    texts = found.column("text").to_pylist()
    pairs = found.column("pair").to_pylist() if header.info.text_pair is not None else None
    raw = Columns(
        {name: found.column(alias).to_pylist() for name, alias in zip(names, aliases, strict=True)},
        None,
        rows.info.source,
    )
    keep = range(found.num_rows)
    data = replace(
        header,
        texts=texts,
        labels=found.column("label").to_pylist() if header.label_sets is None else [],
        text_pairs=pairs,
        columns={name: slice_column(raw, name, keep) for name in names},
        row_ids=found.column("index").to_pylist(),
    )
    return CollectedRows(found.column("index").to_pylist(), data)
