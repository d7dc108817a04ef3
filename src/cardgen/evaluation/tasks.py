"""What ``evaluate`` does after the engine predicted: the task's metrics, the analyses
(slices, failures, robustness, probes) and the run's files, for one label per row or for
label sets. Extra texts (robustness edits, probe fills) go through the model the engine
loaded, so they run where the data ran."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.analysis import AnalysisOptions, analyse
from cardgen.analysis.label_set_slices import label_set_slices
from cardgen.analysis.perturb import Perturbation
from cardgen.analysis.robustness import measure_robustness
from cardgen.data.labels import Alignment, permutation_notes
from cardgen.data.load import EvalData
from cardgen.engines.base import Engine, Predicted
from cardgen.evaluation.options import Thresholds
from cardgen.evaluation.outputs import save_plots_and_results, write_outputs
from cardgen.models import TextClassifier
from cardgen.probes import PROBE_FILLS_FILE, Probe, measure_probes, write_probe_files
from cardgen.results.schema import EvalResults
from cardgen.tasks.decisions import Decider, single_label
from cardgen.tasks.metrics import compute_metrics
from cardgen.tasks.multilabel import multilabel_results, prepare_multilabel
from cardgen.tasks.multilabel import write_outputs as write_multilabel_outputs
from cardgen.tasks.record import bootstrap_notes, run_record


@dataclass(frozen=True)
class Plan:
    """The checked options of a run that matter after loading."""

    mapping: str | dict[str, str] | None
    thresholds: Thresholds
    probes: list[Probe]
    target_label: str | None
    analysis: AnalysisOptions
    perturbations: list[Perturbation]
    robustness_sample: int | None
    batch_size: int | None
    progress: bool
    n_bootstrap: int
    seed: int


def predict_rows(
    runner: Engine,
    model: TextClassifier,
    data: EvalData,
    alignment: Alignment,
    plan: Plan,
    out: Path | None,
    *,
    limits: NDArray[np.float64] | None = None,
) -> Predicted:
    """``runner``'s predictions of ``data`` with the plan's batching, progress and examples
    (``limits``: a multi-label run's thresholds, see ``Engine.predict``)."""
    return runner.predict(
        model,
        data,
        alignment,
        batch_size=plan.batch_size,
        progress=plan.progress,
        out=out,
        examples=plan.analysis.examples,
        limits=limits,
    )


def single_label_run(
    model: TextClassifier,
    predicted: Predicted,
    alignment: Alignment,
    plan: Plan,
    out: Path | None,
) -> EvalResults:
    """Metrics, slices, failures, robustness and probes of a single-label run."""
    data, scores, stats = predicted.data, predicted.scores, predicted.stats
    index = {label: i for i, label in enumerate(alignment.labels)}
    y_true = np.array([index[label] for label in data.labels])
    y_pred = scores.argmax(axis=1)
    report = compute_metrics(
        y_true,
        y_pred,
        alignment.labels,
        scores=None if model.score_kind == "label" else scores,
        probabilistic=model.score_kind == "probability",
        n_bootstrap=plan.n_bootstrap,
        seed=plan.seed,
    )
    results = EvalResults(
        **run_record(model, predicted, alignment, plan.seed),
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        warnings=bootstrap_notes(plan.n_bootstrap)
        + permutation_notes(np.array(report.confusion_matrix.counts), alignment),
    )
    analysis = analyse(
        y_true,
        y_pred,
        scores,
        alignment.labels,
        texts=data.texts,
        text_pairs=data.text_pairs,
        columns=data.columns,
        input_lengths=stats.input_lengths,
        max_length=stats.max_length,
        score_kind=model.score_kind,
        options=plan.analysis,
        n_bootstrap=plan.n_bootstrap,
        seed=plan.seed,
    )
    results.slices, results.failures = analysis.slices, analysis.failures
    _robustness(
        results, model, data, plan, alignment, y_true, scores, single_label(alignment.labels)
    )
    _probe(results, model, plan, out, single_label(model.labels))
    _as_source_rows(results, data.row_ids)
    if out is not None and predicted.predictions_file is not None:
        results.files["predictions"] = predicted.predictions_file
        save_plots_and_results(results, out)
    elif out is not None:
        write_outputs(results, y_true, y_pred, scores, out, analysis, row_ids=data.row_ids)
    return results


def multi_label_run(
    runner: Engine, model: TextClassifier, data: EvalData, plan: Plan, out: Path | None
) -> EvalResults:
    """Metrics, slices, robustness and probes of a multi-label run (label sets at the
    run's thresholds), predicted by ``runner``."""
    model, alignment, limits, notes = prepare_multilabel(
        model, data, plan.mapping, plan.thresholds
    )
    predicted = predict_rows(runner, model, data, alignment, plan, out, limits=limits)
    run = multilabel_results(
        model,
        predicted,
        alignment,
        limits,
        thresholds=plan.thresholds,
        notes=notes,
        n_bootstrap=plan.n_bootstrap,
        seed=plan.seed,
    )
    data = predicted.data
    run.results.slices = label_set_slices(
        run.gold,
        run.predicted,
        run.alignment.labels,
        columns=data.columns,
        slice_by=plan.analysis.slice_by,
        input_lengths=run.stats.input_lengths,
        max_length=run.stats.max_length,
        texts=data.texts,
        text_pairs=data.text_pairs,
        min_size=plan.analysis.min_slice_size,
        n_bootstrap=plan.n_bootstrap,
        seed=plan.seed,
    )
    _robustness(
        run.results, run.model, data, plan, run.alignment, run.gold, run.scores, run.decider
    )
    _probe(run.results, run.model, plan, out, run.model_decider)
    _as_source_rows(run.results, data.row_ids)
    if out is not None:
        write_multilabel_outputs(
            run, out, row_ids=data.row_ids, predictions_file=predicted.predictions_file
        )
    return run.results


def _robustness(
    results: EvalResults,
    model: TextClassifier,
    data: EvalData,
    plan: Plan,
    alignment: Alignment,
    gold: NDArray[Any],
    scores: NDArray[np.float64],
    decider: Decider,
) -> None:
    """``plan``'s perturbations of ``data``, predicted again by ``model``, into
    ``results.robustness``."""
    if not plan.perturbations:
        return
    results.robustness = measure_robustness(
        model,
        plan.perturbations,
        texts=data.texts,
        text_pairs=data.text_pairs,
        gold=gold,
        scores=scores,
        labels=alignment.labels,
        reorder=alignment.reorder,
        decider=decider,
        sample=plan.robustness_sample,
        seed=plan.seed,
        n_bootstrap=plan.n_bootstrap,
        batch_size=plan.batch_size,
        progress=plan.progress,
        examples=plan.analysis.examples,
    )


def _probe(
    results: EvalResults,
    model: TextClassifier,
    plan: Plan,
    out: Path | None,
    decider: Decider,
) -> None:
    """``plan``'s probes on ``model`` into ``results.probes``, their files into ``out``."""
    if not plan.probes:
        return
    run = measure_probes(
        model,
        plan.probes,
        target_label=plan.target_label,
        n_bootstrap=plan.n_bootstrap,
        seed=plan.seed,
        batch_size=plan.batch_size,
        progress=plan.progress,
        decider=decider,
    )
    results.probes = run.results
    if out is not None:
        write_probe_files(run, out)
        results.files["probe_fills"] = PROBE_FILLS_FILE


def _as_source_rows(results: EvalResults, row_ids: Sequence[int] | None) -> None:
    """The ``index`` of every example ``results`` shows (mistakes, label-issue candidates,
    flipped edits) as its row in the source, as in the predictions file, where the evaluated
    rows are not the source's own numbering (``--sample``; Spark's row ids)."""
    if row_ids is None:
        return
    shown: list[Any] = []
    if results.failures is not None:
        shown += [e for pair in results.failures.pairs for e in pair.examples]
        if results.failures.label_issues is not None:
            shown += results.failures.label_issues.examples
    for result in results.robustness.values():
        shown += [*result.examples, *result.fixed_examples]
    for example in {id(e): e for e in shown}.values():  # each object once
        example.index = int(row_ids[example.index])
