"""Model cards: results (+ options) -> Jinja context -> Markdown with Hub metadata.

The YAML front matter is built with huggingface_hub's ``ModelCardData`` / ``EvalResult``; the
body comes from a Jinja template whose machine-written sections sit between markers (see
``sections``), so re-rendering onto an existing card keeps what a person wrote around them.
Nothing here imports torch.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._io import write_text
from ._untrusted import quote
from .errors import CardError, OutputError, UsageError
from .export import GENERATOR, card_images, card_to_html, copy_images, image_sources
from .results import EvalResults, Metric, ProbeResult, load_results
from .sections import (
    check_replaceable,
    check_section,
    parse_metadata,
    refresh_file,
    split_front_matter,
    tag_model,
)
from .tables import format_metric
from .templating import Trusted
from .training import (
    TrainingHistory,
    check_hyperparameters,
    load_hyperparameters,
    load_training_history,
)

PLACEHOLDER = "[More Information Needed]"
TASK = "text-classification"
# model-index entries: results key -> human name (accuracy, macro-F1, weighted-F1, P, R, AUC).
INDEX_METRICS = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro F1",
    "weighted_f1": "Weighted F1",
    "macro_precision": "Macro Precision",
    "macro_recall": "Macro Recall",
    "roc_auc": "ROC AUC",
}
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
# Sections a person can fill with --section NAME=FILE in the default template.
USER_SECTIONS = ("model_description", "intended_uses", "training_data", "risks")
LIBRARIES = {
    "python": "Python",
    "cardgen": "cardgen",
    "torch": "PyTorch",
    "transformers": "Transformers",
    "scikit-learn": "scikit-learn",
    "skops": "skops",
    "datasets": "Datasets",
    "numpy": "NumPy",
}
if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

# A Hub repo id: [org/]name, each part of word characters, "-" and "." (not first or last, never
# doubled), at most 96 characters.
_HUB_PART = r"(?![-.])(?:(?!--|\.\.)[\w.-]){1,96}(?<![-.])"
_HUB_ID = re.compile(rf"{_HUB_PART}(?:/{_HUB_PART})?", re.ASCII)


@dataclass
class RenderedCard:
    """A rendered card, and the run files it links: path relative to the card -> source."""

    text: str
    images: dict[str, Path]


def render_card(
    results: EvalResults | str | Path,
    *,
    template: str | Path | None = None,
    output: str | Path | None = None,
    output_format: str = "md",
    model_name: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    training_history: str | Path | None = None,
    hyperparameters: str | Path | Mapping[str, Any] | None = None,
    sections: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> str:
    """Render the model card of a run and return it; with ``output``, also write it.

    ``results`` is a run directory, a results file or loaded results (their images are then
    linked but not copied). ``template`` is a Jinja template (rendered in a sandbox); ``sections``
    maps a section name (``intended_uses``, ``model_description``, ``training_data``, ``risks``)
    to Markdown text; ``hyperparameters`` is a mapping or a JSON file. With ``output`` the
    run's PNGs are copied beside the card, and an existing Markdown card is refreshed: its
    cardgen sections are replaced and everything else is kept (``overwrite`` replaces it
    whole). ``output_format="html"`` gives a standalone, sanitized HTML page instead; it
    replaces only an HTML card cardgen wrote, other files need ``overwrite``. Refreshing a card
    of another model is refused. Raises a CardgenError on bad input before anything is written.
    """
    if output_format not in ("md", "html"):
        raise UsageError(f"--format must be 'md' or 'html', got {quote(output_format)}")
    target = Path(output) if output is not None else None
    if target is not None and "\x00" in str(target):
        raise OutputError(f"--output {quote(str(target))} contains a NUL character")
    if target is not None and target.is_dir():
        raise OutputError(
            f"--output {target} is a directory; pass the card's file path, "
            f"e.g. {target / ('README.html' if output_format == 'html' else 'README.md')}"
        )
    card = build_card(
        results,
        template=template,
        model_name=model_name,
        base_model=base_model,
        license=license,
        training_history=training_history,
        hyperparameters=hyperparameters,
        sections=sections,
    )
    text = card.text
    if output_format == "md" and target is not None and not overwrite:
        text = refresh_file(target, text, sections or {})
    if output_format == "html":
        if target is not None and not overwrite:
            check_replaceable(target, GENERATOR, what="an HTML card written by cardgen")
        text = card_to_html(text)
    if target is not None:
        copy_images(card.images, target.parent)
        try:
            write_text(target, text)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(
                f"cannot write the card {target}: {exc.strerror or exc}; choose another --output"
            ) from exc
    return text


def build_card(
    results: EvalResults | str | Path,
    *,
    template: str | Path | None = None,
    model_name: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
    training_history: str | Path | None = None,
    hyperparameters: str | Path | Mapping[str, Any] | None = None,
    sections: Mapping[str, str] | None = None,
) -> RenderedCard:
    """The card as freshly rendered from a template (no refresh, nothing written)."""
    from .templating import render_template

    loaded, run_dir = _load(results)
    user_sections = dict(sections or {})
    if template is None:
        unknown = sorted(set(user_sections) - set(USER_SECTIONS))
        if unknown:
            raise UsageError(
                f"unknown section {', '.join(map(quote, unknown))}; the default template has "
                f"these sections to fill: {', '.join(USER_SECTIONS)}"
            )
    for name, section in user_sections.items():
        if not isinstance(section, str):
            raise UsageError(
                f"section {quote(name)} must be Markdown text, got a {type(section).__name__}"
            )
        check_section(name, section)
    history = load_training_history(training_history) if training_history else None
    params = dict(history.hyperparameters) if history else {}
    if isinstance(hyperparameters, Mapping):
        params.update(check_hyperparameters(hyperparameters, source="the hyperparameters"))
    elif hyperparameters is not None:
        params.update(load_hyperparameters(hyperparameters))
    images = card_images(loaded, run_dir)
    context = card_context(
        loaded,
        model_name=model_name,
        base_model=base_model,
        license=license,
        history=history,
        hyperparameters=params,
        sections=user_sections,
        images={name: path.as_posix() for name, path in images.items()},
        run_dir=run_dir,
    )
    text = render_template(template, context)
    source = "the card" if template is None else f"the card rendered from template {template}"
    check_metadata(text, context["metadata"], source=source)
    text = tag_model(text, context["model"]["source"])
    return RenderedCard(text=text, images=image_sources(images, run_dir))


def card_metadata(
    results: EvalResults,
    *,
    model_name: str,
    base_model: str | None = None,
    license: str | None = None,
) -> ModelCardData:
    """The YAML front matter: ``ModelCardData`` with one ``EvalResult`` per headline metric."""
    from huggingface_hub.repocard_data import EvalResult, ModelCardData

    dataset = results.dataset
    sklearn = results.model.framework == "sklearn"
    hub = dataset.source.startswith("hub:")
    eval_results = [
        EvalResult(
            task_type=TASK,
            task_name="Text Classification",
            dataset_type=dataset.name or Path(dataset.source).stem,
            dataset_name=_dataset_title(results),
            dataset_config=dataset.config,
            dataset_split=dataset.split,
            metric_type=key,
            metric_name=name,
            metric_value=round(results.metrics[key].value, 4),
        )
        for key, name in INDEX_METRICS.items()
        if key in results.metrics
    ]
    data = ModelCardData(
        library_name="sklearn" if sklearn else results.model.framework,
        license=license,
        base_model=base_model,
        datasets=[dataset.name]
        if hub and dataset.name and _HUB_ID.fullmatch(dataset.name)
        else None,
        tags=[TASK, "cardgen", *(("sklearn", "skops") if sklearn else ())],
        pipeline_tag=TASK,
        model_name=model_name,
        eval_results=eval_results,
    )
    return data


def check_metadata(
    text: str, expected: Mapping[str, Any], *, source: str = "the rendered card"
) -> None:
    """Parse the card's front matter back with ``ModelCardData`` and compare it with ``expected``.

    Catches templates that drop or mangle the metadata (e.g. a CI in a metric value).
    """
    from huggingface_hub.repocard_data import ModelCardData

    front, _ = split_front_matter(text)
    fix = "keep `{{ card_data }}` in the front matter as is"
    if front is None:
        raise CardError(
            f"{source} has no YAML front matter; a template must start with "
            "`---`, `{{ card_data }}`, `---` so that the Hub reads the metadata"
        )
    metadata = parse_metadata(front, source=source, fix=fix)
    try:
        parsed = ModelCardData(**metadata).to_dict()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CardError(f"the metadata of {source} is invalid: {quote(str(exc))}; {fix}") from exc
    for key in ("model-index", "pipeline_tag", "library_name"):
        if parsed.get(key) != expected.get(key):
            raise CardError(
                f"{source}: its metadata has {key}={quote(parsed.get(key))}, expected "
                f"{quote(expected.get(key))}; {fix}"
            )


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
) -> dict[str, Any]:
    """Everything a template can use; every key is always present (None when unknown)."""
    from .skops_sections import sklearn_view

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
    metadata = card_metadata(results, model_name=name, base_model=base, license=license)
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
            "repo_id": model_name or hub_id or name,
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
            for key, title in BODY_METRICS.items()
            if key in results.metrics
        },
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


def _load(results: EvalResults | str | Path) -> tuple[EvalResults, Path | None]:
    if isinstance(results, EvalResults):
        return results, None
    path = Path(results)
    return load_results(path), path if path.is_dir() else path.parent


def _hub_id(results: EvalResults) -> str | None:
    """The model's hub id, or None for a local directory or file."""
    model_id = results.model.id
    if results.model.framework == "sklearn" or model_id.startswith((".", "/", "~")):
        return None
    return model_id if _HUB_ID.fullmatch(model_id) else None


def _dataset_title(results: EvalResults) -> str:
    dataset = results.dataset
    title = dataset.name or Path(dataset.source).stem
    return f"{title} ({dataset.config})" if dataset.config else title


def _dataset_view(results: EvalResults) -> dict[str, Any]:
    dataset = results.dataset
    hub = dataset.source.startswith("hub:")
    return {
        "title": _dataset_title(results),
        "name": dataset.name,
        "config": dataset.config,
        "split": dataset.split,
        "num_rows": dataset.num_rows,
        "source": dataset.source.removeprefix("hub:") if hub else Path(dataset.source).name,
        "url": (
            f"https://huggingface.co/datasets/{dataset.name}"
            if hub and dataset.name and _HUB_ID.fullmatch(dataset.name)
            else None
        ),
        "text_column": dataset.text_column,
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
    known = [(key, results.environment[key]) for key in LIBRARIES if key in results.environment]
    extra = sorted((k, v) for k, v in results.environment.items() if k not in LIBRARIES)
    return known + extra
