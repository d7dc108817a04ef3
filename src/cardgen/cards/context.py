"""The Jinja context of a model card: Hub metadata plus plain views of the results.

``card_context`` gives a template every key it can use; ``card_metadata`` builds the YAML front
matter with huggingface_hub's ``ModelCardData`` / ``EvalResult``. Nothing here imports torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.analysis.robustness import robustness_view
from cardgen.cards.analysis import failures_view, slices_view
from cardgen.cards.conventions import (
    HUB_ID,
    INDEX_METRICS,
    MULTILABEL_INDEX_METRICS,
    check_dataset_id,
    check_language,
    check_license,
    check_name,
    index_metric,
)
from cardgen.cards.multilabel import MULTILABEL_BODY_METRICS, multilabel_view
from cardgen.cards.templating import Trusted
from cardgen.cards.training import TrainingHistory
from cardgen.display.tables import format_metric
from cardgen.errors import UsageError
from cardgen.results.schema import EvalResults, Metric, ProbeResult
from cardgen.trust.untrusted import quote

PLACEHOLDER = "[More Information Needed]"
# The "get started" snippet's model id when neither --model-name nor a hub id names the model.
REPO_ID_PLACEHOLDER = "<your-org>/<model-name>"
TASK = "text-classification"
# Results keys that go into the model-index (see hub_conventions.INDEX_METRICS for their ids).
INDEX_KEYS = tuple(INDEX_METRICS)
# Local data files, read without the `datasets` library.
DATA_FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
# The metrics table of the card body, in this order.
BODY_METRICS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "weighted_precision": "Weighted precision",
    "weighted_recall": "Weighted recall",
    "weighted_f1": "Weighted F1",
    "roc_auc": "ROC AUC",
    "log_loss": "Log loss",
    "ece": "Expected calibration error",
}
LIBRARIES = {
    "python": "Python",
    "cardgen": "cardgen",
    "torch": "PyTorch",
    "transformers": "Transformers",
    "tokenizers": "Tokenizers",
    "scikit-learn": "scikit-learn",
    "skops": "skops",
    "datasets": "Datasets",
    "numpy": "NumPy",
}
# Libraries a framework's model does not use: their versions stay off its card.
UNUSED_LIBRARIES = {
    "sklearn": {"torch", "transformers", "tokenizers"},
    "transformers": {"scikit-learn", "skops"},
}
if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

_HUB_ID = HUB_ID


def card_context(
    results: EvalResults,
    *,
    model_name: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    history: TrainingHistory | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    sections: Mapping[str, str] | None = None,
    images: Mapping[str, str] | None = None,
    run_dir: Path | None = None,
    dataset_id: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    language: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Everything a template can use; every key is always present (None when unknown).

    ``dataset_id``, ``dataset_config`` and ``dataset_split`` say what the evaluation data is
    on the Hub (they replace what the results recorded); ``language`` lists ISO 639 codes.
    """
    from cardgen.cards.skops import sklearn_view

    if license is not None:
        license = check_license(license)
    languages = check_language(language) if language else None
    results = with_dataset(
        results, dataset_id=dataset_id, config=dataset_config, split=dataset_split
    )
    model = results.model
    sklearn = model.framework == "sklearn"
    hub_id = _hub_id(results)
    name = model_name or hub_id or (Path(model.id).stem if sklearn else Path(model.id).name)
    base = base_model or model.base_model
    if base is not None and not _HUB_ID.fullmatch(base):
        if base_model is not None:
            raise UsageError(
                f"--base-model must be a Hub model id such as distilbert-base-uncased or "
                f"org/name, got {quote(base_model)}"
            )
        warnings.warn(
            f"the model's base model {quote(base)} is not a Hub model id; the card leaves it out",
            stacklevel=3,
        )
        base = None
    base_url = f"https://huggingface.co/{base}" if base else None
    metadata = card_metadata(
        results, model_name=name, base_model=base, license=license, language=languages
    )
    images = dict(images or {})
    probes = [
        _probe_view(probe, plot=images.get(f"probe:{name}"))
        for name, probe in results.probes.items()
    ]
    return {
        "results": results.to_dict(),  # plain data: a template cannot call EvalResults.save
        "metadata": metadata.to_dict(),
        "card_data": Trusted(metadata.to_yaml()),
        "placeholder": Trusted(PLACEHOLDER),
        "model": {
            "name": name,
            "repo_id": model_name or hub_id or REPO_ID_PLACEHOLDER,
            "repo_id_known": bool(model_name or hub_id),
            "file_name": Path(model.id).name if sklearn else None,
            "source": hub_id or Path(model.id).name,
            "framework": model.framework,
            "library_name": metadata.library_name,
            "sklearn": sklearn,
            "architecture": model.architecture,
            "num_parameters": model.num_parameters,
            "max_length": model.max_length,
            "revision": model.revision,
            "weights_hash": model.weights_hash,
            "base_model": base,
            "base_model_url": base_url,
            "license": license,
        },
        "dataset": _dataset_view(results),
        "labels": _label_rows(results),
        "label_mapping": {
            "strategy": results.label_mapping.strategy,
            "pairs": list(results.label_mapping.model_to_dataset.items()),
            "renamed": any(m != d for m, d in results.label_mapping.model_to_dataset.items()),
        },
        "metrics": {
            key: _metric_view(key, title, results.metrics[key])
            for key, title in (
                MULTILABEL_BODY_METRICS if results.multilabel else BODY_METRICS
            ).items()
            if key in results.metrics
        },
        "task": results.task,
        "multilabel": multilabel_view(results),
        "per_class": results.per_class,
        "report_rows": _report_rows(results),
        "confusion_matrix": results.confusion_matrix,
        "calibration": results.calibration,
        "timing": results.timing,
        "images": images,
        "training": history,
        "hyperparameters": dict(hyperparameters or {}),
        "sklearn": sklearn_view(results.model.id, run_dir) if sklearn else None,
        "probes": probes,
        "slices": slices_view(results, images),
        "failures": failures_view(results),
        "robustness": robustness_view(results.robustness),
        "sections": {key: Trusted(text) for key, text in (sections or {}).items()},
        "warnings": list(results.warnings),
        "environment": [
            (LIBRARIES.get(key, key), version) for key, version in _environment(results)
        ],
        "created_at": results.created_at,
        "cardgen_version": results.cardgen_version,
        "schema_version": results.schema_version,
        "seed": results.seed,
    }


def card_metadata(
    results: EvalResults,
    *,
    model_name: str,
    base_model: str | None = None,
    license: str | None = None,
    language: list[str] | None = None,
) -> ModelCardData:
    """The YAML front matter: ``ModelCardData`` with one ``EvalResult`` per headline metric.

    Metrics use the Hub's ids with arguments (``type: f1``, ``args: {average: macro}``).
    """
    from huggingface_hub.repocard_data import EvalResult, ModelCardData

    dataset = results.dataset
    sklearn = results.model.framework == "sklearn"
    hub_id = dataset_hub_id(results)
    eval_results = []
    multi = results.task == "multi_label"
    for key in tuple(MULTILABEL_INDEX_METRICS) if multi else INDEX_KEYS:
        if key not in results.metrics:
            continue
        metric = index_metric(key, len(results.labels), multi_label=multi)
        eval_results.append(
            EvalResult(
                task_type=TASK,
                task_name="Text Classification",
                dataset_type=hub_id or dataset.name or Path(dataset.source).stem,
                dataset_name=_dataset_title(results),
                dataset_config=dataset.config,
                dataset_split=dataset.split,
                metric_type=metric.type,
                metric_name=metric.name,
                metric_args=dict(metric.args) if metric.args else None,
                metric_value=round(results.metrics[key].value, 4),
            )
        )
    data = ModelCardData(
        language=language,
        library_name="sklearn" if sklearn else results.model.framework,
        license=license,
        base_model=base_model,
        datasets=[hub_id] if hub_id else None,
        tags=[
            TASK,
            "cardgen",
            *(("sklearn", "skops") if sklearn else ()),
            *(("multi-label",) if multi else ()),
        ],
        pipeline_tag=TASK,
        model_name=model_name,
        eval_results=eval_results,
    )
    return data


def _probe_view(probe: ProbeResult, *, plot: str | None) -> dict[str, Any]:
    """A probe result in plain words, plus its numbers and plot, for the risks section."""
    topic = probe.term_kind or probe.name.replace("_", " ")
    summary = None
    if probe.lowest and probe.highest:
        (low_term, low), (high_term, high) = probe.lowest[0], probe.highest[0]
        summary = (
            f"The {probe.target_label} probability ranges from {low:.2f} ({low_term}) to "
            f"{high:.2f} ({high_term}) for sentences that differ only in which {topic} "
            "they mention"
        )
    return {
        "name": probe.name,
        "title": probe.name.replace("_", " ").capitalize(),
        "summary": summary,
        "target_label": probe.target_label,
        "range": probe.range,
        "std": probe.std,
        "flip_rate": probe.flip_rate,
        "templates": probe.templates,
        "num_terms": len(probe.terms),
        "lowest": probe.lowest,
        "highest": probe.highest,
        "group_means": probe.group_means,
        "group_gap": probe.group_gap,
        "expected_label": probe.expected_label,
        "failure_rate": probe.failure_rate,
        "plot": plot,
    }


def with_dataset(
    results: EvalResults,
    *,
    dataset_id: str | None = None,
    config: str | None = None,
    split: str | None = None,
) -> EvalResults:
    """``results`` whose dataset is ``dataset_id`` / ``config`` / ``split`` where given."""
    changes: dict[str, Any] = {}
    if dataset_id is not None:
        changes["hub_id"] = check_dataset_id(dataset_id)
    if config is not None:
        changes["config"] = check_name(config, "--dataset-config")
    if split is not None:
        changes["split"] = check_name(split, "--dataset-split")
    if not changes:
        return results
    return replace(results, dataset=replace(results.dataset, **changes))


def dataset_hub_id(results: EvalResults) -> str | None:
    """The evaluation data's Hub dataset id: stated by the user, or the hub dataset loaded."""
    dataset = results.dataset
    if dataset.hub_id:
        return dataset.hub_id
    hub = dataset.source.startswith("hub:")
    return dataset.name if hub and dataset.name and _HUB_ID.fullmatch(dataset.name) else None


def _hub_id(results: EvalResults) -> str | None:
    """The model's hub id, or None for a local directory or file (``minilm-agnews`` may be
    either: only a model loaded from the Hub has the commit it resolved to as its revision)."""
    model_id = results.model.id
    if results.model.framework == "sklearn" or model_id.startswith((".", "/", "~")):
        return None
    if results.model.revision is None:
        return None
    return model_id if _HUB_ID.fullmatch(model_id) else None


def _dataset_title(results: EvalResults) -> str:
    dataset = results.dataset
    title = dataset.hub_id or dataset.name or Path(dataset.source).stem
    return f"{title} ({dataset.config})" if dataset.config else title


def _dataset_view(results: EvalResults) -> dict[str, Any]:
    dataset = results.dataset
    hub = dataset.source.startswith("hub:")
    hub_id = dataset_hub_id(results)
    return {
        "title": _dataset_title(results),
        "name": dataset.name,
        "hub_id": hub_id,
        "config": dataset.config,
        "split": dataset.split,
        "num_rows": dataset.num_rows,
        "source": dataset.source.removeprefix("hub:") if hub else Path(dataset.source).name,
        "url": f"https://huggingface.co/datasets/{hub_id}" if hub_id else None,
        "text_column": dataset.text_column,
        "text_pair_column": dataset.text_pair.column if dataset.text_pair else None,
        "pair_truncation": dataset.text_pair.truncation if dataset.text_pair else None,
        "label_column": dataset.label_column,
        "fingerprint": dataset.fingerprint,
        "labels": dataset.labels,
    }


def _label_rows(results: EvalResults) -> list[dict[str, Any]]:
    """Model output id -> model label -> the dataset label it was scored as."""
    mapping = results.label_mapping.model_to_dataset
    return [
        {"id": i, "model_label": label, "dataset_label": mapping.get(label)}
        for i, label in enumerate(results.model.labels)
    ]


def _metric_view(key: str, title: str, metric: Metric) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "value": metric.value,
        "ci_low": metric.ci_low,
        "ci_high": metric.ci_high,
        "text": format_metric(metric),
    }


def _report_rows(results: EvalResults) -> list[dict[str, Any]]:
    """The summary rows of a classification report: accuracy, macro and weighted averages."""
    metrics = results.metrics
    support = sum(row.support for row in results.per_class)
    rows = []
    for title, prefix in (("macro avg", "macro"), ("weighted avg", "weighted")):
        keys = [f"{prefix}_{name}" for name in ("precision", "recall", "f1")]
        if all(key in metrics for key in keys):
            rows.append(
                {
                    "label": title,
                    "precision": metrics[keys[0]].value,
                    "recall": metrics[keys[1]].value,
                    "f1": metrics[keys[2]].value,
                    "support": support,
                }
            )
    return rows


def _environment(results: EvalResults) -> list[tuple[str, str]]:
    """Library versions, leaving out libraries the model and data did not use."""
    unused = set(UNUSED_LIBRARIES.get(results.model.framework, ()))
    source = results.dataset.source
    if not source.startswith("hub:") and Path(source).suffix.lower() in DATA_FILE_SUFFIXES:
        unused.add("datasets")
    environment = {k: v for k, v in results.environment.items() if k not in unused}
    known = [(key, environment[key]) for key in LIBRARIES if key in environment]
    extra = sorted((k, v) for k, v in environment.items() if k not in LIBRARIES)
    return known + extra
