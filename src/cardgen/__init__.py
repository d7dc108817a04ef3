"""cardgen: evaluate fine-tuned text classifiers and write their model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import CardgenError, DataError, LabelError, ModelError, ResultsError, UsageError
from .results import EvalResults, load_results

if TYPE_CHECKING:
    from .evaluation import evaluate

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    # ``evaluate`` pulls in torch; load it on first use so render/gate/push stay light.
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'cardgen' has no attribute {name!r}")
