"""cardgen: evaluate fine-tuned text classifiers and write their model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import CardgenError, DataError, LabelError, ModelError, ResultsError, UsageError
from .results import EvalResults, load_results

if TYPE_CHECKING:
    from .evaluation import evaluate
    from .probes import run_probes

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
    "run_probes",
]


def __getattr__(name: str) -> Any:
    # ``evaluate`` pulls in torch; load it on first use so render/gate/push stay light.
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    if name == "run_probes":
        from .probes import run_probes

        return run_probes
    raise AttributeError(f"module 'cardgen' has no attribute {name!r}")
