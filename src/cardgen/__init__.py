"""cardgen: evaluate fine-tuned text classifiers and write their model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from cardgen.errors import (
    CardError,
    CardgenError,
    DataError,
    LabelError,
    ModelError,
    ResultsError,
    UsageError,
)
from cardgen.results.schema import EvalResults, load_results

if TYPE_CHECKING:
    from cardgen.cards.render import render_card
    from cardgen.compare.many import Leaderboard
    from cardgen.compare.runs import Comparison, compare_runs
    from cardgen.evaluation.run import evaluate
    from cardgen.gate import check_gate
    from cardgen.hub.push import push_card
    from cardgen.probes import run_probes

__all__ = [
    "CardError",
    "CardgenError",
    "Comparison",
    "DataError",
    "EvalResults",
    "LabelError",
    "Leaderboard",
    "ModelError",
    "ResultsError",
    "UsageError",
    "__version__",
    "check_gate",
    "compare_runs",
    "evaluate",
    "load_results",
    "push_card",
    "run_probes",
    "render_card",
]


def __getattr__(name: str) -> Any:
    # ``evaluate`` pulls in torch and ``render_card`` Jinja and huggingface_hub: load them on
    # first use so that ``import cardgen`` stays light.
    if name == "evaluate":
        from cardgen.evaluation.run import evaluate

        return evaluate
    # ``check_gate`` (numpy) and ``push_card`` (huggingface_hub) load on first use too.
    if name == "check_gate":
        from cardgen.gate import check_gate

        return check_gate
    if name in ("compare_runs", "Comparison", "Leaderboard"):
        from cardgen.compare import runs as compare

        return getattr(compare, name)
    if name == "push_card":
        from cardgen.hub.push import push_card

        return push_card
    if name == "run_probes":
        from cardgen.probes import run_probes

        return run_probes
    if name == "render_card":
        from cardgen.cards.render import render_card

        return render_card
    raise AttributeError(f"module 'cardgen' has no attribute {name!r}")
