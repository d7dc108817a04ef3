"""``evaluate``: run a classifier on a dataset and write the results file, predictions and plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from cardgen import __version__
from cardgen.analysis import AnalysisOptions, analyse, analysis_options
from cardgen.analysis.perturb import Perturbation, resolve_perturbations
from cardgen.analysis.robustness import measure_robustness
from cardgen.cards.conventions import check_dataset_id
from cardgen.data.declared import with_dataset_names, with_label_order
from cardgen.data.labels import Alignment, align_labels, label_map_option, permutation_notes
from cardgen.data.load import EvalData
from cardgen.engines.base import Engine, Predicted
from cardgen.engines.local import LocalEngine
from cardgen.errors import UsageError
from cardgen.evaluation.options import check_engine, check_run_options, check_threshold
from cardgen.evaluation.outputs import save_plots_and_results, write_outputs
from cardgen.models import TextClassifier
from cardgen.probes import (
    PROBE_FILLS_FILE,
    Probe,
    measure_probes,
    resolve_probes,
    write_probe_files,
)
from cardgen.results.rundir import staged_run_dir
from cardgen.results.schema import EvalResults
from cardgen.tasks.metrics import compute_metrics
from cardgen.tasks.multilabel import evaluate_multilabel, is_multilabel_run
from cardgen.tasks.multilabel import write_outputs as write_multilabel_outputs
from cardgen.trust.untrusted import quote


def evaluate(
    model: str | Path | TextClassifier,
    dataset: str | Path | EvalData | Any,
    *,
    split: str | None = None,
    dataset_config: str | None = None,
    dataset_id: str | None = None,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    label_map: str | Path | dict[str, str] | None = None,
    label_order: Sequence[str] | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    limit: int | None = None,
    sample: bool = False,
    n_bootstrap: int = 10_000,
    seed: int = 0,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    output_dir: str | Path | None = None,
    progress: bool = False,
    probes: Sequence[str | Path | Probe] = (),
    threshold: float | str | Path | Mapping[str, float] | None = None,
    slice_by: Sequence[str] = (),
    min_slice_size: int = 30,
    examples: bool = True,
    robustness: Sequence[str] = (),
    robustness_sample: int | None = None,
    engine: str = "local",
    spark_master: str | None = None,
) -> EvalResults:
    """Evaluate ``model`` on ``dataset``; with ``output_dir``, also write every output file.

    ``label_map`` is a JSON file or dict (model label -> dataset label), or ``"index"``, which
    needs class ids in the data or ``label_order`` (the dataset's label names, class id 0
    first). ``dataset_id`` names the Hub dataset a local file holds; with ``dataset_config``
    and ``split`` it is recorded for the card (a file's split is otherwise read from its name,
    ``test.csv`` -> test). ``text_pair_column`` evaluates sentence pairs (found by name too,
    e.g. premise / hypothesis). ``batch_size=None`` sizes batches automatically. ``probes``
    (built-in probe names, probe files or Probe objects) run on the same model into
    ``EvalResults.probes``, their plots and fills into ``output_dir``. Every option is checked
    before any work; a CardgenError leaves ``output_dir`` as it was, and a finished run replaces
    it whole.

    ``slice_by`` names dataset columns to compute metrics per value of (input-length quartiles
    and truncated vs not are sliced without asking); slices under ``min_slice_size`` rows are
    flagged, never ranked. ``examples=False`` keeps every example text out of the results,
    ``predictions.jsonl`` and the card (counts stay).

    Multi-label models (``problem_type: multi_label_classification``) and label columns of
    lists or multi-hot vectors are evaluated as multi-label (``cardgen.tasks.multilabel``):
    ``threshold`` is the decision threshold of every label (0.5), or a JSON file / mapping of
    label -> threshold.

    ``robustness`` names perturbations (or groups, ``"all"``; see ``analysis.perturb``) whose
    edited texts are predicted again into ``EvalResults.robustness``; ``robustness_sample``
    caps the rows edited (a seeded sample).

    ``engine="spark"`` runs on Spark (``cardgen.engines.spark``; ``spark_master`` or the active
    session or ``local[*]``): the same results, with predictions in ``predictions.parquet``.
    """
    check_run_options(
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        dtype=dtype,
        limit=limit,
        n_bootstrap=n_bootstrap,
        seed=seed,
        label_order=label_order,
        robustness=robustness,
        robustness_sample=robustness_sample,
    )
    check_engine(
        engine,
        spark_master,
        local_only={"--threshold": threshold is not None},
    )
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    mapping = label_map_option(label_map)
    thresholds = check_threshold(threshold)
    probe_list = resolve_probes(probes) if probes else []
    analysis = analysis_options(slice_by, min_slice_size, examples)
    perturbations = resolve_perturbations(robustness) if robustness else []
    with staged_run_dir(output_dir) as out:
        runner = _engine(engine, spark_master)
        data = runner.load_data(
            dataset,
            split=split,
            config=dataset_config,
            text_column=text_column,
            text_pair_column=text_pair_column,
            label_column=label_column,
            limit=limit,
            sample=sample,
            seed=seed,
            slice_columns=analysis.slice_by,
        )
        if probe_list and data.info.text_pair is not None:
            raise UsageError(
                "bias probes fill single-text templates, but this dataset holds sentence pairs "
                f"({quote(data.info.text_column)} + {quote(data.info.text_pair.column)}); "
                "drop --probes for a pair evaluation"
            )
        data = with_dataset_names(data, dataset_id, dataset_config, split)
        if label_order is not None:
            data = with_label_order(data, list(label_order))
        model = runner.load_model(
            model,
            revision=revision,
            device=device,
            dtype=dtype,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
            allow_pickle=allow_pickle,
            trusted_types=tuple(trusted_types),
        )
        if is_multilabel_run(model, data):
            if runner.name != "local":
                raise UsageError(
                    "this model is multi-label, which --engine spark does not evaluate yet; run "
                    "with --engine local"
                )
            if probe_list or analysis.slice_by:
                raise UsageError(
                    "--probes and --slice-by are not available for multi-label evaluations yet; "
                    "drop them"
                )
            run = evaluate_multilabel(
                model,
                data,
                mapping,
                thresholds=thresholds,
                batch_size=batch_size,
                progress=progress,
                n_bootstrap=n_bootstrap,
                seed=seed,
            )
            if perturbations:
                run.results.robustness = measure_robustness(
                    run.model,
                    perturbations,
                    texts=data.texts,
                    text_pairs=data.text_pairs,
                    gold=run.gold,
                    scores=run.scores,
                    labels=run.alignment.labels,
                    reorder=run.alignment.reorder,
                    decider=run.decider,
                    sample=robustness_sample,
                    seed=seed,
                    n_bootstrap=n_bootstrap,
                    batch_size=batch_size,
                    progress=progress,
                    examples=analysis.examples,
                )
            if out is not None:
                write_multilabel_outputs(run, out)
            return run.results
        if thresholds.source != "default":
            raise UsageError(
                "--threshold sets the decision thresholds of multi-label models, but this model "
                "and dataset are single-label (one label per text); drop --threshold"
            )
        alignment = align_labels(
            model.labels, data.label_names, dataset_indexed=data.indexed, label_map=mapping
        )
        predicted = runner.predict(
            model,
            data,
            alignment,
            batch_size=batch_size,
            progress=progress,
            out=out,
            examples=analysis.examples,
        )
        return _single_label(
            model,
            predicted,
            alignment,
            probe_list,
            out,
            batch_size,
            progress,
            n_bootstrap,
            seed,
            analysis,
            perturbations=perturbations,
            robustness_sample=robustness_sample,
        )


def _engine(name: str, spark_master: str | None) -> Engine:
    """The engine ``name`` (already checked): local, or Spark on ``spark_master``."""
    if name == "spark":
        from cardgen.engines.spark.engine import SparkEngine

        return SparkEngine(spark_master)
    return LocalEngine()

def _single_label(
    model: TextClassifier,
    predicted: Predicted,
    alignment: Alignment,
    probe_list: list[Probe],
    out: Path | None,
    batch_size: int | None,
    progress: bool,
    n_bootstrap: int,
    seed: int,
    options: AnalysisOptions,
    *,
    perturbations: Sequence[Perturbation] = (),
    robustness_sample: int | None = None,
) -> EvalResults:
    """Metrics, analyses, robustness and probes of a single-label run, from its predictions;
    extra texts (edits, fills) are predicted by ``model`` on the run's engine."""
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
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    notes = permutation_notes(np.array(report.confusion_matrix.counts), alignment)

    results = EvalResults(
        model=model.info(),
        dataset=data.info,
        label_mapping=alignment.mapping,
        labels=alignment.labels,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=predicted.timing,
        environment=predicted.environment,
        seed=seed,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        cardgen_version=__version__,
        warnings=notes,
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
        options=options,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    results.slices, results.failures = analysis.slices, analysis.failures
    if perturbations:
        results.robustness = measure_robustness(
            model,
            perturbations,
            texts=data.texts,
            text_pairs=data.text_pairs,
            gold=y_true,
            scores=scores,
            labels=alignment.labels,
            reorder=alignment.reorder,
            sample=robustness_sample,
            seed=seed,
            n_bootstrap=n_bootstrap,
            batch_size=batch_size,
            progress=progress,
            examples=options.examples,
        )
    if probe_list:
        run = measure_probes(
            model,
            probe_list,
            n_bootstrap=n_bootstrap,
            seed=seed,
            batch_size=batch_size,
            progress=progress,
        )
        results.probes = run.results
        if out is not None:
            write_probe_files(run, out)
            results.files["probe_fills"] = PROBE_FILLS_FILE
    if out is not None and predicted.predictions_file is not None:
        results.files["predictions"] = predicted.predictions_file
        save_plots_and_results(results, out)
    elif out is not None:
        write_outputs(results, y_true, y_pred, scores, out, analysis)
    return results
