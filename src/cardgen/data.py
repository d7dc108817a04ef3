"""Evaluation data: local files, ``save_to_disk`` directories and ``datasets`` hub names."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError
from .results import DatasetInfo

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")
LABEL_COLUMNS = ("label", "labels")


@dataclass
class EvalData:
    """Texts and gold labels (as names) with the dataset's ordered label set.

    ``indexed`` is true when the labels were integers (raw or a ``ClassLabel``), so that label
    ``label_names[i]`` is class id ``i``.
    """

    texts: list[str]
    labels: list[str]
    label_names: list[str]
    indexed: bool
    info: DatasetInfo


@dataclass
class _Columns:
    rows: dict[str, list[Any]]
    class_names: list[str] | None
    source: str
    name: str | None = None
    config: str | None = None
    split: str | None = None


def load_data(
    dataset: str | Path,
    *,
    split: str | None = None,
    config: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    limit: int | None = None,
    sample: bool = False,
    seed: int = 0,
) -> EvalData:
    """Load evaluation rows from a file, a ``save_to_disk`` directory or a hub dataset name.

    ``limit`` keeps the first N rows, or N rows drawn with ``seed`` when ``sample`` is set.
    """
    path = Path(dataset)
    if path.is_dir():
        columns = _read_saved_dataset(path, split)
    elif path.is_file():
        columns = _read_file(path)
    elif path.suffix.lower() in FILE_FORMATS or str(dataset).startswith((".", "/", "~")):
        raise DataError(f"dataset file {dataset} does not exist")
    else:
        columns = _read_hub_dataset(str(dataset), config, split or "test")
    return _to_eval_data(columns, text_column, label_column, limit, sample, seed)


def _read_file(path: Path) -> _Columns:
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"unknown dataset format {path.suffix!r} for {path}; "
            f"use one of {', '.join(FILE_FORMATS)} or a `datasets` directory"
        )
    try:
        if kind in ("csv", "tsv"):
            with path.open(encoding="utf-8", newline="") as handle:
                records = list(csv.DictReader(handle, delimiter="\t" if kind == "tsv" else ","))
            rows = _records_to_columns(records)
        elif kind == "jsonl":
            with path.open(encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle if line.strip()]
            rows = _records_to_columns(records)
        elif kind == "json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data if isinstance(data, dict) else _records_to_columns(data)
        else:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pydict()
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as {kind}: {exc}") from exc
    return _Columns(rows=rows, class_names=None, source=str(path), name=path.stem)


def _records_to_columns(records: Any) -> dict[str, list[Any]]:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("expected one JSON object per row")
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [record.get(name) for record in records] for name in names}


def _read_saved_dataset(path: Path, split: str | None) -> _Columns:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(
            f"{path} is a directory but not one written by `Dataset.save_to_disk`: {exc}"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        chosen = split or ("test" if "test" in loaded else None)
        if chosen not in loaded:
            raise DataError(
                f"split {chosen!r} not found in {path}; splits are: {', '.join(splits)} "
                "(use --split)"
            )
        loaded, split = loaded[chosen], chosen
    return _from_datasets(loaded, source=str(path), name=path.name, split=split)


def _read_hub_dataset(name: str, config: str | None, split: str) -> _Columns:
    """``owner/name``, ``name:config`` or the GLUE-style ``name/config`` shorthand.

    When ``datasets`` cannot resolve the name (offline, say) but the dataset repository is in
    the local Hugging Face hub cache, its data files load from there.
    """
    import datasets

    if ":" in name and config is None:
        name, config = name.split(":", 1)
    attempts = [(name, config)]
    if config is None and name.count("/") == 1:
        attempts.append(tuple(name.split("/")))  # type: ignore[arg-type]
    errors = []
    for repo, conf in attempts:
        for source in (repo, _cached_snapshot(repo)):
            if source is None:
                continue
            try:
                loaded = datasets.load_dataset(source, conf, split=split)
            except Exception as exc:  # datasets raises many unrelated types for "not found"
                errors.append(f"{repo}{f' ({conf})' if conf else ''}: {exc}")
                continue
            return _from_datasets(loaded, source=f"hub:{repo}", name=repo, split=split, config=conf)
    raise DataError(
        f"dataset {name!r} is neither a local file or directory nor a loadable `datasets` name "
        f"({'; '.join(errors)}); without network only cached datasets load"
    )


def _cached_snapshot(repo: str) -> str | None:
    """The local hub-cache snapshot of dataset ``repo``, if one was downloaded before."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo, repo_type="dataset", local_files_only=True)
    except Exception:  # not cached, or not a valid repo id
        return None


def _from_datasets(
    loaded: Any, *, source: str, name: str, split: str | None, config: str | None = None
) -> _Columns:
    class_names = None
    for feature in loaded.features.values():
        if type(feature).__name__ == "ClassLabel":
            class_names = list(feature.names)
            break
    return _Columns(
        rows=loaded.to_dict(),
        class_names=class_names,
        source=source,
        name=name,
        config=config,
        split=split,
    )


def _pick_column(
    columns: Sequence[str], wanted: str | None, defaults: Sequence[str], role: str, source: str
) -> str:
    if wanted is not None and wanted in columns:
        return wanted
    if wanted is None:
        found = next((c for c in defaults if c in columns), None)
        if found is not None:
            return found
    missing = wanted or defaults[0]
    raise DataError(
        f"column {missing!r} not found in {source}; columns are: {', '.join(columns)} "
        f"(use --{role}-column)"
    )


def _to_eval_data(
    columns: _Columns,
    text_column: str | None,
    label_column: str | None,
    limit: int | None,
    sample: bool,
    seed: int,
) -> EvalData:
    names = list(columns.rows)
    if not names or not any(columns.rows.values()):
        raise DataError(f"dataset {columns.source} has no rows")
    text_col = _pick_column(names, text_column, TEXT_COLUMNS, "text", columns.source)
    label_col = _pick_column(names, label_column, LABEL_COLUMNS, "label", columns.source)
    texts, raw = list(columns.rows[text_col]), list(columns.rows[label_col])
    if limit is not None:
        if limit < 1:
            raise DataError(f"--limit must be at least 1, got {limit}")
        keep = (
            sorted(random.Random(seed).sample(range(len(texts)), min(limit, len(texts))))
            if sample
            else range(min(limit, len(texts)))
        )
        texts, raw = [texts[i] for i in keep], [raw[i] for i in keep]

    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"row {i} of {columns.source} has a {type(text).__name__} in text column "
                f"{text_col!r}; every text must be a string"
            )
    bad = next(
        (i for i, v in enumerate(raw) if v is None or isinstance(v, (float, list, dict))), None
    )
    if bad is not None:
        raise DataError(
            f"row {bad} of {columns.source} has label {raw[bad]!r} in column {label_col!r}; "
            "labels must be integers or strings"
        )

    labels, label_names, indexed = _label_names(raw, columns.class_names, columns.source)
    fingerprint = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        fingerprint.update(json.dumps([text, label], ensure_ascii=False).encode())
    info = DatasetInfo(
        source=columns.source,
        name=columns.name,
        config=columns.config,
        split=columns.split,
        num_rows=len(texts),
        fingerprint=f"sha256:{fingerprint.hexdigest()}",
        text_column=text_col,
        label_column=label_col,
        labels=label_names,
    )
    return EvalData(texts=texts, labels=labels, label_names=label_names, indexed=indexed, info=info)


def _label_names(
    raw: list[Any], class_names: list[str] | None, source: str
) -> tuple[list[str], list[str], bool]:
    """Labels as names, the ordered label set, and whether labels are class ids."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    digit_strings = all(isinstance(v, str) and v.strip().lstrip("-").isdigit() for v in raw)
    if class_names is not None and ints:
        unknown = sorted({v for v in raw if not 0 <= v < len(class_names)})
        if unknown:
            raise DataError(
                f"labels {unknown} in {source} are outside its ClassLabel names {class_names}"
            )
        return [class_names[v] for v in raw], list(class_names), True
    if ints or digit_strings:
        values = [int(v) for v in raw]
        if min(values) < 0:
            raise DataError(
                f"{source} has negative label ids {sorted({v for v in values if v < 0})}"
            )
        names = [str(i) for i in range(max(values) + 1)]
        return [str(v) for v in values], names, True
    labels = [str(v) for v in raw]
    return labels, sorted(set(labels)), False
