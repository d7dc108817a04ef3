"""Gate rules and the one place they are validated.

A rule that can never fail (``--max-drop accuracy=1``, ``--min accuracy=0``) or never pass
(``--min accuracy=90``, ``--max ece=-1``) is refused here, whether it comes from a flag, a
config table or Python, since a gate that cannot fail gives a wrong verdict without a word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from cardgen.errors import UsageError
from cardgen.tasks.metrics import CONFUSION_METRICS
from cardgen.tasks.multilabel_metrics import MULTILABEL_METRICS
from cardgen.trust.untrusted import quote

RuleKind = Literal["min", "max", "max-drop"]
RULE_KINDS: tuple[RuleKind, ...] = ("min", "max", "max-drop")
PER_CLASS_STATS = ("precision", "recall", "f1")
PROBE_STATS = ("range", "std", "flip_rate", "group_gap", "failure_rate")
ROBUSTNESS_STATS = ("flip_rate", "accuracy")
LOWER_IS_BETTER = frozenset({"log_loss", "ece", "hamming_loss"})
CARDINALITIES = frozenset({"label_cardinality", "predicted_label_cardinality"})
"""Multi-label: mean labels per example, in [0, number of labels]."""
MCNEMAR_METRICS = frozenset({"accuracy", "micro_precision", "micro_recall", "micro_f1"})
MAX_NAME_LENGTH = 500
MAX_BOOTSTRAP = 100_000

EPS = 1e-9  # comparisons with thresholds tolerate float rounding (0.91 - 0.90 > 0.01)
PER_CLASS = re.compile(r"^(precision|recall|f1)\[(.*)\]$", re.S)
SLICE_STATS = ("accuracy", "macro_f1")
SLICE = re.compile(r"^slice\..+\]\.(accuracy|macro_f1|recall\[.*\])$", re.S)
"""``slice.COLUMN[VALUE].accuracy``, ``.macro_f1`` or ``.recall[LABEL]``: a slice's metric."""
SLICE_GAP = re.compile(r"^slice_gap\..+\.(accuracy|macro_f1)$", re.S)
"""``slice_gap.COLUMN.accuracy``: the largest gap between slices of a column (lower is better)."""
_UNIT = (0.0, 1.0)
_SIGNED = frozenset({"mcc", "matthews_corrcoef", "cohen_kappa"})


def metric_range(name: str) -> tuple[float, float] | None:
    """The values metric ``name`` can take, or None when cardgen does not know the metric."""
    if name == "log_loss" or name in CARDINALITIES:
        return (0.0, math.inf)
    if name in MULTILABEL_METRICS or name == "micro_roc_auc":
        return _UNIT
    if name in _SIGNED:
        return (-1.0, 1.0)
    if name in CONFUSION_METRICS or name in ("roc_auc", "ece") or PER_CLASS.match(name):
        return _UNIT
    if name.startswith("probe.") and name.rpartition(".")[2] in PROBE_STATS:
        return _UNIT
    if name.startswith("robustness.") and name.rpartition(".")[2] in ROBUSTNESS_STATS:
        return _UNIT
    if SLICE.match(name) or SLICE_GAP.match(name):
        return _UNIT
    return None


def _span(low: float, high: float) -> str:
    return f"[{low:g}, {high:g}]" if math.isfinite(high) else f"[{low:g}, inf)"


def rule_problem(kind: str, metric: object, threshold: object) -> str | None:
    """Why ``kind metric=threshold`` is not a usable rule, or None when it is."""
    if kind not in RULE_KINDS:
        return f"unknown rule kind {quote(kind)}; use one of: {', '.join(RULE_KINDS)}"
    if not isinstance(metric, str) or not metric.strip():
        return f"the metric name must be a non-empty string, got {quote(metric)}"
    if not metric.isprintable():
        return f"the metric name {quote(metric)} holds control characters"
    if len(metric) > MAX_NAME_LENGTH:
        return f"the metric name is {len(metric):,} characters long, over {MAX_NAME_LENGTH}"
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return f"{metric} must be a number, got {quote(threshold)}"
    value = float(threshold)
    if not math.isfinite(value):
        return f"{metric} must be a finite number, got {threshold!r}"
    if kind == "max-drop" and value < 0:
        return f"the tolerated drop of {metric} must be >= 0, got {value:g}"
    bounds = metric_range(metric)
    if bounds is None:
        return None
    low, high = bounds
    fraction = bounds == _UNIT and 1 < value <= 100
    hint = (
        f"; metrics are fractions in [0, 1], not percentages: did you mean "
        f"{metric}={value / 100:.2f}?"
        if fraction
        else ""
    )
    if kind == "max-drop" and value + EPS >= high - low:
        return (
            f"a tolerated drop of {value:g} can never be exceeded: {metric} lies in "
            f"{_span(low, high)}, so this rule can never fail; use a tolerance below "
            f"{high - low:g} (0.01 is one point){hint}"
        )
    if kind == "min" and value - EPS > high:
        return (
            f"{metric} lies in {_span(low, high)}, so a minimum of {value:g} can never pass{hint}"
        )
    if kind == "min" and value <= low + EPS:
        return (
            f"{metric} is never below {low:g}, so a minimum of {value:g} can never fail; "
            "raise it or drop the rule"
        )
    if kind == "max" and value + EPS < low:
        return f"{metric} lies in {_span(low, high)}, so a maximum of {value:g} can never pass"
    if kind == "max" and value >= high - EPS:
        advice = hint or "; lower it or drop the rule"
        return f"{metric} is never above {high:g}, so a maximum of {value:g} can never fail{advice}"
    return None


@dataclass(frozen=True)
class Rule:
    """One gate rule: ``min accuracy=0.9``, ``max probe.country.range=0.3``, ``max-drop ...``.

    Construction validates it: UsageError for a rule that could never fail or never pass.
    """

    kind: RuleKind
    metric: str
    threshold: float

    def __post_init__(self) -> None:
        problem = rule_problem(self.kind, self.metric, self.threshold)
        if problem is not None:
            raise UsageError(f"rule {self.kind} {quote(self.metric)}: {problem}")

    @classmethod
    def parse(cls, kind: str, text: str) -> Rule:
        """A rule from a flag value ``NAME=VALUE`` (a label may itself contain ``=``)."""
        name, sep, value = text.rpartition("=")
        if not sep or not name.strip():
            raise UsageError(f"--{kind} expects NAME=VALUE (e.g. accuracy=0.9), got {quote(text)}")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"--{kind} {quote(text)}: {quote(value)} is not a number") from None
        return make_rule(kind, name.strip(), number, where=f"--{kind}")

    def __str__(self) -> str:
        return f"{self.kind} {self.metric}={self.threshold:g}"


def make_rule(kind: str, metric: object, threshold: object, *, where: str) -> Rule:
    """A validated Rule; ``where`` names the flag or config table in error messages."""
    problem = rule_problem(kind, metric, threshold)
    if problem is not None:
        raise UsageError(f"{where}: {problem}")
    return Rule(cast(RuleKind, kind), cast(str, metric), float(cast(float, threshold)))


def merge_rules(base: Iterable[Rule], overrides: Iterable[Rule]) -> list[Rule]:
    """``base`` with each rule replaced by an override of the same kind and metric.

    UsageError when ``overrides`` set one kind and metric twice to different thresholds.
    """
    merged: dict[tuple[str, str], Rule] = {(r.kind, r.metric): r for r in base}
    given: dict[tuple[str, str], Rule] = {}
    for rule in overrides:
        key = (rule.kind, rule.metric)
        if key in given and given[key].threshold != rule.threshold:
            raise UsageError(
                f"--{rule.kind} {quote(rule.metric)} is given twice ({given[key].threshold:g} and "
                f"{rule.threshold:g}); give it once"
            )
        given[key] = rule
    merged.update(given)
    return list(merged.values())


def rules_from_table(
    table: Mapping[str, Any], *, where: str, other_keys: Iterable[str] = ()
) -> list[Rule]:
    """Rules from ``{"min": {"accuracy": 0.9}, "max-drop": {"macro_f1": 0.01}, ...}``."""
    allowed = (*RULE_KINDS, *other_keys)
    unknown = sorted(str(key) for key in set(table) - set(allowed))
    if unknown:
        raise UsageError(
            f"{where} has unknown keys {quote(unknown)}; allowed: {', '.join(allowed)}"
        )
    rules = []
    for kind in RULE_KINDS:
        entries = table.get(kind, {})
        if not isinstance(entries, Mapping):
            raise UsageError(
                f"{where}.{kind} must be a table of METRIC = VALUE, got {quote(entries)}"
            )
        rules += [make_rule(kind, m, v, where=f"{where}.{kind}") for m, v in entries.items()]
    return rules


def check_rules(rules: Iterable[object]) -> list[Rule]:
    """The rules as a list; UsageError when one is no Rule or a min and a max exclude
    each other (``min accuracy=0.9`` with ``max accuracy=0.8`` can never both pass)."""
    checked = list(rules)
    for rule in checked:
        if not isinstance(rule, Rule):
            raise UsageError(
                f"gate rules must be Rule objects or a table like {{'min': {{'accuracy': 0.9}}}}, "
                f"got {quote(rule)}"
            )
    rule_list = cast(list[Rule], checked)
    floors = {r.metric: r for r in rule_list if r.kind == "min"}
    for rule in rule_list:
        floor = floors.get(rule.metric)
        if rule.kind == "max" and floor is not None and floor.threshold > rule.threshold + EPS:
            raise UsageError(
                f"rules '{floor}' and '{rule}' can never both pass; fix one of the thresholds"
            )
    return rule_list


def check_options(alpha: object, n_bootstrap: object, seed: object) -> float:
    """``alpha`` as a float after checking it and the bootstrap options; else UsageError."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1 (e.g. 0.05), got {quote(alpha)}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int):
        raise UsageError(f"--bootstrap must be an integer, got {quote(n_bootstrap)}")
    if not 1 <= n_bootstrap <= MAX_BOOTSTRAP:
        raise UsageError(
            f"--bootstrap must be between 1 and {MAX_BOOTSTRAP:,}, got {n_bootstrap:,}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {quote(seed)}")
    return float(alpha)


def check_resamples(n_bootstrap: int, alpha: float, *, tests: int = 1) -> None:
    """UsageError when ``n_bootstrap`` resamples cannot give a paired bootstrap p-value below
    ``alpha`` over ``tests`` Holm-corrected tests: every drop would pass as not significant."""
    smallest = tests / (n_bootstrap + 1)
    if smallest >= alpha:
        corrected = f" after the Holm correction over {tests} pairs" if tests > 1 else ""
        raise UsageError(
            f"--bootstrap {n_bootstrap} is too few resamples: the smallest paired bootstrap "
            f"p-value is then {smallest:.3g}{corrected}, never below --alpha {alpha:g}, so no "
            f"drop could be significant; pass --bootstrap {math.floor(tests / alpha)} or more "
            "(the default is 2000)"
        )


def higher_is_better(name: str) -> bool:
    """False for metrics where lower is better: log loss, calibration error, probe statistics,
    robustness flip rates and gaps between slices."""
    flips = name.startswith("robustness.") and name.endswith(".flip_rate")
    lower = name.startswith(("probe.", "slice_gap.")) or flips
    return name not in LOWER_IS_BETTER and not lower


def paired_test(name: str, task: str | None = "single_label") -> str | None:
    """The paired test a drop of ``name`` gets with predictions on both sides, if any; for
    ``task`` ``multi_label``, McNemar on subset accuracy, the paired bootstrap on the other
    label-set metrics but the cardinalities (no better or worse) and on per-label scores."""
    if task == "multi_label":
        if name == "subset_accuracy":
            return "McNemar"
        tested = name in MULTILABEL_METRICS and name not in CARDINALITIES
        return "paired bootstrap" if tested or PER_CLASS.match(name) else None
    if name in MCNEMAR_METRICS:
        return "McNemar"
    if name in CONFUSION_METRICS or PER_CLASS.match(name):
        return "paired bootstrap"
    return None
