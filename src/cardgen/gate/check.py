"""``check_gate``: every rule's verdict on a run, against a baseline for ``max-drop`` rules."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.errors import UsageError
from cardgen.gate.compatible import check_comparable
from cardgen.gate.paired import (
    Pairing,
    defined_resamples,
    mcnemar_p_value,
    pair,
    paired_bootstrap_deltas,
    swap_warnings,
)
from cardgen.gate.report import GateReport, RuleOutcome, Verdict
from cardgen.gate.rules import (
    EPS,
    Rule,
    check_options,
    check_resamples,
    check_rules,
    higher_is_better,
    paired_test,
)
from cardgen.gate.rules import rules_from_table as _rules_from_table
from cardgen.gate.runs import Run, load_run
from cardgen.gate.values import metric_value
from cardgen.results.schema import EvalResults, Metric
from cardgen.results.settings import setting_differences


def check_gate(
    current: EvalResults | str | os.PathLike[str],
    baseline: EvalResults | str | os.PathLike[str] | None = None,
    rules: Iterable[Rule] | Mapping[str, Mapping[str, float]] = (),
    *,
    current_predictions: list[dict[str, Any]] | None = None,
    baseline_predictions: list[dict[str, Any]] | None = None,
    alpha: float = 0.05,
    strict: bool = False,
    n_bootstrap: int = 2000,
    seed: int = 0,
    allow_different_data: bool = False,
) -> GateReport:
    """Check ``rules`` on the ``current`` run, against ``baseline`` for ``max-drop`` rules.

    ``current`` is an EvalResults, a run directory or a results.json; ``baseline`` also may be
    a model card (README.md) whose model-index holds the baseline values. ``rules`` are Rule
    objects or a table like ``{"min": {"accuracy": 0.9}, "max-drop": {"macro_f1": 0.01}}``.
    Predictions are read next to results files, or passed for EvalResults objects.

    Runs of different tasks, inputs (pairs or single texts) or label sets are refused
    (``compatible.check_comparable``: LabelError for labels, else UsageError), and so are runs
    on different data (UsageError) unless ``allow_different_data``; then the report says so.
    """
    rule_list = check_rules(
        _rules_from_table(rules, where="rules") if isinstance(rules, Mapping) else rules
    )
    if not rule_list:
        raise UsageError(
            "no gate rules: pass --min, --max or --max-drop, or add them to a "
            "[tool.cardgen.gate] table in cardgen.toml or pyproject.toml"
        )
    alpha = check_options(alpha, n_bootstrap, seed)
    if not isinstance(strict, bool) or not isinstance(allow_different_data, bool):
        raise UsageError("strict and allow_different_data must be True or False")
    drops = [r for r in rule_list if r.kind == "max-drop"]
    if drops and baseline is None:
        raise UsageError(
            f"{drops[0]} needs a baseline: pass --baseline RUN_DIR (or a model card), or set "
            "baseline in the [tool.cardgen.gate] table"
        )
    cur = load_run(current, current_predictions, "current")
    assert cur.results is not None
    for rule in rule_list:
        metric_value(cur.results, rule.metric, source=cur.source)
    base = load_run(baseline, baseline_predictions, "baseline") if baseline is not None else None
    note = None
    if base is not None:
        note = check_comparable(cur, base, allow_different_data=allow_different_data)
    if base is None:
        pairing, comparison, warnings = None, "no baseline", []
    elif note is not None:
        pairing, comparison = None, "unpaired: different data, values compared without a test"
        warnings = [f"{note}: drops compare values of different datasets, without a paired test"]
    else:
        pairing, comparison, warnings = pair(cur, base)
        warnings += swap_warnings(pairing) if pairing is not None else []
    task = cur.results.task
    tested = [r.metric for r in drops if paired_test(r.metric, task)]
    bootstrapped = any(paired_test(name, task) == "paired bootstrap" for name in tested)
    if pairing is not None and bootstrapped and not strict:
        check_resamples(n_bootstrap, alpha)
    deltas = (
        paired_bootstrap_deltas(pairing, tested, n_resamples=n_bootstrap, seed=seed)
        if pairing is not None and tested
        else {}
    )
    outcomes = [
        _outcome(rule, cur, base, pairing, deltas, alpha=alpha, strict=strict) for rule in rule_list
    ]
    return GateReport(
        current=cur.source,
        baseline=base.source if base is not None else None,
        comparison=comparison,
        alpha=alpha,
        strict=strict,
        outcomes=outcomes,
        warnings=warnings,
        different_data=note is not None,
        differences=(
            setting_differences([base.results, cur.results])
            if base is not None and base.results is not None
            else []
        ),
    )


def _outcome(
    rule: Rule,
    current: Run,
    baseline: Run | None,
    pairing: Pairing | None,
    deltas: dict[str, NDArray[np.float64]],
    *,
    alpha: float,
    strict: bool,
) -> RuleOutcome:
    assert current.results is not None
    metric = metric_value(current.results, rule.metric, source=current.source)
    if rule.kind != "max-drop":
        return _bound_outcome(rule, metric, baseline.metric(rule.metric) if baseline else None)
    assert baseline is not None
    base = baseline.require(rule.metric)
    return _drop_outcome(rule, metric, base, pairing, deltas, alpha=alpha, strict=strict)


def _bound_outcome(rule: Rule, metric: Metric, baseline: Metric | None) -> RuleOutcome:
    """A ``min`` or ``max`` rule; the baseline is shown for reference only."""
    value, name, limit = metric.value, rule.metric, rule.threshold
    if rule.kind == "min":
        ok = value >= limit - EPS
        message = f"{name} = {value:.4f}, {'at least' if ok else 'below'} the minimum {limit:g}"
    else:
        ok = value <= limit + EPS
        message = f"{name} = {value:.4f}, {'at most' if ok else 'above'} the maximum {limit:g}"
    low, high = metric.ci_low, metric.ci_high
    return RuleOutcome(
        rule=rule,
        value=value,
        baseline=baseline.value if baseline is not None else None,
        delta=value - baseline.value if baseline is not None else None,
        ci=(low, high) if low is not None and high is not None else None,
        p_value=None,
        test=None,
        verdict="pass" if ok else "fail",
        message=message,
    )


def _drop_outcome(
    rule: Rule,
    metric: Metric,
    baseline: Metric,
    pairing: Pairing | None,
    deltas: dict[str, NDArray[np.float64]],
    *,
    alpha: float,
    strict: bool,
) -> RuleOutcome:
    """A ``max-drop`` rule, with its paired test when the runs were paired."""
    value, name, limit = metric.value, rule.metric, rule.threshold
    delta = value - baseline.value
    drop = -delta if higher_is_better(name) else delta
    test = paired_test(name, pairing.task) if pairing is not None else None
    p_value: float | None = None
    delta_ci: tuple[float, float] | None = None
    if test == "McNemar":
        assert pairing is not None
        p_value = mcnemar_p_value(pairing.gold, pairing.baseline, pairing.current, limit)
    left_out = None
    if name in deltas:
        replicates, left_out = defined_resamples(name, deltas[name])
        if len(replicates):
            low, high = np.percentile(replicates, [2.5, 97.5])
            delta_ci = (float(low), float(high))
        if test == "paired bootstrap" and len(replicates):
            drops = -replicates if higher_is_better(name) else replicates
            p_value = float((1 + np.sum(drops <= limit + EPS)) / (1 + len(drops)))

    direction = "worsened" if drop > 0 else "did not worsen"
    message = f"{name} {direction}: {baseline.value:.4f} -> {value:.4f} ({delta:+.4f})"
    if drop <= limit + EPS:
        verdict: Verdict = "pass"
        message += f", within the tolerated drop of {limit:g}"
    else:
        message += f", more than the tolerated drop of {limit:g}"
        significant = p_value is None or p_value < alpha
        verdict = "fail" if strict or significant else "warn"
        if p_value is not None:
            relation = "<" if p_value < alpha else ">="
            message += f"; {test} p = {p_value:.4g} {relation} alpha {alpha:g}"
            if verdict == "warn":
                message += " (not significant; --strict fails it)"
    if left_out is not None:
        message += f"; {left_out}"
    return RuleOutcome(
        rule=rule,
        value=value,
        baseline=baseline.value,
        delta=delta,
        ci=delta_ci,
        p_value=p_value,
        test=test if p_value is not None else None,
        verdict=verdict,
        message=message,
    )
