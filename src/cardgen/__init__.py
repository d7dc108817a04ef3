"""cardgen: evaluate fine-tuned text classifiers and write their model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (
    CardError,
    CardgenError,
    DataError,
    LabelError,
    ModelError,
    ResultsError,
    UsageError,
)
from .results import EvalResults, load_results

if TYPE_CHECKING:
    from .card import render_card
    from .evaluation import evaluate

__all__ = [
    "CardError",
    "CardgenError",
    "DataError",
    "EvalResults",
    "LabelError",
    "ModelError",
    "ResultsError",
    "UsageError",
    "__version__",
    "evaluate",
    "load_results",
    "render_card",
]


def __getattr__(name: str) -> Any:
    # ``evaluate`` pulls in torch and ``render_card`` Jinja and huggingface_hub: load them on
    # first use so that ``import cardgen`` stays light.
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    if name == "render_card":
        from .card import render_card

        return render_card
    raise AttributeError(f"module 'cardgen' has no attribute {name!r}")
