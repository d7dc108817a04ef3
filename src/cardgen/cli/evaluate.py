"""``cardgen evaluate`` and ``cardgen demo``."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardgen.cli._app import app, console, err_console
from cardgen.cli._options import (
    AllowPickle,
    BatchSize,
    Device,
    Dtype,
    Engine,
    MaxLength,
    Progress,
    Revision,
    SparkMaster,
    Trust,
    TrustRemoteCode,
    parse_batch_size,
    split_probes,
)
from cardgen.cli.card import write_card
from cardgen.display.tables import (
    confusion_table,
    label_detail_table,
    metrics_table,
    per_class_table,
    probe_summary_table,
    robustness_table,
)
from cardgen.errors import UsageError
from cardgen.evaluation.options import split_list
from cardgen.results.schema import EvalResults

DEFAULT_OUTPUT = Path("runs/demo")


def run_name(model: str) -> str:
    """A directory name for a model: ``org/name`` -> ``name``, ``pipe.skops`` -> ``pipe``."""
    path = Path(model.rstrip("/"))
    return re.sub(
        r"[^\w.-]+", "-", path.stem if path.suffix in (".skops", ".pkl", ".joblib") else path.name
    )


def print_summary(results: EvalResults, output_dir: Path | None) -> None:
    """Headline metrics with CIs, the per-class table and the confusion matrix."""
    console.print(metrics_table(results))
    console.print(per_class_table(results))
    if results.multilabel is not None:
        console.print(label_detail_table(results))
    elif len(results.labels) <= 12:
        console.print(confusion_table(results))
    if results.probes:
        console.print(probe_summary_table(results.probes))
    if results.robustness:
        console.print(robustness_table(results.robustness))
    print_analysis(results)
    for warning in results.warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)
    timing = results.timing
    if timing is not None and timing.truncated:
        share = timing.truncated / max(results.dataset.num_rows, 1)
        err_console.print(
            f"[bold yellow]note:[/] {timing.truncated:,} of {results.dataset.num_rows:,} texts "
            f"({share:.1%}) were longer than {timing.max_length} tokens and were truncated",
            highlight=False,
        )
    if output_dir is not None:
        console.print(f"results written to {output_dir / 'results.json'}", highlight=False)


def print_analysis(results: EvalResults) -> None:
    """The slice tables, the most confused pairs and the label issue count."""
    from cardgen.analysis.tables import failure_table, label_issue_note, slice_table

    for result in results.slices.values():
        if not result.values:
            continue  # "nothing was truncated": the run's truncation count already says it
        console.print(slice_table(result))
        if result.note:
            err_console.print(f"[bold]note:[/] {escape(result.note)}", highlight=False)
    failures = results.failures
    if failures is not None and failures.pairs:
        console.print(failure_table(failures))
    note = label_issue_note(failures, results.dataset.num_rows) if failures else None
    if note is not None:
        err_console.print(f"[bold]note:[/] {escape(note)}", highlight=False)


@app.command()
def evaluate(
    model: Annotated[
        str | None,
        typer.Option(
            help="Model directory, hub id, .skops or pickle file. Default: the embedded demo model."
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="CSV/TSV/JSONL/JSON/Parquet file, save_to_disk directory or `datasets` name. "
            "Default: the demo set."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            "--dataset-split",
            help="Dataset split: the one to load from a hub dataset or DatasetDict; for a file, "
            "the split it is [default: from the file name, e.g. test.csv].",
        ),
    ] = None,
    dataset_config: Annotated[str | None, typer.Option(help="Dataset configuration name.")] = None,
    dataset_id: Annotated[
        str | None,
        typer.Option(help="Hub id of the dataset a local file holds (e.g. nyu-mll/glue)."),
    ] = None,
    text_column: Annotated[
        str | None, typer.Option(help="Text column [default: text, sentence, ...].")
    ] = None,
    text_pair_column: Annotated[
        str | None,
        typer.Option(
            help="Second text column of sentence pairs, tokenized with the text as one pair "
            "[default: found by name: sentence1/sentence2, premise/hypothesis, "
            "question1/question2, question/sentence, for a model fine-tuned on pairs]."
        ),
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column [default: label].")] = None,
    label_format: Annotated[
        str | None,
        typer.Option(
            help="How list labels of 0/1 read: ids (lists of class ids) or multi-hot (one 0/1 "
            "entry per model label) [default: from the whole column; asked when ambiguous]."
        ),
    ] = None,
    label_map: Annotated[
        str | None,
        typer.Option(help="JSON file mapping model label -> dataset label, or 'index'."),
    ] = None,
    label_order: Annotated[
        str | None,
        typer.Option(
            help="The dataset's label names in class-id order (a,b,c), for --label-map index."
        ),
    ] = None,
    batch_size: BatchSize = "auto",
    max_length: MaxLength = None,
    device: Device = "auto",
    dtype: Dtype = "auto",
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N rows.")] = None,
    sample: Annotated[
        bool, typer.Option(help="With --limit, draw N rows at random (seeded) instead of the head.")
    ] = False,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the 95% CIs (0 to skip).")
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed for sampling and the bootstrap.")] = 0,
    revision: Revision = None,
    trust_remote_code: TrustRemoteCode = False,
    allow_pickle: AllowPickle = False,
    trust: Trust = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where results.json, predictions.jsonl and plots go "
            "[default: runs/<model name>, runs/demo for the demo]."
        ),
    ] = None,
    progress: Progress = True,
    probes: Annotated[
        str | None,
        typer.Option(
            "--probes",
            "--probe",
            help="Also run bias probes: comma-separated built-in probes (country, nationality, "
            "religion, gender-names, pronouns) or .toml/.yaml probe files.",
        ),
    ] = None,
    target_label: Annotated[
        str | None,
        typer.Option(
            help="Label whose probability the probes compare, for probes that name none "
            "[default: the model's positive label; required without one]."
        ),
    ] = None,
    robustness: Annotated[
        str | None,
        typer.Option(
            help="Also measure robustness on edited copies of the texts: comma-separated "
            "perturbations (typos, lowercase, uppercase, titlecase, no-punctuation, "
            "extra-punctuation, whitespace, expand-contractions, add-contractions, swap-names, "
            "swap-countries, swap-nationalities), groups (case, punctuation, contractions, "
            "lexicons) or all."
        ),
    ] = None,
    robustness_sample: Annotated[
        int | None,
        typer.Option(help="With --robustness, edit at most N rows (a seeded sample)."),
    ] = None,
    slice_by: Annotated[
        list[str] | None,
        typer.Option(
            "--slice-by",
            help="Dataset column to compute metrics per value of (repeatable); input-length "
            "quartiles and truncated vs not are sliced without asking.",
        ),
    ] = None,
    min_slice_size: Annotated[
        int,
        typer.Option(
            help="Slices with fewer rows are reported but flagged, never ranked worst or best."
        ),
    ] = 30,
    examples: Annotated[
        bool,
        typer.Option(
            "--examples/--no-examples",
            help="Write example texts (failure analysis, predictions.jsonl); --no-examples "
            "keeps every text of the evaluation set out of the written files.",
        ),
    ] = True,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Multi-label models: the decision threshold of every label, or a JSON file of "
            "label -> threshold (others keep 0.5) [default: 0.5].",
        ),
    ] = None,
    card: Annotated[
        Path | None,
        typer.Option(
            help="Also write (or refresh) the model card here; `cardgen card` has more options."
        ),
    ] = None,
    discard_edits: Annotated[
        bool,
        typer.Option(
            help="With --card: replace cardgen's sections of the card even where someone "
            "edited them (otherwise the card is refused after the evaluation is written)."
        ),
    ] = False,
    engine: Engine = "local",
    spark_master: SparkMaster = None,
) -> None:
    """Evaluate a text classifier on a held-out split; write results, predictions and plots."""
    from cardgen.demo import DEMO_DATASET, DEMO_MODEL
    from cardgen.evaluation.run import evaluate as run_evaluation

    if (model is None) != (dataset is None):
        raise UsageError("pass both --model and --dataset, or neither to run the embedded demo")
    if discard_edits and card is None:
        raise UsageError("--discard-edits goes with --card; add it, or drop both")
    if output_dir is None:
        output_dir = DEFAULT_OUTPUT if model is None else Path("runs") / run_name(model)
    with warnings.catch_warnings():  # printed once, from results.warnings, by print_summary
        warnings.filterwarnings("ignore", message="label mapping looks permuted")
        results = run_evaluation(
            model or DEMO_MODEL,
            dataset or DEMO_DATASET,
            split=split,
            dataset_config=dataset_config,
            dataset_id=dataset_id,
            text_column=text_column,
            text_pair_column=text_pair_column,
            label_column=label_column,
            label_format=label_format,
            label_map=label_map,
            label_order=split_list(label_order),
            batch_size=parse_batch_size(batch_size),
            max_length=max_length,
            device=device,
            dtype=dtype,
            limit=limit,
            sample=sample,
            n_bootstrap=bootstrap,
            seed=seed,
            revision=revision,
            trust_remote_code=trust_remote_code,
            allow_pickle=allow_pickle,
            trusted_types=trust or (),
            output_dir=output_dir,
            progress=progress,
            probes=split_probes([probes] if probes is not None else None),
            target_label=target_label,
            robustness=split_list(robustness) or (),
            robustness_sample=robustness_sample,
            slice_by=slice_by or (),
            min_slice_size=min_slice_size,
            examples=examples,
            threshold=threshold,
            engine=engine,
            spark_master=spark_master,
        )
    print_summary(results, output_dir)
    if card is not None:
        write_card(output_dir, card, discard_edits=discard_edits)


@app.command()
def demo(
    output_dir: Annotated[
        Path, typer.Option(help="Where the demo run is written.")
    ] = DEFAULT_OUTPUT,
) -> None:
    """Evaluate the embedded demo model (a tiny synthetic DistilBERT, not a real model).

    Runs the country bias probe too and writes the model card, README.md, into the run.
    """
    from cardgen.demo import DEMO_DATASET, DEMO_MODEL
    from cardgen.evaluation.run import evaluate as run_evaluation

    results = run_evaluation(
        DEMO_MODEL, DEMO_DATASET, output_dir=output_dir, progress=True, probes=["country"]
    )
    print_summary(results, output_dir)
    write_card(output_dir, None, model_name="cardgen-demo")
