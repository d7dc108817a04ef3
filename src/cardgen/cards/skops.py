"""Hyperparameter table and pipeline diagram of a scikit-learn model, from skops' card tools."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.cards.templating import Trusted
from cardgen.errors import ModelError
from cardgen.models.sklearn import _load_estimator
from cardgen.trust.untrusted import LimitError, inside

_SKLEARN_IDS = re.compile(r"sk-(container|estimator)-id-(\d+)")


@dataclass
class SklearnSections:
    """The hyperparameters (name, value as text) and the HTML of the pipeline diagram.

    The values come from the model file, so they are data for the template to escape; the
    diagram is scikit-learn's HTML, which escapes them itself.
    """

    hyperparameters: list[tuple[str, str]]
    diagram: str


def sklearn_view(model_id: str, run_dir: Path | None) -> dict[str, Any]:
    """The card's view of a scikit-learn model: hyperparameters and diagram, or why they are
    missing (a warning says so too)."""
    path = find_model_file(model_id, run_dir)
    if path is None:
        reason = f"the model file {model_id} was not found"
    else:
        try:
            made = sklearn_sections(path)
        except ModelError as exc:
            reason = str(exc)
        else:
            diagram = Trusted(made.diagram)
            return {"hyperparameters": made.hyperparameters, "diagram": diagram, "note": None}
    warnings.warn(f"{reason}; the card omits its hyperparameters and diagram", stacklevel=4)
    return {"hyperparameters": None, "diagram": None, "note": reason}


def find_model_file(model_id: str, run_dir: Path | None) -> Path | None:
    """The model file as recorded (relative to the working directory), else beside the results."""
    recorded = Path(model_id)
    if recorded.is_file():
        return recorded
    if run_dir is None:
        return None
    try:
        beside = inside(run_dir, recorded.name, what="model file")
    except LimitError:
        return None
    return beside if beside.is_file() else None


def sklearn_sections(path: Path) -> SklearnSections:
    """Load the estimator with skops' trusted types only and describe it with ``skops.card``.

    Raises ModelError when the file cannot be loaded safely.
    """
    with _torch_import_refused():
        from skops.card import Card

    estimator = _load_estimator(path, allow_pickle=False, trusted_types=())
    card = Card(estimator, template=None, model_diagram=False)
    card.add_model_plot(section="Pipeline diagram", description=None)
    params = estimator.get_params(deep=True)
    return SklearnSections(
        hyperparameters=[(str(name), _param_text(value)) for name, value in params.items()],
        diagram=_renumber_ids(card.select("Pipeline diagram").format()),
    )


def _param_text(value: Any) -> str:
    """A parameter as skops shows it: strings bare, anything else as its repr."""
    return value if isinstance(value, str) else repr(value)


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
