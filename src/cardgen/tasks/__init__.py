"""Tasks: how scores become decisions and which metrics follow. Single-label metrics from
confusion matrices (``metrics``); multi-label thresholds, gold sets and metrics
(``multilabel``, ``multilabel_metrics``), and several runs' multi-label metrics on the same
resamples, for paired tests (``multilabel_paired``). A sentence pair is an input shape, not a
task.
"""
