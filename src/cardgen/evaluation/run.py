"""``evaluate``: run a classifier on a dataset and write the results file, predictions and plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cardgen.analysis import analysis_options
from cardgen.analysis.perturb import resolve_perturbations
from cardgen.cards.conventions import check_dataset_id
from cardgen.data.declared import with_dataset_names, with_label_order
from cardgen.data.labels import align_labels, label_map_option
from cardgen.data.load import EvalData
from cardgen.engines.base import Engine
from cardgen.engines.local import LocalEngine
from cardgen.errors import UsageError
from cardgen.evaluation.options import check_engine, check_run_options, check_threshold
from cardgen.evaluation.tasks import Plan, multi_label_run, predict_rows, single_label_run
from cardgen.models import TextClassifier
from cardgen.models.pairs import check_pairs_fit
from cardgen.probes import (
    Probe,
    checked_target,
    probe_labels,
    resolve_probes,
)
from cardgen.results.rundir import staged_run_dir
from cardgen.results.schema import DatasetInfo, EvalResults
from cardgen.tasks.multilabel import is_multilabel_run
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
    target_label: str | None = None,
    threshold: float | str | Path | Mapping[str, float] | None = None,
    slice_by: Sequence[str] = (),
    min_slice_size: int = 30,
    examples: bool = True,
    robustness: Sequence[str] = (),
    robustness_sample: int | None = None,
    engine: str = "local",
    spark_master: str | None = None,
    label_format: str | None = None,
) -> EvalResults:
    """Evaluate ``model`` on ``dataset``; with ``output_dir``, also write every output file.

    ``label_map`` is a JSON file or dict (model label -> dataset label), or ``"index"``, which
    needs class ids in the data or ``label_order`` (the dataset's label names, class id 0
    first). ``dataset_id`` names the Hub dataset a local file holds; with ``dataset_config``
    and ``split`` it is recorded for the card (a file's split is otherwise read from its name,
    ``test.csv`` -> test). ``text_pair_column`` evaluates sentence pairs (found by name too,
    e.g. premise / hypothesis). ``batch_size=None`` sizes batches automatically. ``probes``
    (built-in probe names, probe files or Probe objects) run on the same model into
    ``EvalResults.probes``, their plots and fills into ``output_dir``; they measure
    ``target_label`` where a probe names none (default: the model's ``positive`` label). Every
    option is checked before any work; a CardgenError leaves ``output_dir`` as it was, and a
    finished run replaces it whole.

    ``slice_by`` names dataset columns to compute metrics per value of (input-length quartiles
    and truncated vs not are sliced without asking); slices under ``min_slice_size`` rows are
    flagged, never ranked. ``examples=False`` keeps every example text out of the results,
    ``predictions.jsonl`` and the card (counts stay).

    Multi-label models (``problem_type: multi_label_classification``) and label columns of
    lists or multi-hot vectors are evaluated as multi-label (``cardgen.tasks.multilabel``):
    ``threshold`` is the decision threshold of every label (0.5), or a JSON file / mapping of
    label -> threshold. ``label_format`` (``ids`` or ``multi-hot``) says how list labels of 0/1
    read where only the model could tell (``[1, 0]`` of a two-label model).

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
        sample=sample,
        n_bootstrap=n_bootstrap,
        seed=seed,
        label_order=label_order,
        robustness=robustness,
        robustness_sample=robustness_sample,
    )
    check_engine(engine, spark_master)
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    plan = Plan(
        mapping=label_map_option(label_map),
        thresholds=check_threshold(threshold),
        probes=resolve_probes(probes) if probes else [],
        target_label=check_target_label(target_label, probes),
        analysis=analysis_options(slice_by, min_slice_size, examples),
        perturbations=resolve_perturbations(robustness) if robustness else [],
        robustness_sample=robustness_sample,
        batch_size=batch_size,
        progress=progress,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
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
            slice_columns=plan.analysis.slice_by,
            label_format=label_format,
        )
        check_probe_shapes(plan.probes, data.info)
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
        check_pairs_fit(model, data.info)
        if plan.probes:
            probe_labels(model.labels, plan.probes, plan.target_label)
        return _predict_and_analyse(runner, model, data, plan, out)


def _predict_and_analyse(
    runner: Engine, model: TextClassifier, data: EvalData, plan: Plan, out: Path | None
) -> EvalResults:
    """The task's run, predicted by ``runner``: label sets, or one label per row."""
    if is_multilabel_run(model, data):
        return multi_label_run(runner, model, data, plan, out)
    if plan.thresholds.source != "default":
        raise UsageError(
            "--threshold sets the decision thresholds of multi-label models, but this model "
            "and dataset are single-label (one label per text); drop --threshold"
        )
    alignment = align_labels(
        model.labels, data.label_names, dataset_indexed=data.indexed, label_map=plan.mapping
    )
    predicted = predict_rows(runner, model, data, alignment, plan, out)
    return single_label_run(model, predicted, alignment, plan, out)


def check_target_label(target_label: str | None, probes: Sequence[object]) -> str | None:
    """``target_label``, which measures probes: ProbeError when empty, UsageError without
    probes."""
    if checked_target(target_label) is None:
        return None
    if not probes:
        raise UsageError(
            "--target-label names the label bias probes measure; add --probes, or drop it"
        )
    return target_label


def check_probe_shapes(probes: Sequence[Probe], info: DatasetInfo) -> None:
    """UsageError for probes whose templates are not the data's shape: a pair evaluation
    needs probes of sentence pairs, a single-text one probes of single texts."""
    pair = info.text_pair
    wrong = [p.name for p in probes if (p.pairs is None) == (pair is not None)]
    if not wrong:
        return
    if pair is not None:
        raise UsageError(
            f"probe {quote(wrong[0])} fills single-text templates, but this dataset holds "
            f"sentence pairs ({quote(info.text_column)} + {quote(pair.column)}); write its "
            'templates as pairs, ["premise {X}", "hypothesis"], in a probe file'
        )
    raise UsageError(
        f"probe {quote(wrong[0])} fills sentence pairs, but this dataset holds single texts "
        f"({quote(info.text_column)}); use single-text templates, or evaluate pair data "
        "(--text-pair-column)"
    )


def _engine(name: str, spark_master: str | None) -> Engine:
    """The engine ``name`` (already checked): local, or Spark on ``spark_master``."""
    if name == "spark":
        from cardgen.engines.spark.engine import SparkEngine

        return SparkEngine(spark_master)
    return LocalEngine()
