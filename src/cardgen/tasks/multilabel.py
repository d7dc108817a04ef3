"""Multi-label evaluation: sigmoid scores, decision thresholds, gold label sets.

``evaluate`` hands over here when the model's config says ``problem_type:
multi_label_classification`` or the label column holds lists (or multi-hot vectors). A model
that says it is single-label on list labels, or a multi-label model on single labels, is an
input error that says which side is which.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardgen.data.label_sets import check_vector_width
from cardgen.data.labels import Alignment, align_labels, label_set_permutation_notes
from cardgen.data.load import EvalData
from cardgen.engines.base import Predicted
from cardgen.errors import DataError, LabelError, UsageError
from cardgen.evaluation.options import Thresholds
from cardgen.evaluation.outputs import save_slices_plot
from cardgen.models import TextClassifier
from cardgen.models.base import RunStats, declared_multi_label, with_thresholds
from cardgen.results.schema import PREDICTIONS_FILE, ConfusionMatrix, EvalResults, MultiLabelResults
from cardgen.tasks.decisions import Decider
from cardgen.tasks.multilabel_metrics import compute_multilabel_metrics
from cardgen.tasks.record import bootstrap_notes, run_record
from cardgen.trust.atomic import write_jsonl
from cardgen.trust.untrusted import quote

F1_PLOT = "label_f1.png"
RELIABILITY_PLOT = "reliability.png"


def is_multilabel_run(model: TextClassifier, data: EvalData) -> bool:
    """Whether ``model`` on ``data`` is a multi-label evaluation (consistent or not)."""
    return data.label_sets is not None or declared_multi_label(model) is True


def check_task(model: TextClassifier, data: EvalData) -> tuple[TextClassifier, list[str]]:
    """The model to run (scoring with sigmoids) and notes; LabelError when the model and the
    data disagree about the task."""
    declared = declared_multi_label(model)
    name = quote(model.info().id)
    column = quote(data.info.label_column)
    if data.label_sets is None:
        raise LabelError(
            f"model {name} is multi-label (its config says problem_type: "
            f"multi_label_classification) but label column {column} holds one label per row; "
            'give each row a list of labels (["toxic", "insult"], [] for none) or a multi-hot '
            "vector, or evaluate a single-label model"
        )
    if declared is False:
        said = (
            "its config says problem_type: single_label_classification"
            if hasattr(model, "multi_label")
            else f"a {model.info().framework} classifier gives one label per text"
        )
        raise LabelError(
            f"model {name} is single-label ({said}) but label column {column} holds lists of "
            "labels (multi-label data); evaluate a multi-label model (problem_type: "
            "multi_label_classification), or give each row one label"
        )
    notes = []
    if declared is None:
        model = copy.copy(model)
        model.multi_label = True  # type: ignore[attr-defined]
        notes.append(
            f"model {name} does not say whether it is multi-label (its config has no "
            f"problem_type); it was scored as multi-label, with a sigmoid per label, because "
            f"label column {column} holds lists. Set problem_type in its config.json"
        )
    check_vector_width(data.vector_width, model.labels, data.info.label_column, model.info().id)
    if data.multi_hot and len(data.label_names) != len(model.labels):
        raise DataError(
            f"label column {column} holds multi-hot vectors of length {len(data.label_names)}, "
            f"but model {name} has {len(model.labels)} labels ({quote(', '.join(model.labels))}); "
            "each vector needs one 0/1 entry per model label"
        )
    return model, notes


def threshold_array(thresholds: Thresholds, labels: list[str]) -> NDArray[np.float64]:
    """One threshold per label in ``labels`` order; UsageError for a label not among them."""
    unknown = [name for name in thresholds.per_label if name not in labels]
    if unknown:
        raise UsageError(
            f"thresholds file {quote(thresholds.source)} names labels {quote(unknown)} that this "
            f"run does not have; its labels are: {quote(', '.join(labels))}"
        )
    return np.array([thresholds.per_label.get(x, thresholds.default) for x in labels])


def model_thresholds(
    limits: NDArray[np.float64], alignment: Alignment, k: int
) -> NDArray[np.float64]:
    """The run's thresholds (``alignment.labels`` order) over the model's ``k`` output columns;
    unmapped columns at 0.5."""
    out = np.full(k, 0.5)
    out[alignment.columns] = limits
    return out


def gold_matrix(label_sets: list[tuple[str, ...]], labels: list[str]) -> NDArray[np.bool_]:
    """Gold label sets as an (n, K) boolean matrix in ``labels`` order."""
    index = {label: j for j, label in enumerate(labels)}
    gold = np.zeros((len(label_sets), len(labels)), dtype=bool)
    rows = [i for i, names in enumerate(label_sets) for _ in names]
    cols = [index[name] for names in label_sets for name in names]
    gold[rows, cols] = True
    return gold


@dataclass
class MultiLabelRun:
    """A multi-label run: its results, and what robustness and the outputs still need."""

    results: EvalResults
    model: TextClassifier
    alignment: Alignment
    gold: NDArray[np.bool_]
    scores: NDArray[np.float64]
    limits: NDArray[np.float64]
    stats: RunStats

    @property
    def predicted(self) -> NDArray[np.bool_]:
        """Each row's predicted labels at their thresholds, (rows, labels)."""
        return self.scores >= self.limits[None, :]

    @property
    def decider(self) -> Decider:
        """Label sets at the run's thresholds, over the run's (dataset) labels."""
        return Decider(tuple(self.alignment.labels), self.limits)

    @property
    def model_decider(self) -> Decider:
        """The same decisions over the model's own labels and output columns (for texts the
        model scores outside the evaluation, such as probe fills); unmapped labels at 0.5."""
        limits = model_thresholds(self.limits, self.alignment, len(self.model.labels))
        return Decider(tuple(self.model.labels), limits)


def prepare_multilabel(
    model: TextClassifier,
    data: EvalData,
    label_map: str | dict[str, str] | None,
    thresholds: Thresholds,
) -> tuple[TextClassifier, Alignment, NDArray[np.float64], list[str]]:
    """The model to run (scoring with sigmoids), the label alignment, each label's threshold in
    its order, and notes; LabelError when the model and the data's label sets disagree."""
    model, notes = check_task(model, data)
    known = {label.casefold() for label in model.labels}
    unknown = [x for x in data.label_names if x.casefold() not in known]
    if label_map is None and not data.indexed and unknown:
        raise LabelError(
            f"label column {quote(data.info.label_column)} names labels that model "
            f"{quote(model.info().id)} does not have: {quote(unknown)}; its labels are: "
            f"{quote(', '.join(model.labels))}. Fix the label lists, or pass --label-map "
            "map.json (model label -> dataset label)"
        )
    alignment = align_labels(
        model.labels, data.label_names, dataset_indexed=data.indexed, label_map=label_map
    )
    limits = threshold_array(thresholds, alignment.labels)
    model = with_thresholds(model, model_thresholds(limits, alignment, len(model.labels)))
    return model, alignment, limits, notes


def multilabel_results(
    model: TextClassifier,
    predicted: Predicted,
    alignment: Alignment,
    limits: NDArray[np.float64],
    *,
    thresholds: Thresholds,
    notes: list[str],
    n_bootstrap: int,
    seed: int,
) -> MultiLabelRun:
    """The metrics of an engine's multi-label predictions (``write_outputs`` writes them)."""
    data, scores = predicted.data, predicted.scores
    assert data.label_sets is not None
    gold = gold_matrix(data.label_sets, alignment.labels)
    report = compute_multilabel_metrics(
        gold, scores, limits, alignment.labels, n_bootstrap=n_bootstrap, seed=seed
    )
    notes += label_set_permutation_notes(gold, scores >= limits[None, :], alignment)
    results = EvalResults(
        **run_record(model, predicted, alignment, seed),
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=ConfusionMatrix(labels=[], counts=[]),
        calibration=report.calibration,
        warnings=bootstrap_notes(n_bootstrap) + notes,
        task="multi_label",
        multilabel=MultiLabelResults(
            threshold_source=thresholds.source,
            labels=report.details,
            false_positives=report.false_positives,
        ),
    )
    return MultiLabelRun(results, model, alignment, gold, scores, limits, predicted.stats)


def write_outputs(
    run: MultiLabelRun,
    output_dir: Path,
    *,
    row_ids: Sequence[int] | None = None,
    predictions_file: str | None = None,
) -> None:
    """Predictions (gold and predicted label lists, a probability per label), the F1 and
    reliability plots, then ``results.json``, each written atomically. ``row_ids``: each
    row's ``index``, its row in the source (default: its position). ``predictions_file``: the
    engine already wrote the predictions under that name (Spark's Parquet)."""
    results = run.results
    from cardgen.display.plots import save_figure
    from cardgen.display.plots_multilabel import label_f1_figure, label_reliability_figure

    if predictions_file is None:
        _write_predictions(run, output_dir / PREDICTIONS_FILE, row_ids)
    results.files["predictions"] = predictions_file or PREDICTIONS_FILE
    assert results.multilabel is not None
    save_figure(label_f1_figure(results.per_class, results.multilabel.labels), output_dir / F1_PLOT)
    results.files["label_f1"] = F1_PLOT
    if results.calibration is not None:
        figure = label_reliability_figure(results.calibration)
        save_figure(figure, output_dir / RELIABILITY_PLOT)
        results.files["reliability"] = RELIABILITY_PLOT
    save_slices_plot(results, output_dir)
    results.save(output_dir)


def _write_predictions(run: MultiLabelRun, path: Path, row_ids: Sequence[int] | None) -> None:
    """``predictions.jsonl``: per row its index, gold and predicted labels and probabilities."""
    labels = np.array(run.alignment.labels, dtype=object)
    write_jsonl(
        path,
        (
            {
                "index": i if row_ids is None else row_ids[i],
                "gold": labels[g].tolist(),
                "predicted": labels[p].tolist(),
                "probabilities": {
                    label: float(s) for label, s in zip(run.alignment.labels, row, strict=True)
                },
            }
            for i, (g, p, row) in enumerate(zip(run.gold, run.predicted, run.scores, strict=True))
        ),
    )
