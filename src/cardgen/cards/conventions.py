"""What the Hub understands in card metadata: metric ids with arguments, licenses, languages.

``INDEX_METRICS`` says how each headline results key is written in a ``model-index`` (the
conventional metric id of the Hub and ``evaluate``, its arguments and a readable name), and
``metric_key`` reads it back for the gate. ``check_license``, ``check_language`` and
``check_dataset_id`` refuse values the Hub would refuse or misread, with the likely fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cardgen.errors import UsageError
from cardgen.trust.untrusted import quote


@dataclass(frozen=True)
class IndexMetric:
    """How one results key appears in a ``model-index``: ``type``, ``args`` and ``name``."""

    type: str
    name: str
    args: Mapping[str, str] | None = None


INDEX_METRICS = {
    "accuracy": IndexMetric("accuracy", "Accuracy"),
    "macro_f1": IndexMetric("f1", "Macro F1", {"average": "macro"}),
    "weighted_f1": IndexMetric("f1", "Weighted F1", {"average": "weighted"}),
    "macro_precision": IndexMetric("precision", "Macro Precision", {"average": "macro"}),
    "macro_recall": IndexMetric("recall", "Macro Recall", {"average": "macro"}),
    "roc_auc": IndexMetric("roc_auc", "ROC AUC"),
}
# A multi-class ROC AUC is the one-vs-rest macro average (see metrics._roc_auc).
MULTICLASS_ROC_AUC = IndexMetric(
    "roc_auc", "ROC AUC (one-vs-rest, macro)", {"multi_class": "ovr", "average": "macro"}
)

# A multi-label run's headline metrics (see metrics_multilabel): F1 averaged over all label
# decisions (micro), labels (macro, weighted) and examples (samples); ROC AUC macro over labels.
MULTILABEL_INDEX_METRICS = {
    "micro_f1": IndexMetric("f1", "Micro F1", {"average": "micro"}),
    "macro_f1": INDEX_METRICS["macro_f1"],
    "weighted_f1": INDEX_METRICS["weighted_f1"],
    "samples_f1": IndexMetric("f1", "Samples F1", {"average": "samples"}),
    "roc_auc": IndexMetric("roc_auc", "ROC AUC (macro over labels)", {"average": "macro"}),
}


def index_metric(key: str, num_labels: int, *, multi_label: bool = False) -> IndexMetric:
    """The ``model-index`` form of results key ``key`` for a model with ``num_labels`` labels."""
    if multi_label:
        return MULTILABEL_INDEX_METRICS[key]
    if key == "roc_auc" and num_labels > 2:
        return MULTICLASS_ROC_AUC
    return INDEX_METRICS[key]


def metric_key(metric_type: str, args: Any = None) -> str:
    """The results key of a ``model-index`` metric: ``f1`` + ``{average: macro}`` -> ``macro_f1``.

    Metric types cardgen wrote before it used arguments (``macro_f1``) map to themselves.
    """
    average = args.get("average") if isinstance(args, Mapping) else None
    averages = ("macro", "weighted", "micro", "samples")
    if metric_type in ("f1", "precision", "recall") and average in averages:
        return f"{average}_{metric_type}"
    return metric_type


# The license ids the Hub accepts in a card's `license:` (https://huggingface.co/docs/hub/
# repositories-licenses); anything else needs `license: other` with license_name / license_link.
_LICENSE_IDS = """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause
    bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0
    cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
    cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
    cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1
    eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research
    intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl openrail++ osl-3.0
    postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license
    fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
    unknown other
"""
HUB_LICENSES = frozenset(_LICENSE_IDS.split())
_LICENSE_ALIASES = {"apache": "apache-2.0", "apache2": "apache-2.0", "gplv3": "gpl-3.0"}


def check_license(value: str) -> str:
    """``value`` when it is a Hub license id; UsageError suggesting the id it most likely means."""
    if value in HUB_LICENSES:
        return value
    squashed = re.sub(r"[\s_-]+", "", value.strip().lower()).removesuffix("license")
    by_shape = {re.sub(r"[-]", "", hub_id): hub_id for hub_id in HUB_LICENSES}
    suggestion = by_shape.get(squashed) or _LICENSE_ALIASES.get(squashed)
    if suggestion is None and squashed.removesuffix(".0") + ".0" in by_shape:
        suggestion = by_shape[squashed.removesuffix(".0") + ".0"]
    hint = (
        f"did you mean {suggestion}?"
        if suggestion
        else "use the Hub's id (apache-2.0, mit, cc-by-4.0, ...), or `other` for a custom license"
    )
    raise UsageError(f"--license {quote(value)} is not a license id the Hub knows; {hint}")


# A language code as the Hub takes it: ISO 639-1 (en), 639-2/3 (yue), optionally with a
# region or script (en-US, zh-Hant), or the Hub's `multilingual`.
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multilingual", re.ASCII)
_LANGUAGE_NAMES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "chinese": "zh", "japanese": "ja", "korean": "ko",
    "russian": "ru", "arabic": "ar", "hindi": "hi", "turkish": "tr", "polish": "pl",
}  # fmt: skip


def check_language(values: Iterable[str]) -> list[str]:
    """Language codes for the card's ``language:``; UsageError naming a code the Hub refuses."""
    codes = []
    for value in values:
        code = value.strip()
        if not _LANGUAGE.fullmatch(code):
            suggestion = _LANGUAGE_NAMES.get(code.lower()) or (
                code.lower() if _LANGUAGE.fullmatch(code.lower()) else None
            )
            hint = f"did you mean {suggestion}?" if suggestion else "use codes like en, fr, zh"
            raise UsageError(f"--language {quote(value)} is not an ISO 639 language code; {hint}")
        if code not in codes:
            codes.append(code)
    return codes


# A Hub repo id: [org/]name, each part of word characters, "-" and "." (not first or last, never
# doubled), at most 96 characters.
_HUB_PART = r"(?![-.])(?:(?!--|\.\.)[\w.-]){1,96}(?<![-.])"
HUB_ID = re.compile(rf"{_HUB_PART}(?:/{_HUB_PART})?", re.ASCII)


def check_dataset_id(value: str) -> str:
    """``value`` when it is a Hub dataset id (``imdb``, ``nyu-mll/glue``); UsageError otherwise."""
    if not HUB_ID.fullmatch(value):
        raise UsageError(
            f"--dataset-id must be a Hub dataset id such as imdb or nyu-mll/glue, got "
            f"{quote(value)}"
        )
    return value


def check_name(value: str, option: str) -> str:
    """A dataset config or split name: one short line of text."""
    if not value.strip() or len(value) > 200 or any(ch in value for ch in "\n\r\x00"):
        raise UsageError(f"{option} must be a short name such as validation, got {quote(value)}")
    return value


def convention_problems(metadata: Mapping[str, Any]) -> list[str]:
    """What in a card's metadata breaks the Hub's conventions: a license that is not a Hub id,
    a language that is not a code, a base model or dataset that is not a repo id."""
    problems = []
    license_ = metadata.get("license")
    if isinstance(license_, str):
        try:
            check_license(license_)
        except UsageError as exc:
            problems.append(str(exc).replace("--license ", "license ", 1))
    checks = (("language", _LANGUAGE), ("base_model", HUB_ID), ("datasets", HUB_ID))
    for key, pattern in checks:
        value = metadata.get(key)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for item in values:
            if isinstance(item, str) and not pattern.fullmatch(item):
                problems.append(f"{key} {quote(item)} is not what the Hub expects there")
    return problems
