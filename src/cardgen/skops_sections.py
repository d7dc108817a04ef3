"""Hyperparameter table and pipeline diagram of a scikit-learn model, from skops' card tools."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models.sklearn import _load_estimator

_SKLEARN_IDS = re.compile(r"sk-(container|estimator)-id-(\d+)")


@dataclass
class SklearnSections:
    """Markdown for the hyperparameters (a folded table) and HTML for the pipeline diagram."""

    hyperparameters: str
    diagram: str


def find_model_file(model_id: str, run_dir: Path | None) -> Path | None:
    """The model file as recorded (relative to the working directory), else beside the results."""
    recorded = Path(model_id)
    if recorded.is_file():
        return recorded
    if run_dir is not None and (run_dir / recorded.name).is_file():
        return run_dir / recorded.name
    return None


def sklearn_sections(path: Path) -> SklearnSections:
    """Load the estimator with skops' trusted types only and describe it with ``skops.card``.

    Raises ModelError when the file cannot be loaded safely.
    """
    with _torch_import_refused():
        from skops.card import Card

    estimator = _load_estimator(path, allow_pickle=False, trusted_types=())
    card = Card(estimator, template=None, model_diagram=False)
    card.add_hyperparams(
        section="Hyperparameters",
        description="The model's hyperparameters (`get_params(deep=True)`):",
    )
    card.add_model_plot(section="Pipeline diagram", description=None)
    return SklearnSections(
        hyperparameters=card.select("Hyperparameters").format(),
        diagram=_renumber_ids(card.select("Pipeline diagram").format()),
    )


@contextmanager
def _torch_import_refused() -> Iterator[None]:
    """Make ``import torch`` fail inside the block, unless torch is already loaded.

    Importing ``skops.io`` lists sklearn's estimators with ``all_estimators()``, which walks
    every sklearn module; one of them imports torch when it is installed, which costs seconds
    and breaks the rule that rendering never imports torch. sklearn skips modules whose import
    fails, and nothing a card needs uses torch.
    """
    if "torch" in sys.modules:
        yield
        return
    finder = _RefuseTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


class _RefuseTorch:
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"{name} is not imported while rendering a card")
        return None


def _renumber_ids(html: str) -> str:
    """sklearn numbers diagram ids with a process-wide counter; number them per card instead,
    so that rendering the same model twice gives the same card."""
    numbers: dict[tuple[str, str], int] = {}

    def renumber(match: re.Match[str]) -> str:
        kind = match.group(1)
        key = (kind, match.group(2))
        if key not in numbers:
            numbers[key] = 1 + sum(1 for k in numbers if k[0] == kind)
        return f"sk-{kind}-id-{numbers[key]}"

    return _SKLEARN_IDS.sub(renumber, html)
