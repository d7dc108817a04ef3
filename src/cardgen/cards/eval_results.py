"""cardgen's ``.eval_results`` file of a run: its headline metric on its Hub dataset.

The Hub shows these results on the model page and on the dataset's leaderboard; the format and
who owns a file are ``eval_results_format``'s, the folder beside the card
``eval_results_folder``'s.
"""

from __future__ import annotations

import math
from pathlib import Path

from cardgen.cards.eval_results_folder import check_eval_results_target
from cardgen.cards.eval_results_format import (
    SOURCE_NAME,
    EvalResultsFile,
    cardgen_notes,
    eval_results_name,
    eval_results_text,
)
from cardgen.errors import UsageError
from cardgen.results.schema import EvalResults, Metric, load_results
from cardgen.results.types import COMMIT_ID
from cardgen.trust.untrusted import quote

HEADLINE_METRICS = {"single_label": "accuracy", "multi_label": "micro_f1"}
"""The metric of each task (results.json ``task``) that cardgen puts in ``.eval_results``."""


def headline_metric(results: EvalResults, metric: str | None = None) -> tuple[str, Metric]:
    """``metric`` (default: accuracy, or micro-F1 for a multi-label run) and its result;
    UsageError when the run has no such metric or no finite value for it."""
    name = metric if metric is not None else HEADLINE_METRICS.get(results.task, "accuracy")
    found = results.metrics.get(name) if isinstance(name, str) else None
    if found is None:
        raise UsageError(
            f"--eval-results-metric {quote(name)} is not a metric of this run; its metrics "
            f"are: {', '.join(results.metrics)}"
        )
    if not math.isfinite(found.value):
        raise UsageError(
            f"{name} has no finite value in this run ({found.value}), so it cannot go to "
            f".eval_results; choose another with --eval-results-metric"
        )
    return name, found


def build_eval_results(
    results: EvalResults,
    *,
    metric: str | None = None,
    dataset_id: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    dataset_revision: str | None = None,
) -> EvalResultsFile | None:
    """The ``.eval_results`` file of a run: one entry, its headline metric (see
    ``headline_metric``) on its dataset / config / split; None when the dataset has no Hub id
    (a local file without ``dataset_id``), since the Hub needs one and cardgen never invents it.

    ``task_id`` is the config (or ``default``), ``date`` when the run was evaluated, ``notes``
    the split, the metric and its 95% CI; ``dataset_revision`` (a 40-hex commit) when given,
    else the commit the run recorded when it loaded that Hub dataset.
    """
    from huggingface_hub import EvalResultEntry

    from cardgen.cards.context import dataset_hub_id, with_dataset

    name, found = headline_metric(results, metric)
    if dataset_revision is not None and not COMMIT_ID.fullmatch(dataset_revision):
        raise UsageError(
            f"--dataset-revision must be the 40-character commit id of the dataset on the "
            f"Hub, got {quote(dataset_revision)}"
        )
    results = with_dataset(
        results, dataset_id=dataset_id, config=dataset_config, split=dataset_split
    )
    hub_id = dataset_hub_id(results)
    if hub_id is None:
        if dataset_revision is not None:
            raise UsageError("--dataset-revision goes with a Hub dataset: add --dataset-id too")
        return None
    dataset = results.dataset
    if dataset_revision is None and dataset.source == f"hub:{hub_id}":
        dataset_revision = dataset.revision  # the dataset loaded, not one named with dataset_id
    entry = EvalResultEntry(
        dataset_id=hub_id,
        task_id=dataset.config or "default",
        value=found.value,
        dataset_revision=dataset_revision,
        date=results.created_at,
        source_url=f"https://huggingface.co/datasets/{hub_id}",
        source_name=f"{SOURCE_NAME} {results.cardgen_version}".strip(),
        notes=cardgen_notes(dataset.split, name, found),
    )
    file_name = eval_results_name(hub_id, dataset.config, dataset.split)
    return EvalResultsFile(file_name, eval_results_text([entry], source=file_name), [entry])


def plan_eval_results(
    run: Path,
    card: Path,
    *,
    metric: str | None = None,
    dataset_id: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    dataset_revision: str | None = None,
) -> EvalResultsFile | None:
    """The ``.eval_results`` file of the run at ``run`` (see ``build_eval_results``), checked
    to be writable beside ``card`` before anything is written; None when the run's dataset has
    no Hub id."""
    file = build_eval_results(
        load_results(run),
        metric=metric,
        dataset_id=dataset_id,
        dataset_config=dataset_config,
        dataset_split=dataset_split,
        dataset_revision=dataset_revision,
    )
    if file is not None:
        check_eval_results_target(file, card)
    return file
