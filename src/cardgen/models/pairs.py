"""Whether a model says it was fine-tuned on sentence pairs: pair columns found only by name
(premise / hypothesis, question / sentence, ...) are evaluated as pairs only for such a model."""

from __future__ import annotations

import re

from cardgen.data.column_options import TEXT_COLUMNS
from cardgen.errors import UsageError
from cardgen.models.base import TextClassifier
from cardgen.results.schema import DatasetInfo
from cardgen.trust.untrusted import quote

PAIR_TASKS = frozenset(
    {"mrpc", "qqp", "rte", "stsb", "cb", "boolq", "paws", "pawsx", "scitail", "sick", "wic"}
)
"""``finetuning_task`` values of pair tasks (lower case, letters and digits only); any task
with ``nli`` in its name (mnli, snli, xnli, qnli, wnli, anli, ...) is one too."""
PAIR_LABEL_WORDS = ("entail", "contradict", "duplicate", "paraphrase", "equivalent")
"""Words in the labels of NLI, paraphrase and duplicate-question models."""


def finetuning_task(model: object) -> str | None:
    """``finetuning_task`` of the transformers config behind ``model`` (an adapter, or an
    engine's wrapper around one), or None."""
    for _ in range(3):
        config = getattr(model, "config", None)
        if config is not None:
            task = getattr(config, "finetuning_task", None)
            return task if isinstance(task, str) else None
        model = getattr(model, "model", None)
    return None


def pairs_fit(model: TextClassifier) -> bool:
    """Whether ``model`` says it was fine-tuned on sentence pairs: a pair task in its config's
    ``finetuning_task`` (``run_glue.py`` writes it) or labels such as entailment or
    duplicate."""
    task = re.sub(r"[^a-z0-9]", "", (finetuning_task(model) or "").casefold())
    if task in PAIR_TASKS or "nli" in task:
        return True
    return any(word in str(label).casefold() for label in model.labels for word in PAIR_LABEL_WORDS)


def check_pairs_fit(model: TextClassifier, dataset: DatasetInfo) -> None:
    """UsageError when the dataset's pair columns were found by name and ``model`` does not say
    it was fine-tuned on pairs (``pairs_fit``): asking is the user's, with either option."""
    pair = dataset.text_pair
    if pair is None or not pair.found_by_name or pairs_fit(model):
        return
    first, second = dataset.text_column, pair.column
    single = second if second in TEXT_COLUMNS and first not in TEXT_COLUMNS else first
    task = finetuning_task(model)
    raise UsageError(
        f"columns {quote(first)} and {quote(second)} of {dataset.source} were found by name as "
        f"a sentence pair, but model {quote(model.info().id)} does not say it was fine-tuned on "
        f"pairs (finetuning_task: {quote(task)}; labels: {quote(', '.join(model.labels))}); "
        f"use --text-pair-column {quote(second)} to evaluate pairs, or --text-column "
        f"{quote(single)} to evaluate single texts"
    )
