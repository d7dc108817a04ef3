"""Verdicts on claims, and the verification report (``verification.json``).

A claim is ``consistent`` when it lies within the 95% bootstrap CI of the recomputed value or
equals that value at the claim's printed precision (``0.91`` for 0.9074), ``contradicted``
otherwise; ``ambiguous`` and ``not_checkable`` claims say why (see ``measure``). The report is
versioned (``VERIFICATION_SCHEMA``) and records the data each value was recomputed on: the
dataset's fingerprint, rows, and its Hub revision when it was read from the Hugging Face cache.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cardgen.display.tables import format_metric
from cardgen.results.schema import Metric
from cardgen.trust.atomic import write_json
from cardgen.verify.claims import Claim
from cardgen.verify.measure import Measured, Unchecked

VERIFICATION_SCHEMA = 1
VERIFICATION_FILE = "verification.json"
VERDICTS = ("consistent", "contradicted", "ambiguous", "not_checkable")
_FLOAT_SLACK = 1e-9


@dataclass(frozen=True)
class DatasetUsed:
    """The data one group of claims was recomputed on."""

    id: str
    config: str | None
    split: str | None
    source: str
    revision: str | None
    fingerprint: str
    num_rows: int
    run_dir: str | None


@dataclass(frozen=True)
class ClaimResult:
    """A claim with its verdict; ``measured`` is the recomputed value it was compared with,
    ``readings`` the values of an ambiguous claim's readings."""

    claim: Claim
    verdict: str
    reason: str
    measured: Metric | None = None
    measured_as: str | None = None
    readings: dict[str, Metric] = field(default_factory=dict)

    @property
    def difference(self) -> float | None:
        """Claimed minus measured."""
        return None if self.measured is None else self.claim.value - self.measured.value


@dataclass
class VerifyReport:
    """Every claim of a card with its verdict, and what was run to reach them."""

    model: str
    card: str
    results: list[ClaimResult]
    datasets: list[DatasetUsed]
    created_at: str
    cardgen_version: str
    n_bootstrap: int
    seed: int
    model_revision: str | None = None
    weights_hash: str | None = None

    def count(self, verdict: str) -> int:
        return sum(result.verdict == verdict for result in self.results)

    @property
    def passed(self) -> bool:
        """No claim is contradicted."""
        return self.count("contradicted") == 0

    @property
    def headline(self) -> str:
        counts = ", ".join(f"{self.count(v)} {v.replace('_', ' ')}" for v in VERDICTS)
        return f"{len(self.results)} claims: {counts}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``verification.json``, ``schema_version`` first."""
        return {
            "schema_version": VERIFICATION_SCHEMA,
            "kind": "cardgen-verification",
            "cardgen_version": self.cardgen_version,
            "created_at": self.created_at,
            "model": {
                "id": self.model,
                "revision": self.model_revision,
                "weights_hash": self.weights_hash,
            },
            "card": self.card,
            "n_bootstrap": self.n_bootstrap,
            "seed": self.seed,
            "summary": {verdict: self.count(verdict) for verdict in VERDICTS},
            "datasets": [asdict(dataset) for dataset in self.datasets],
            "claims": [_claim_dict(result) for result in self.results],
        }

    def save(self, output_dir: str | Path) -> Path:
        """Write ``verification.json`` atomically into ``output_dir``; return its path."""
        path = Path(output_dir) / VERIFICATION_FILE
        write_json(path, self.to_dict())
        return path


def _claim_dict(result: ClaimResult) -> dict[str, Any]:
    claim = result.claim
    return {
        "where": claim.where,
        "task": claim.task,
        "dataset": claim.dataset,
        "config": claim.config,
        "split": claim.split,
        "revision": claim.revision,
        "metric": claim.metric,
        "args": claim.args,
        "name": claim.name,
        "claimed": claim.value,
        "claimed_as_printed": claim.printed,
        "verdict": result.verdict,
        "reason": result.reason,
        "measured": None if result.measured is None else asdict(result.measured),
        "measured_as": result.measured_as,
        "difference": result.difference,
        "readings": {name: asdict(metric) for name, metric in result.readings.items()},
    }


def judge(claim: Claim, found: Measured | Unchecked) -> ClaimResult:
    """The verdict on ``claim`` given its recomputed value (see the module)."""
    if isinstance(found, Unchecked):
        fits = [name for name, metric in found.readings.items() if agrees(claim, metric)]
        reason = found.reason
        if found.readings:
            values = ", ".join(f"{name} {format_metric(m)}" for name, m in found.readings.items())
            fit = f"the claim fits {', '.join(fits)}" if fits else "the claim fits none"
            reason += f"; measured: {values}; {fit}"
        return ClaimResult(claim, found.verdict, reason, readings=found.readings)
    metric = found.metric
    rounded = printed_equal(claim, metric.value)
    inside = _in_ci(claim.value, metric)
    if rounded or inside:
        why = "within the 95% CI" if inside else f"equal at the claim's precision ({claim.printed})"
        if rounded and inside:
            why = f"within the 95% CI and equal at the claim's precision ({claim.printed})"
        return ClaimResult(claim, "consistent", why, metric, found.key)
    if metric.ci_low is None or metric.ci_high is None:
        why = "outside the claim's precision; the run has no CI for this metric"
    else:
        why = f"outside the 95% CI [{metric.ci_low:.4f}, {metric.ci_high:.4f}]"
    return ClaimResult(
        claim,
        "contradicted",
        f"claimed {claim.printed}, measured {metric.value:.4f} (difference "
        f"{claim.value - metric.value:+.4f}): {why}",
        metric,
        found.key,
    )


def agrees(claim: Claim, metric: Metric) -> bool:
    """Whether ``claim`` fits ``metric``: within its CI or equal at the printed precision."""
    return printed_equal(claim, metric.value) or _in_ci(claim.value, metric)


def printed_equal(claim: Claim, value: float) -> bool:
    """Whether ``value`` rounds to the claim as printed (``0.91`` holds 0.905 to 0.915). A
    whole number holds only itself: ``1`` claims a perfect score, not anything over 0.5."""
    try:
        exponent = Decimal(claim.printed.strip()).as_tuple().exponent
    except InvalidOperation:
        exponent = Decimal(repr(claim.value)).as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    half_step = 0.5 * 10.0**exponent if exponent < 0 else 0.0
    return abs(claim.value - value) <= half_step + _FLOAT_SLACK


def _in_ci(value: float, metric: Metric) -> bool:
    low, high = metric.ci_low, metric.ci_high
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return False
    return low - _FLOAT_SLACK <= value <= high + _FLOAT_SLACK
