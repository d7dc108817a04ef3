"""``check_gate``: fail a build when a model regresses.

Rules bound a metric from below (``min``), from above (``max``) or bound its drop against a
baseline run or card (``max-drop``). Metric names are the keys of the results file
(``accuracy``, ``macro_f1``, ...), per-class scores (``precision[LABEL]``, ``recall[LABEL]``,
``f1[LABEL]``) and probe statistics (``probe.NAME.range``, ``.std``, ``.flip_rate``,
``.group_gap``, ``.failure_rate``). ``log_loss``, ``ece`` and probe statistics are better when
lower, so their "drop" is a rise. A rule that can never fail or never pass is refused.

A baseline must measure what the current run measures: the same task (single- or
multi-label), inputs (pairs or single texts) and labels, and the same data (its dataset
fingerprint) unless ``allow_different_data`` (then drops compare values only, and the report
says so); ``compatible`` holds that check, which ``compare`` shares. When both
runs kept per-example predictions of the same dataset, a drop beyond its tolerance fails only
when a one-sided paired test rejects "the true drop is at most the tolerance" at level
``alpha`` (``strict=True`` fails it anyway):

- accuracy (and the micro averages, which equal it): McNemar's exact test. Of the ``m``
  examples on which the runs disagree about correctness, ``b`` are right in the baseline only;
  ``p = P[Binomial(m, 1/2 + n * tolerance / (2m)) >= b]`` over ``n`` examples, the classic
  one-sided exact McNemar test when the tolerance is 0.
- every other confusion-matrix metric and per-class score: a paired bootstrap that resamples
  examples jointly for both runs; ``p = (1 + #{resamples whose drop <= tolerance}) / (1 + B)``,
  the one-sided percentile bootstrap test (smoothed so that p > 0), small when nearly every
  resample drops by more than the tolerance. A per-class score that is 0/0 in a resample (no
  gold row of the class in it, for recall) is undefined there, not 0: B counts the resamples
  where both runs define it, and the report says how many were left out.

Multi-label runs pair on the same rows too, each row a gold set and both runs' predicted sets:
subset accuracy gets McNemar's test (a row is right when its whole set is), every other
label-set metric (micro, macro, weighted and samples averages, Hamming loss) and per-label
score the paired bootstrap, whose resamples weigh each example by a Poisson(1) draw, as the
run's own CIs do (``tasks.multilabel_paired``); the cardinalities have no better or worse and
compare values only. When the current run's label columns match the baseline's predictions far
better under a swap of labels than as named (``data.labels.label_set_swaps``), the report warns.

Other metrics (``roc_auc``, ``log_loss``, ``ece``, probes) and unpaired runs compare values
only. With a baseline run, the report opens with what differs between the two runs' settings
(``results.settings``, shared with ``compare``). This package never exits; the CLI turns the
report into exit codes.

Modules: ``rules`` (rules and their validation), ``config`` (the ``[tool.cardgen.gate]``
table), ``values`` (metric lookup), ``runs`` (loading the two runs), ``compatible`` (whether
they may be compared), ``paired`` (the paired tests), ``report`` (report, JUnit XML, step
summary) and ``check``.
"""

from __future__ import annotations

from cardgen.gate.check import check_gate
from cardgen.gate.config import CONFIG_FILES, CONFIG_OPTIONS, GateConfig, load_gate_config
from cardgen.gate.paired import Pairing, mcnemar_p_value, paired_bootstrap_deltas
from cardgen.gate.report import (
    COLUMNS,
    GateReport,
    RuleOutcome,
    Verdict,
    append_step_summary,
    check_output_file,
    junit_xml,
    summary_markdown,
    write_junit,
)
from cardgen.gate.rules import (
    LOWER_IS_BETTER,
    MCNEMAR_METRICS,
    PER_CLASS_STATS,
    PROBE_STATS,
    RULE_KINDS,
    Rule,
    RuleKind,
    check_rules,
    higher_is_better,
    make_rule,
    merge_rules,
    metric_range,
    paired_test,
    rules_from_table,
)
from cardgen.gate.values import metric_value

__all__ = [
    "COLUMNS",
    "CONFIG_FILES",
    "CONFIG_OPTIONS",
    "LOWER_IS_BETTER",
    "MCNEMAR_METRICS",
    "PER_CLASS_STATS",
    "PROBE_STATS",
    "RULE_KINDS",
    "GateConfig",
    "GateReport",
    "Pairing",
    "Rule",
    "RuleKind",
    "RuleOutcome",
    "Verdict",
    "append_step_summary",
    "check_gate",
    "check_output_file",
    "check_rules",
    "higher_is_better",
    "junit_xml",
    "load_gate_config",
    "make_rule",
    "mcnemar_p_value",
    "merge_rules",
    "metric_range",
    "metric_value",
    "paired_bootstrap_deltas",
    "paired_test",
    "rules_from_table",
    "summary_markdown",
    "write_junit",
]
