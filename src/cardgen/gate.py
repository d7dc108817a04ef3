"""``check_gate``: fail a build when a model regresses.

Rules bound a metric from below (``min``), from above (``max``) or bound its drop against a
baseline run or card (``max-drop``). Metric names are the keys of the results file
(``accuracy``, ``macro_f1``, ...), per-class scores (``precision[LABEL]``, ``recall[LABEL]``,
``f1[LABEL]``) and probe statistics (``probe.NAME.range``, ``.std``, ``.flip_rate``,
``.group_gap``, ``.failure_rate``). ``log_loss``, ``ece`` and probe statistics are better when
lower, so their "drop" is a rise.

When both runs kept per-example predictions of the same dataset, a drop beyond its tolerance
fails only when a one-sided paired test rejects "the true drop is at most the tolerance" at
level ``alpha`` (``strict=True`` fails it anyway):

- accuracy (and the micro averages, which equal it): McNemar's exact test. Of the ``m``
  examples on which the runs disagree about correctness, ``b`` are right in the baseline only;
  ``p = P[Binomial(m, 1/2 + n * tolerance / (2m)) >= b]`` over ``n`` examples, the classic
  one-sided exact McNemar test when the tolerance is 0.
- every other confusion-matrix metric and per-class score: a paired bootstrap that resamples
  examples jointly for both runs; ``p = (1 + #{resamples whose drop <= tolerance}) / (1 + B)``,
  the one-sided percentile bootstrap test (smoothed so that p > 0), small when nearly every
  resample drops by more than the tolerance.

Other metrics (``roc_auc``, ``log_loss``, ``ece``, probes) and unpaired runs compare values
only. This module never exits; the CLI turns the report into exit codes.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from xml.etree import ElementTree

import numpy as np
from numpy.typing import NDArray

from ._io import write_text
from .errors import ResultsError, UsageError
from .metrics import CONFUSION_METRICS, confusion_counts, confusion_metrics, per_class_scores
from .results import PREDICTIONS_FILE, EvalResults, Metric, load_predictions, load_results

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RuleKind = Literal["min", "max", "max-drop"]
RULE_KINDS: tuple[RuleKind, ...] = ("min", "max", "max-drop")
PER_CLASS_STATS = ("precision", "recall", "f1")
PROBE_STATS = ("range", "std", "flip_rate", "group_gap", "failure_rate")
LOWER_IS_BETTER = frozenset({"log_loss", "ece"})
MCNEMAR_METRICS = frozenset({"accuracy", "micro_precision", "micro_recall", "micro_f1"})
CONFIG_FILES = ("cardgen.toml", "pyproject.toml")
CONFIG_OPTIONS = ("baseline", "alpha", "strict")
COLUMNS = ("verdict", "rule", "value", "baseline", "delta", "95% CI", "p")  # RuleOutcome.cells
Verdict = Literal["pass", "warn", "fail"]

_EPS = 1e-9  # comparisons with thresholds tolerate float rounding (0.91 - 0.90 > 0.01)
_PER_CLASS = re.compile(r"^(precision|recall|f1)\[(.*)\]$", re.S)


@dataclass(frozen=True)
class Rule:
    """One gate rule: ``min accuracy=0.9``, ``max probe.country.range=0.3``, ``max-drop ...``."""

    kind: RuleKind
    metric: str
    threshold: float

    @classmethod
    def parse(cls, kind: str, text: str) -> Rule:
        """A rule from a flag value ``NAME=VALUE`` (a label may itself contain ``=``)."""
        name, sep, value = text.rpartition("=")
        if not sep or not name.strip():
            raise UsageError(f"--{kind} expects NAME=VALUE (e.g. accuracy=0.9), got {text!r}")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"--{kind} {text!r}: {value!r} is not a number") from None
        return make_rule(kind, name.strip(), number, where=f"--{kind}")

    def __str__(self) -> str:
        return f"{self.kind} {self.metric}={self.threshold:g}"


def make_rule(kind: str, metric: str, threshold: object, *, where: str) -> Rule:
    """A validated Rule; ``where`` names the flag or config table in error messages."""
    if kind not in RULE_KINDS:
        raise UsageError(f"unknown rule kind {kind!r} in {where}; use one of: min, max, max-drop")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise UsageError(f"{where}: {metric} must be a number, got {threshold!r}")
    if not math.isfinite(threshold):
        raise UsageError(f"{where}: {metric} must be a finite number, got {threshold!r}")
    if kind == "max-drop" and threshold < 0:
        raise UsageError(f"{where}: the tolerated drop of {metric} must be >= 0, got {threshold}")
    return Rule(cast(RuleKind, kind), metric, float(threshold))


def merge_rules(base: Iterable[Rule], overrides: Iterable[Rule]) -> list[Rule]:
    """``base`` with each rule replaced by an override of the same kind and metric."""
    merged = {(r.kind, r.metric): r for r in base}
    merged.update({(r.kind, r.metric): r for r in overrides})
    return list(merged.values())


def rules_from_table(
    table: Mapping[str, Any], *, where: str, other_keys: Iterable[str] = ()
) -> list[Rule]:
    """Rules from ``{"min": {"accuracy": 0.9}, "max-drop": {"macro_f1": 0.01}, ...}``."""
    allowed = (*RULE_KINDS, *other_keys)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise UsageError(f"{where} has unknown keys {unknown}; allowed: {', '.join(allowed)}")
    rules = []
    for kind in RULE_KINDS:
        entries = table.get(kind, {})
        if not isinstance(entries, Mapping):
            raise UsageError(f"{where}.{kind} must be a table of METRIC = VALUE, got {entries!r}")
        rules += [make_rule(kind, str(m), v, where=f"{where}.{kind}") for m, v in entries.items()]
    return rules


# --- configuration -------------------------------------------------------------------------


@dataclass
class GateConfig:
    """Rules and options from a ``[tool.cardgen.gate]`` table (empty when there is none)."""

    rules: list[Rule] = field(default_factory=list)
    baseline: str | None = None
    alpha: float | None = None
    strict: bool = False
    source: Path | None = None


def load_gate_config(path: str | Path | None = None, *, directory: str | Path = ".") -> GateConfig:
    """Read ``[tool.cardgen.gate]`` from ``path``, or from cardgen.toml / pyproject.toml.

    Without ``path`` the first of those files in ``directory`` that has the table is used, and
    none is fine. ``cardgen.toml`` may also spell the table ``[gate]``. A relative ``baseline``
    is relative to the config file.
    """
    if path is not None:
        config = _read_config(Path(path))
        if config is None:
            raise UsageError(f"{path} has no [tool.cardgen.gate] table; add one or drop --config")
        return config
    for name in CONFIG_FILES:
        candidate = Path(directory) / name
        if candidate.is_file() and (config := _read_config(candidate)) is not None:
            return config
    return GateConfig()


def _read_config(path: Path) -> GateConfig | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from exc
    table = data.get("tool", {}).get("cardgen", {}).get("gate")
    if table is None and path.name == "cardgen.toml":
        table = data.get("gate")
    if table is None:
        return None
    where = f"{path} [tool.cardgen.gate]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table")
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise UsageError(f"{where}: baseline must be a path, got {baseline!r}")
    alpha = table.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, int | float)):
        raise UsageError(f"{where}: alpha must be a number, got {alpha!r}")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise UsageError(f"{where}: strict must be true or false, got {strict!r}")
    return GateConfig(
        rules=rules_from_table(table, where=where, other_keys=CONFIG_OPTIONS),
        baseline=str(path.parent / baseline) if baseline else None,
        alpha=float(alpha) if alpha is not None else None,
        strict=strict,
        source=path,
    )


# --- metric lookup -------------------------------------------------------------------------


def metric_value(results: EvalResults, name: str, *, source: str = "the results") -> Metric:
    """The value of a rule's metric in ``results``; UsageError naming the known ones if none."""
    if name in results.metrics:
        return results.metrics[name]
    if match := _PER_CLASS.match(name):
        stat, label = match.groups()
        for row in results.per_class:
            if row.label == label:
                return Metric(float(getattr(row, stat)))
        classes = ", ".join(row.label for row in results.per_class)
        raise UsageError(f"no class {label!r} in {source} for {name!r}; classes are: {classes}")
    if name.startswith("probe."):
        probe_name, _, stat = name.removeprefix("probe.").rpartition(".")
        probe = results.probes.get(probe_name)
        if probe is not None and stat in PROBE_STATS:
            value = getattr(probe, stat)
            if value is None:
                raise UsageError(f"probe {probe_name!r} in {source} has no {stat} to gate on")
            return value if isinstance(value, Metric) else Metric(float(value))
    raise UsageError(
        f"unknown metric {name!r} in {source}{_did_you_mean(results, name)}; {_known(results)}"
    )


def _metric_names(results: EvalResults) -> list[str]:
    names = list(results.metrics)
    names += [f"{stat}[{row.label}]" for row in results.per_class for stat in PER_CLASS_STATS]
    names += [f"probe.{probe}.{stat}" for probe in results.probes for stat in PROBE_STATS]
    return names


def _did_you_mean(results: EvalResults, name: str) -> str:
    close = difflib.get_close_matches(name, _metric_names(results), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known(results: EvalResults) -> str:
    parts = [f"known metrics: {', '.join(results.metrics)}"]
    labels = ", ".join(row.label for row in results.per_class)
    parts.append(f"per class: precision|recall|f1[LABEL] with LABEL one of {labels}")
    if results.probes:
        probes = ", ".join(results.probes)
        parts.append(f"probes: probe.NAME.{'|'.join(PROBE_STATS)} with NAME one of {probes}")
    return "; ".join(parts)


def higher_is_better(name: str) -> bool:
    """False for metrics where lower is better: log loss, calibration error, probe statistics."""
    return name not in LOWER_IS_BETTER and not name.startswith("probe.")


def paired_test(name: str) -> str | None:
    """The paired test a drop of ``name`` gets with predictions on both sides, if any."""
    if name in MCNEMAR_METRICS:
        return "McNemar"
    if name in CONFUSION_METRICS or _PER_CLASS.match(name):
        return "paired bootstrap"
    return None


# --- the two runs --------------------------------------------------------------------------


@dataclass
class _Run:
    """One side of the comparison: a results file (with predictions if kept) or a card."""

    source: str
    results: EvalResults | None = None
    card_values: dict[str, float] | None = None
    predictions: list[dict[str, Any]] | None = None

    def metric(self, name: str) -> Metric | None:
        if self.card_values is not None:
            value = self.card_values.get(name)
            return Metric(value) if value is not None else None
        assert self.results is not None
        try:
            return metric_value(self.results, name, source=self.source)
        except UsageError:
            return None

    def require(self, name: str) -> Metric:
        if self.results is not None:
            return metric_value(self.results, name, source=f"baseline {self.source}")
        metric = self.metric(name)
        if metric is None:
            known = ", ".join(self.card_values or {}) or "none"
            raise UsageError(
                f"baseline card {self.source} has no {name!r} in its model-index (it has: "
                f"{known}); gate that metric with --min instead, or use a results directory"
            )
        return metric


def _load_run(
    run: EvalResults | str | Path, predictions: list[dict[str, Any]] | None, role: str
) -> _Run:
    if isinstance(run, EvalResults):
        return _Run(f"the {role} results", results=run, predictions=predictions)
    path = Path(run)
    if path.suffix.lower() == ".md":
        if role == "current":
            raise UsageError(
                f"the run to gate must be a results directory or results.json, got card {path}"
            )
        from .hub import card_metric_values

        return _Run(str(path), card_values=card_metric_values(path))
    results = load_results(path)
    run_dir = path if path.is_dir() else path.parent
    if predictions is None and (run_dir / PREDICTIONS_FILE).is_file():
        try:
            predictions = load_predictions(run_dir)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResultsError(
                f"cannot read {run_dir / PREDICTIONS_FILE}: {exc}; re-run `cardgen evaluate`"
            ) from exc
    return _Run(str(path), results=results, predictions=predictions)


@dataclass
class _Pairing:
    """Integer gold labels and both runs' predictions for the same examples, in index order."""

    labels: list[str]
    gold: NDArray[np.int64]
    baseline: NDArray[np.int64]
    current: NDArray[np.int64]


def _pair(current: _Run, baseline: _Run) -> tuple[_Pairing | None, str, list[str]]:
    """Pair per-example predictions when both runs allow it: (pairing, comparison, warnings)."""
    if baseline.results is None:
        return None, "unpaired: baseline values from a model card", []
    try:
        reason = _why_unpaired(current, baseline)
        if reason is not None:
            warning = f"{reason}: drops are compared without a paired test"
            return None, "unpaired: values compared without a test", [warning]
        rows_cur, rows_base = _by_index(current), _by_index(baseline)
        assert current.results is not None
        labels = list(dict.fromkeys([*current.results.labels, *baseline.results.labels]))
        for row in [*rows_cur.values(), *rows_base.values()]:
            labels += [x for x in (row["gold"], row["predicted"]) if x not in labels]
        code = {label: i for i, label in enumerate(labels)}
        order = sorted(rows_cur)

        def column(rows: dict[Any, dict[str, Any]], key: str) -> NDArray[np.int64]:
            return np.array([code[rows[i][key]] for i in order], dtype=np.int64)

        pairing = _Pairing(
            labels=labels,
            gold=column(rows_cur, "gold"),
            baseline=column(rows_base, "predicted"),
            current=column(rows_cur, "predicted"),
        )
    except (KeyError, TypeError) as exc:
        raise ResultsError(
            f"a predictions file is malformed (no {exc} in a row); re-run `cardgen evaluate`"
        ) from exc
    return pairing, f"paired on {len(order):,} examples of the same dataset", []


def _why_unpaired(current: _Run, baseline: _Run) -> str | None:
    """Why the two runs' predictions cannot be paired, or None when they can."""
    cur, base = current.results, baseline.results
    assert cur is not None and base is not None
    if cur.dataset.fingerprint != base.dataset.fingerprint:
        return (
            f"dataset fingerprints differ (current {cur.dataset.fingerprint[:19]} on "
            f"{cur.dataset.source}, baseline {base.dataset.fingerprint[:19]} on "
            f"{base.dataset.source}): the runs saw different data"
        )
    for run in (current, baseline):
        if run.predictions is None:
            return (
                f"no per-example predictions for {run.source} (keep predictions.jsonl next "
                "to results.json)"
            )
    rows_cur, rows_base = _by_index(current), _by_index(baseline)
    if rows_cur.keys() != rows_base.keys() or any(
        rows_cur[i]["gold"] != rows_base[i]["gold"] for i in rows_cur
    ):
        return (
            "the two predictions files do not cover the same examples with the same gold "
            "labels despite equal fingerprints"
        )
    for run, rows in ((current, rows_cur), (baseline, rows_base)):
        assert run.results is not None
        if not _matches_confusion(run.results, rows.values()):
            return (
                f"the predictions of {run.source} do not reproduce its confusion matrix (a "
                "stale predictions.jsonl?)"
            )
    return None


def _by_index(run: _Run) -> dict[Any, dict[str, Any]]:
    assert run.predictions is not None
    return {row["index"]: row for row in run.predictions}


def _matches_confusion(results: EvalResults, rows: Iterable[dict[str, Any]]) -> bool:
    cm = results.confusion_matrix
    code = {label: i for i, label in enumerate(cm.labels)}
    pairs = [(row["gold"], row["predicted"]) for row in rows]
    if any(g not in code or p not in code for g, p in pairs):
        return False
    gold = np.array([code[g] for g, _ in pairs], dtype=np.int64)
    pred = np.array([code[p] for _, p in pairs], dtype=np.int64)
    return bool(confusion_counts(gold, pred, len(cm.labels)).tolist() == cm.counts)


# --- paired tests --------------------------------------------------------------------------


def mcnemar_p_value(
    gold: NDArray[np.int64],
    baseline: NDArray[np.int64],
    current: NDArray[np.int64],
    tolerance: float = 0.0,
) -> float:
    """One-sided exact McNemar p-value for "the current run's accuracy drop is at most
    ``tolerance``" (see the module docstring)."""
    from scipy.stats import binom

    base_ok, cur_ok = baseline == gold, current == gold
    worse = int((base_ok & ~cur_ok).sum())
    discordant = worse + int((~base_ok & cur_ok).sum())
    if discordant == 0:
        return 1.0
    share = 0.5 + len(gold) * tolerance / (2 * discordant)
    if share >= 1:
        return 1.0
    return float(binom.sf(worse - 1, discordant, share))


def paired_bootstrap_deltas(
    pairing: _Pairing, names: Iterable[str], *, n_resamples: int = 2000, seed: int = 0
) -> dict[str, NDArray[np.float64]]:
    """``current - baseline`` of each metric over joint bootstrap resamples of the examples.

    A resample of n examples has multinomial counts over the (gold, baseline, current) cells
    with the observed frequencies, so drawing cell counts is resampling examples jointly.
    """
    names = list(dict.fromkeys(names))
    k = len(pairing.labels)
    codes = (pairing.gold * k + pairing.baseline) * k + pairing.current
    cells, counts = np.unique(codes, return_counts=True)
    gold, rest = np.divmod(cells, k * k)
    base_cell = gold * k + rest // k
    cur_cell = gold * k + rest % k
    n = len(codes)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // max(len(cells), k * k))
    deltas: dict[str, list[NDArray[np.float64]]] = {name: [] for name in names}
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        draws = rng.multinomial(n, counts / n, size=size)
        base = _stack_values(_confusion_stack(draws, base_cell, k), names, pairing.labels)
        cur = _stack_values(_confusion_stack(draws, cur_cell, k), names, pairing.labels)
        for name in names:
            deltas[name].append(cur[name] - base[name])
    return {name: np.concatenate(parts) for name, parts in deltas.items()}


def _confusion_stack(draws: NDArray[np.int64], cells: NDArray[np.int64], k: int) -> NDArray[Any]:
    """(size, k, k) confusion matrices from cell counts ``draws`` (size, C) of the k*k cells."""
    size = draws.shape[0]
    flat = (np.arange(size)[:, None] * (k * k) + cells[None, :]).ravel()
    return np.bincount(flat, weights=draws.ravel(), minlength=size * k * k).reshape(size, k, k)


def _stack_values(
    cms: NDArray[Any], names: list[str], labels: list[str]
) -> dict[str, NDArray[np.float64]]:
    overall = confusion_metrics(cms) if any(n in CONFUSION_METRICS for n in names) else {}
    per_class = per_class_scores(cms) if any(_PER_CLASS.match(n) for n in names) else {}
    out = {}
    for name in names:
        if match := _PER_CLASS.match(name):
            out[name] = per_class[match[1]][..., labels.index(match[2])]
        else:
            out[name] = overall[name]
    return out


# --- the report ----------------------------------------------------------------------------


@dataclass
class RuleOutcome:
    """How one rule fared; ``ci`` is the 95% CI of the value (min/max) or of the delta."""

    rule: Rule
    value: float
    baseline: float | None
    delta: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    test: str | None
    verdict: Verdict
    message: str

    def cells(self) -> tuple[str, ...]:
        """The row of the gate table, in COLUMNS order."""
        sign = "+" if self.rule.kind == "max-drop" else ""
        ci = f"[{self.ci[0]:{sign}.3f},{self.ci[1]:{sign}.3f}]" if self.ci else "-"
        return (
            self.verdict,
            str(self.rule),
            f"{self.value:.4f}",
            f"{self.baseline:.4f}" if self.baseline is not None else "-",
            f"{self.delta:+.4f}" if self.delta is not None else "-",
            ci,
            f"{self.p_value:.2g}" if self.p_value is not None else "-",
        )


@dataclass
class GateReport:
    """Every rule's outcome; the gate passed when none failed ("warn" passes)."""

    current: str
    baseline: str | None
    comparison: str
    alpha: float
    strict: bool
    outcomes: list[RuleOutcome]
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.verdict == "fail"]

    @property
    def headline(self) -> str:
        """``gate passed: 4 rules`` or ``gate FAILED: 1 of 4 rules``."""
        total = len(self.outcomes)
        noun = "rule" if total == 1 else "rules"
        if self.passed:
            return f"gate passed: {total} {noun}"
        return f"gate FAILED: {len(self.failures)} of {total} {noun}"


def check_gate(
    current: EvalResults | str | Path,
    baseline: EvalResults | str | Path | None = None,
    rules: Iterable[Rule] | Mapping[str, Mapping[str, float]] = (),
    *,
    current_predictions: list[dict[str, Any]] | None = None,
    baseline_predictions: list[dict[str, Any]] | None = None,
    alpha: float = 0.05,
    strict: bool = False,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> GateReport:
    """Check ``rules`` on the ``current`` run, against ``baseline`` for ``max-drop`` rules.

    ``current`` is an EvalResults, a run directory or a results.json; ``baseline`` also may be
    a model card (README.md) whose model-index holds the baseline values. ``rules`` are Rule
    objects or a table like ``{"min": {"accuracy": 0.9}, "max-drop": {"macro_f1": 0.01}}``.
    Predictions are read next to results files, or passed for EvalResults objects.
    """
    rule_list = (
        rules_from_table(rules, where="rules") if isinstance(rules, Mapping) else list(rules)
    )
    if not rule_list:
        raise UsageError(
            "no gate rules: pass --min, --max or --max-drop, or add them to a "
            "[tool.cardgen.gate] table in cardgen.toml or pyproject.toml"
        )
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha}")
    if n_bootstrap < 1:
        raise UsageError(f"--bootstrap must be at least 1, got {n_bootstrap}")
    drops = [r for r in rule_list if r.kind == "max-drop"]
    if drops and baseline is None:
        raise UsageError(
            f"{drops[0]} needs a baseline: pass --baseline RUN_DIR (or a model card), or set "
            "baseline in the [tool.cardgen.gate] table"
        )
    cur = _load_run(current, current_predictions, "current")
    assert cur.results is not None
    for rule in rule_list:
        metric_value(cur.results, rule.metric, source=cur.source)
    base = _load_run(baseline, baseline_predictions, "baseline") if baseline is not None else None
    pairing, comparison, warnings = (
        _pair(cur, base) if base is not None else (None, "no baseline", [])
    )
    tested = [r.metric for r in drops if paired_test(r.metric)]
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
    )


def _outcome(
    rule: Rule,
    current: _Run,
    baseline: _Run | None,
    pairing: _Pairing | None,
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
        ok = value >= limit - _EPS
        message = f"{name} = {value:.4f}, {'at least' if ok else 'below'} the minimum {limit:g}"
    else:
        ok = value <= limit + _EPS
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
    pairing: _Pairing | None,
    deltas: dict[str, NDArray[np.float64]],
    *,
    alpha: float,
    strict: bool,
) -> RuleOutcome:
    """A ``max-drop`` rule, with its paired test when the runs were paired."""
    value, name, limit = metric.value, rule.metric, rule.threshold
    delta = value - baseline.value
    drop = -delta if higher_is_better(name) else delta
    test = paired_test(name) if pairing is not None else None
    p_value: float | None = None
    delta_ci: tuple[float, float] | None = None
    if test == "McNemar":
        assert pairing is not None
        p_value = mcnemar_p_value(pairing.gold, pairing.baseline, pairing.current, limit)
    if name in deltas:
        replicates = deltas[name]
        low, high = np.percentile(replicates, [2.5, 97.5])
        delta_ci = (float(low), float(high))
        if test == "paired bootstrap":
            drops = -replicates if higher_is_better(name) else replicates
            p_value = float((1 + np.sum(drops <= limit + _EPS)) / (1 + len(drops)))

    direction = "worsened" if drop > 0 else "did not worsen"
    message = f"{name} {direction}: {baseline.value:.4f} -> {value:.4f} ({delta:+.4f})"
    if drop <= limit + _EPS:
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


# --- JUnit XML and the GitHub step summary --------------------------------------------------


def junit_xml(report: GateReport) -> str:
    """The report as JUnit XML: one test case per rule, failed rules as ``<failure>``."""
    counts = {
        "tests": str(len(report.outcomes)),
        "failures": str(len(report.failures)),
        "errors": "0",
        "skipped": "0",
    }
    root = ElementTree.Element("testsuites", {"name": "cardgen gate", **counts})
    suite = ElementTree.SubElement(root, "testsuite", {"name": "cardgen gate", **counts})
    properties = ElementTree.SubElement(suite, "properties")
    for key, value in (
        ("current", report.current),
        ("baseline", report.baseline or ""),
        ("comparison", report.comparison),
        ("alpha", f"{report.alpha:g}"),
        ("strict", str(report.strict).lower()),
    ):
        ElementTree.SubElement(properties, "property", {"name": key, "value": value})
    for outcome in report.outcomes:
        case = ElementTree.SubElement(
            suite, "testcase", {"classname": "cardgen.gate", "name": str(outcome.rule)}
        )
        details = "\n".join(f"{c}: {v}" for c, v in zip(COLUMNS, outcome.cells(), strict=True))
        if outcome.test:
            details += f"\ntest: {outcome.test}"
        if outcome.verdict == "fail":
            failure = ElementTree.SubElement(
                case, "failure", {"message": outcome.message, "type": "GateFailure"}
            )
            failure.text = details
        else:
            ElementTree.SubElement(case, "system-out").text = f"{outcome.message}\n{details}"
    if report.warnings:
        ElementTree.SubElement(suite, "system-err").text = "\n".join(report.warnings)
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(report: GateReport, path: str | Path) -> Path:
    """Write :func:`junit_xml` to ``path`` atomically."""
    write_text(path, junit_xml(report))
    return Path(path)


def summary_markdown(report: GateReport) -> str:
    """A Markdown section for ``$GITHUB_STEP_SUMMARY``: headline, rule table, notes."""
    icon = "✅" if report.passed else "❌"
    against = f" against `{report.baseline}`" if report.baseline else ""
    lines = [
        f"### {icon} cardgen {report.headline}",
        "",
        f"`{report.current}`{against}: {report.comparison}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for outcome in report.outcomes:
        cells = [c.replace("|", "\\|") for c in outcome.cells()]
        cells[0] = {"pass": "pass", "warn": "⚠️ warn", "fail": "❌ **fail**"}[outcome.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [o for o in report.outcomes if o.verdict != "pass"]
    if notes or report.warnings:
        lines.append("")
    lines += [f"- **{o.verdict}** `{o.rule}`: {o.message}" for o in notes]
    lines += [f"- warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n\n"


def append_step_summary(report: GateReport, path: str | Path) -> None:
    """Append :func:`summary_markdown` to the file at ``path`` (rewritten atomically)."""
    target = Path(path)
    existing = target.read_text(encoding="utf-8") if target.is_file() else ""
    write_text(target, existing + summary_markdown(report))
