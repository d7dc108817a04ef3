"""``evaluate``: run a classifier on a dataset and write the results file, predictions and plots."""

from __future__ import annotations

import json
import platform
import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._io import write_jsonl
from ._rundir import staged_run_dir
from ._untrusted import quote
from .data import EvalData, load_data
from .errors import LabelError, UsageError
from .hub_conventions import check_dataset_id
from .labels import Alignment, align_labels, check_permutation, read_label_map
from .metrics import compute_metrics
from .models import TextClassifier, load_model
from .models.base import RunStats
from .options import check_run_options
from .probes import PROBE_FILLS_FILE, Probe, measure_probes, resolve_probes, write_probe_files
from .results import PREDICTIONS_FILE, EvalResults, Timing

LIBRARIES = ("torch", "transformers", "tokenizers", "scikit-learn", "skops", "numpy", "datasets")


def evaluate(
    model: str | Path | TextClassifier,
    dataset: str | Path | EvalData,
    *,
    split: str | None = None,
    dataset_config: str | None = None,
    dataset_id: str | None = None,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    label_map: str | Path | dict[str, str] | None = None,
    label_order: Sequence[str] | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    limit: int | None = None,
    sample: bool = False,
    n_bootstrap: int = 10_000,
    seed: int = 0,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    output_dir: str | Path | None = None,
    progress: bool = False,
    probes: Sequence[str | Path | Probe] = (),
) -> EvalResults:
    """Evaluate ``model`` on ``dataset``; with ``output_dir``, also write every output file.

    ``label_map`` is a JSON file or dict (model label -> dataset label), or ``"index"``, which
    needs class ids in the data or ``label_order`` (the dataset's label names, class id 0
    first). ``dataset_id`` names the Hub dataset a local file holds; with ``dataset_config``
    and ``split`` it is recorded for the card (a file's split is otherwise read from its name,
    ``test.csv`` -> test). ``text_pair_column`` evaluates sentence pairs (found by name too,
    e.g. premise / hypothesis). ``batch_size=None`` sizes batches automatically. ``probes``
    (built-in probe names, probe files or Probe objects) run on the same model into
    ``EvalResults.probes``, their plots and fills into ``output_dir``. Every option is checked
    before any work; a CardgenError leaves ``output_dir`` as it was, and a finished run replaces
    it whole.
    """
    check_run_options(
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        dtype=dtype,
        limit=limit,
        n_bootstrap=n_bootstrap,
        seed=seed,
        label_order=label_order,
    )
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    mapping: str | dict[str, str] | None
    if isinstance(label_map, Path) or (isinstance(label_map, str) and label_map != "index"):
        mapping = read_label_map(label_map)
    else:
        mapping = label_map
    probe_list = resolve_probes(probes) if probes else []
    with staged_run_dir(output_dir) as out:
        data = (
            dataset
            if isinstance(dataset, EvalData)
            else load_data(
                dataset,
                split=split,
                config=dataset_config,
                text_column=text_column,
                text_pair_column=text_pair_column,
                label_column=label_column,
                limit=limit,
                sample=sample,
                seed=seed,
            )
        )
        if probe_list and data.text_pairs is not None:
            raise UsageError(
                "bias probes fill single-text templates, but this dataset holds sentence pairs "
                f"({quote(data.info.text_column)} + "
                f"{quote(data.info.text_pair.column if data.info.text_pair else None)}); "
                "drop --probes for a pair evaluation"
            )
        data = _with_dataset_names(data, dataset_id, dataset_config, split)
        if label_order is not None:
            data = _with_label_order(data, list(label_order))
        if isinstance(model, (str, Path)):
            model = load_model(
                model,
                revision=revision,
                device=device,
                dtype=dtype,
                max_length=max_length,
                trust_remote_code=trust_remote_code,
                allow_pickle=allow_pickle,
                trusted_types=trusted_types,
            )
        alignment = align_labels(
            model.labels, data.label_names, dataset_indexed=data.indexed, label_map=mapping
        )
        return _run(
            model, data, alignment, probe_list, out, batch_size, progress, n_bootstrap, seed
        )


def _run(
    model: TextClassifier,
    data: EvalData,
    alignment: Alignment,
    probe_list: list[Probe],
    out: Path | None,
    batch_size: int | None,
    progress: bool,
    n_bootstrap: int,
    seed: int,
) -> EvalResults:
    if data.text_pairs is None:  # custom classifiers may not know the text_pairs option
        raw_scores, stats = model.predict_scores(
            data.texts, batch_size=batch_size, progress=progress
        )
    else:
        raw_scores, stats = model.predict_scores(
            data.texts, batch_size=batch_size, progress=progress, text_pairs=data.text_pairs
        )
    scores = alignment.reorder(raw_scores)
    index = {label: i for i, label in enumerate(alignment.labels)}
    y_true = np.array([index[label] for label in data.labels])
    y_pred = scores.argmax(axis=1)
    report = compute_metrics(
        y_true,
        y_pred,
        alignment.labels,
        scores=None if model.score_kind == "label" else scores,
        probabilistic=model.score_kind == "probability",
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    notes = []
    cm = np.array(report.confusion_matrix.counts)
    permuted = check_permutation(cm, alignment.labels, alignment.mapping)
    if permuted is not None:
        if alignment.mapping.strategy == "index":
            raise LabelError(
                f"{permuted.message}. Labels were paired by index, so their order is most likely "
                "wrong; nothing was written. If the better mapping is right, save "
                f"{json.dumps(permuted.label_map, ensure_ascii=False)} as map.json and pass "
                "--label-map map.json"
            )
        warnings.warn(permuted.message, stacklevel=3)
        notes.append(permuted.message)

    results = EvalResults(
        model=model.info(),
        dataset=data.info,
        label_mapping=alignment.mapping,
        labels=alignment.labels,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=_timing(stats, len(data.texts)),
        environment=_environment(),
        seed=seed,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        cardgen_version=__version__,
        warnings=notes,
    )
    if probe_list:
        run = measure_probes(
            model,
            probe_list,
            n_bootstrap=n_bootstrap,
            seed=seed,
            batch_size=batch_size,
            progress=progress,
        )
        results.probes = run.results
        if out is not None:
            write_probe_files(run, out)
            results.files["probe_fills"] = PROBE_FILLS_FILE
    if out is not None:
        write_outputs(results, y_true, y_pred, scores, out)
    return results


def _with_dataset_names(
    data: EvalData, dataset_id: str | None, config: str | None, split: str | None
) -> EvalData:
    """Record what the user said the rows are: a local file's Hub id, config and split."""
    info = data.info
    local = not info.source.startswith("hub:") and Path(info.source).is_file()
    changes: dict[str, Any] = {
        "hub_id": dataset_id or info.hub_id,
        "config": (config if local and config else None) or info.config,
        "split": (split if local and split else None) or info.split,
    }
    return replace(data, info=replace(info, **changes))


def _with_label_order(data: EvalData, order: list[str]) -> EvalData:
    """``data`` with its label names in the order the user stated (class id 0 first)."""
    if data.indexed:
        if order == data.label_names:
            return data
        raise LabelError(
            f"the dataset already states its label order ({quote(', '.join(data.label_names))}, "
            "as class ids or a ClassLabel); drop --label-order"
        )
    if sorted(order) != sorted(data.label_names):
        raise LabelError(
            f"--label-order must list each dataset label once; the dataset's labels are "
            f"{quote(', '.join(data.label_names))}, got {quote(', '.join(order))}"
        )
    info = replace(data.info, labels=order)
    return replace(data, label_names=order, indexed=True, info=info)


def write_outputs(
    results: EvalResults,
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    output_dir: Path,
) -> None:
    """Predictions, plots, then ``results.json`` last, each written atomically."""
    from .plots import confusion_matrix_figure, reliability_figure, save_figure

    labels = results.labels
    write_jsonl(
        output_dir / PREDICTIONS_FILE,
        (
            {
                "index": i,
                "gold": labels[t],
                "predicted": labels[p],
                "probabilities": {
                    label: float(s) for label, s in zip(labels, row, strict=True)
                },
            }
            for i, (t, p, row) in enumerate(zip(y_true, y_pred, scores, strict=True))
        ),
    )
    results.files["predictions"] = PREDICTIONS_FILE
    save_figure(
        confusion_matrix_figure(results.confusion_matrix), output_dir / "confusion_matrix.png"
    )
    results.files["confusion_matrix"] = "confusion_matrix.png"
    if results.calibration is not None:
        figure = reliability_figure(results.calibration, n_classes=len(results.labels))
        save_figure(figure, output_dir / "reliability.png")
        results.files["reliability"] = "reliability.png"
    results.save(output_dir)


def _timing(stats: RunStats, n: int) -> Timing:
    seconds = max(stats.wall_seconds, 1e-9)
    return Timing(
        device=stats.device,
        dtype=stats.dtype,
        batch_size=stats.batch_size,
        wall_seconds=round(stats.wall_seconds, 4),
        examples_per_second=round(n / seconds, 2),
        tokens_per_second=round(stats.tokens / seconds, 2) if stats.tokens is not None else None,
        padding_ratio=(
            round(1 - stats.tokens / stats.padded_tokens, 4)
            if stats.tokens and stats.padded_tokens
            else None
        ),
        truncated=stats.truncated,
        max_length=stats.max_length,
        hardware=hardware_name(stats.device),
    )


def hardware_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    import os

    name = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            name = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                name,
            )
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} CPU cores"


def _environment() -> dict[str, str]:
    versions = {"python": platform.python_version(), "cardgen": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
