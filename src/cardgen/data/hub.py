"""Datasets read through Hugging Face ``datasets``: ``save_to_disk`` directories and hub names.

A saved directory is checked before ``datasets`` opens it (its JSON files parse, its arrow
files lie inside it, no ClassLabel is too large), so a hostile directory fails with a
DataError instead of whatever ``datasets`` would raise or allocate.

Hub names load from the Hub, or from the local caches when it cannot be reached: offline mode
(``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``), or no answer within ``HUB_PROBE_SECONDS``; then
``datasets`` is told it is offline, so it does not retry for most of a minute. Rows carry the
commit of the Hub dataset they came from when it is known (``Columns.revision``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from cardgen.data.columns import ArrowColumns, Columns, column_list, json_kind
from cardgen.data.labels import MAX_LABELS
from cardgen.errors import CardgenError, DataError
from cardgen.results.types import COMMIT_ID
from cardgen.trust.untrusted import inside, parse_json, quote, read_text

_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?")
# How long the Hub may take to answer one request before it counts as unreachable.
HUB_PROBE_SECONDS = 3.0


def read_saved_dataset(path: Path, split: str | None) -> Columns:
    """A ``save_to_disk`` Dataset, or one split of a DatasetDict (only that split is read)."""
    import datasets

    if (path / "dataset_dict.json").is_file() and not (path / "state.json").is_file():
        splits = _saved_json(path, "dataset_dict.json").get("splits")
        if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
            raise DataError(f"{path / 'dataset_dict.json'} has no list of split names")
        chosen = split or ("test" if "test" in splits else None)
        if chosen is None or chosen not in splits:
            raise DataError(
                f"split {quote(chosen)} not found in {path}; splits are: "
                f"{column_list(splits)} (use --split)"
            )
        try:
            directory = inside(path, chosen, what="split")
        except CardgenError as exc:
            raise DataError(f"{path / 'dataset_dict.json'}: {exc}") from None
        split = chosen
    else:
        directory = path
    _check_saved_split(directory)
    try:
        loaded = datasets.Dataset.load_from_disk(str(directory))
    except Exception as exc:  # load_from_disk raises JSON, key, type, file and arrow errors
        raise DataError(
            f"{directory} is not a readable `save_to_disk` dataset "
            f"({type(exc).__name__}: {quote(str(exc))}); save it again with `save_to_disk`"
        ) from None
    return _from_datasets(loaded, source=str(path), name=path.name, split=split)


def _check_saved_split(directory: Path) -> None:
    """Its JSON files parse, its arrow files lie inside it, and no ClassLabel is too large."""
    import pyarrow as pa

    if not directory.is_dir():
        raise DataError(f"split directory {directory} is missing; save the dataset again")
    if not (directory / "state.json").is_file():
        raise DataError(
            f"{directory} is a directory but not one written by `Dataset.save_to_disk` "
            "(no state.json or dataset_dict.json)"
        )
    state = _saved_json(directory, "state.json")
    files = state.get("_data_files")
    if not isinstance(files, list) or not files:
        raise DataError(f"{directory / 'state.json'} lists no data files")
    _check_class_labels(_saved_json(directory, "dataset_info.json"), directory)
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        try:
            target = inside(directory, name, what="data file")  # type: ignore[arg-type]
        except CardgenError as exc:
            raise DataError(f"{directory / 'state.json'}: {exc}") from None
        if not target.is_file():
            raise DataError(f"data file {target} listed in state.json is missing")
        try:
            with pa.memory_map(str(target)) as source:
                meta = pa.ipc.open_stream(source).schema.metadata or {}
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{target} is not a readable arrow file: {quote(str(exc))}") from None
        if b"huggingface" in meta:
            text = meta[b"huggingface"].decode("utf-8", "replace")
            _check_class_labels(parse_json(text, source=str(target), error=DataError), target)


def _saved_json(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    if not path.is_file():
        raise DataError(f"{path} is missing; save the dataset again with `save_to_disk`")
    text = read_text(path, error=DataError, what="dataset file")
    data = parse_json(text, source=str(path), error=DataError)
    if not isinstance(data, dict):
        raise DataError(f"{path} is a JSON {json_kind(data)}, not an object")
    return data


def _check_class_labels(data: Any, source: Path) -> None:
    """Refuse a ClassLabel declaring more than MAX_LABELS names (datasets would allocate them)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if value.get("_type") == "ClassLabel":
                size, names = value.get("num_classes"), value.get("names")
                count = max(
                    size if isinstance(size, int) else 0,
                    len(names) if isinstance(names, list) else 0,
                )
                if count > MAX_LABELS:
                    raise DataError(
                        f"{source} declares a ClassLabel of {count:,} classes, over cardgen's "
                        f"limit of {MAX_LABELS:,} (MAX_LABELS)"
                    )
            stack.extend(value.values())


def read_hub_dataset(name: str, config: str | None, split: str) -> Columns:
    """``owner/name``, ``name:config`` or the GLUE-style ``name/config`` shorthand.

    When ``datasets`` cannot resolve the name (offline, say) but the dataset repository is in
    the local Hugging Face hub cache, its data files load from there. The rows carry the
    commit of the dataset they came from (see ``_load_split``).
    """
    if ":" in name and config is None:
        name, config = name.split(":", 1)
    if not _HUB_NAME.fullmatch(name):
        raise DataError(
            f"dataset {quote(name)} is neither a local file or directory nor a valid `datasets` "
            "name (like 'imdb' or 'owner/name')"
        )
    attempts = [(name, config)]
    if config is None and name.count("/") == 1:
        attempts.append(tuple(name.split("/")))  # type: ignore[arg-type]
    unreachable = hub_unreachable(name)
    errors = [unreachable] if unreachable else []
    with _offline() if unreachable else nullcontext():
        for repo, conf in attempts:
            for source in (repo, hub_snapshot(repo)):
                if source is None:
                    continue
                try:
                    snapshot = isinstance(source, Path)
                    loaded, revision = _load_split(str(source), conf, split, snapshot=snapshot)
                except Exception as exc:  # datasets raises many unrelated types for "not found"
                    where = f"{repo}{f' ({quote(conf)})' if conf else ''}"
                    errors.append(f"{where}: {quote(str(exc))}")
                    continue
                return _from_datasets(
                    loaded,
                    source=f"hub:{repo}",
                    name=repo,
                    split=split,
                    config=conf,
                    revision=revision,
                )
    raise DataError(
        f"dataset {quote(name)} is neither a local file or directory nor a loadable `datasets` "
        f"name ({'; '.join(errors)}); without network only cached datasets load"
    )


def hub_unreachable(repo: str, timeout: float = HUB_PROBE_SECONDS) -> str | None:
    """Why the Hub cannot serve dataset ``repo`` now (offline mode, or no answer within
    ``timeout`` seconds), or None when it answers (with anything, even "not found")."""
    import datasets.config
    from huggingface_hub import constants, get_session

    if constants.HF_HUB_OFFLINE or datasets.config.HF_HUB_OFFLINE:
        return "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    url = f"{constants.ENDPOINT.rstrip('/')}/api/datasets/{repo}"
    failure: list[str] = []

    def probe() -> None:
        try:
            get_session().head(url, timeout=timeout)
        except Exception as exc:  # any failure to get an answer: refused, timeout, DNS, TLS
            failure.append(type(exc).__name__)

    thread = threading.Thread(target=probe, daemon=True)  # DNS lookups ignore the timeout
    thread.start()
    thread.join(timeout + 0.5)
    if thread.is_alive():
        failure.append("no answer")
    if not failure:
        return None
    return f"the Hub at {constants.ENDPOINT} is unreachable ({failure[0]} within {timeout:g} s)"


@contextmanager
def _offline() -> Iterator[None]:
    """``datasets`` and ``huggingface_hub`` in offline mode: only their caches are read."""
    import datasets.config
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def _load_split(
    source: str, config: str | None, split: str, *, snapshot: bool
) -> tuple[Any, str | None]:
    """One split from ``datasets.load_dataset`` and the commit of the Hub dataset it is: the
    name of a hub-cache ``snapshot`` folder, or else the folder ``datasets`` keeps the split's
    arrow files in, which it names by the commit it resolved a Hub name to (online, or in its
    cache when offline); None when that is not a commit id (or the split has no files)."""
    import datasets

    loaded = datasets.load_dataset(source, config, split=split)
    if snapshot:
        revision = Path(source).name
    else:
        files = loaded.cache_files or [{}]
        revision = Path(str(files[0].get("filename", ""))).parent.name
    return loaded, revision if COMMIT_ID.fullmatch(revision) else None


def hub_snapshot(repo: str, revision: str | None = None) -> Path | None:
    """The snapshot of dataset ``repo`` at ``revision`` (a branch, tag or commit; None: main)
    in the local Hugging Face cache, if one was downloaded before; its name is the commit."""
    from huggingface_hub import snapshot_download

    try:
        found = snapshot_download(
            repo, repo_type="dataset", revision=revision, local_files_only=True
        )
    except Exception:  # not cached, or not a valid repo id
        return None
    path = Path(found)
    return path if snapshot_repo(path) is not None else None


def snapshot_repo(path: Path) -> tuple[str, str] | None:
    """``(dataset id, commit)`` when ``path`` is a dataset's snapshot folder in the Hugging Face
    cache (``datasets--OWNER--NAME/snapshots/COMMIT``), else None."""
    parent = path.parent
    folder = parent.parent.name
    if parent.name != "snapshots" or not folder.startswith("datasets--"):
        return None
    if not COMMIT_ID.fullmatch(path.name):
        return None
    repo = folder.removeprefix("datasets--").replace("--", "/")
    return (repo, path.name) if _HUB_NAME.fullmatch(repo) else None


def read_hub_snapshot(path: Path, config: str | None, split: str) -> Columns:
    """The rows of one split of a dataset's snapshot in the Hugging Face cache (see
    ``snapshot_repo``), recorded as that Hub dataset at the snapshot's commit."""
    import datasets

    found = snapshot_repo(path)
    if found is None:
        raise DataError(f"{path} is not a dataset snapshot of the Hugging Face cache")
    repo, commit = found
    try:
        loaded = datasets.load_dataset(str(path), config, split=split)
    except Exception as exc:  # datasets raises many unrelated types for a bad config or split
        where = f"{repo}{f' ({quote(config)})' if config else ''} at {commit[:12]}"
        raise DataError(
            f"cannot read split {quote(split)} of {where} from {path}: {quote(str(exc))}"
        ) from None
    return _from_datasets(
        loaded, source=f"hub:{repo}", name=repo, split=split, config=config, revision=commit
    )


def _from_datasets(
    loaded: Any,
    *,
    source: str,
    name: str,
    split: str | None,
    config: str | None = None,
    revision: str | None = None,
) -> Columns:
    try:
        class_names = next(
            (list(f.names) for f in loaded.features.values() if type(f).__name__ == "ClassLabel"),
            None,
        )
        if loaded._indices is not None:  # a selection: materialise just its rows
            loaded = loaded.flatten_indices()
        table = loaded.data.table
    except Exception as exc:  # a corrupt arrow table fails only when read
        raise DataError(f"cannot read the rows of {source}: {quote(str(exc))}") from None
    rows = ArrowColumns(table, source)
    return Columns(
        rows, class_names, source, name=name, config=config, split=split, revision=revision
    )
