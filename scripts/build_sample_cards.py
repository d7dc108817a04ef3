"""Build sample_cards/: one model card per reference card shape, by really running cardgen.

Each shape trains a small model on synthetic data from ``cardgen.demo.synthetic`` (in seconds, on a
CPU), evaluates it with ``cardgen evaluate`` into ``sample_cards/<shape>/`` and writes the card
there with ``cardgen card``, with its ``.eval_results`` file (under an illustrative Hub dataset
id). The models are demos of the card shapes, not models to use.

    .venv/bin/python scripts/build_sample_cards.py            # every shape
    .venv/bin/python scripts/build_sample_cards.py imdb-like  # some of them

Re-running retrains and re-evaluates, so the timings, dates and hardware in the cards change.
The golden test (tests/test_sample_cards.py) re-renders each card from its committed
results.json and compares, the ``.eval_results`` files too; ``pytest tests/test_sample_cards.py
--update-golden`` rewrites them after a template change, without retraining.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_cards"
BUILD = Path("build/sample-cards")  # relative to ROOT, so results.json records no home paths

NEWSGROUPS = [
    "alt.atheism",
    "comp.graphics",
    "comp.os.ms-windows.misc",
    "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware",
    "comp.windows.x",
    "misc.forsale",
    "rec.autos",
    "rec.motorcycles",
    "rec.sport.baseball",
    "rec.sport.hockey",
    "sci.crypt",
    "sci.electronics",
    "sci.med",
    "sci.space",
    "soc.religion.christian",
    "talk.politics.guns",
    "talk.politics.mideast",
    "talk.politics.misc",
    "talk.religion.misc",
]
NOTES = (
    "This is a **sample card** built by cardgen's `scripts/build_sample_cards.py` to show what "
    "cardgen writes for {imitates}. The model is {model}, trained in seconds on synthetic "
    "sentences that the script generates itself, and its repo ids (the model's and the "
    "dataset's) are illustrative: it is a demo of the card, not a model to use."
)


@dataclass(frozen=True)
class Shape:
    """One reference card shape and how its sample is built."""

    name: str
    imitates: str
    model_name: str
    dataset: str
    corpus: str  # sentiment | topics | newsgroups | moderation (multi-label) | pairs
    split: str
    n_train: int
    n_eval: int
    epochs: int = 2
    history: str | None = None  # trainer | keras
    sklearn: bool = False
    generic_labels: bool = False
    base_model: str | None = "distilbert-base-uncased"
    probes: str | None = None  # run with `cardgen evaluate --probes`
    place_only: float = 0.0  # share of training rows that only name a filming place
    thresholds: dict[str, float] | None = None  # multi-label: `--threshold thresholds.json`
    sources: bool = False  # topics: a news agency per row, in a `source` column and the text
    learning_rate: float | None = None  # default: cardgen.demo.synthetic.LEARNING_RATE
    options: tuple[str, ...] = ()  # more `cardgen evaluate` options
    caveat: str = ""  # appended to the intended-uses text

    @property
    def directory(self) -> Path:
        return SAMPLES / self.name

    @property
    def dataset_id(self) -> str:
        """The illustrative Hub id of its synthetic dataset (for the card's .eval_results)."""
        return f"cardgen-samples/{self.dataset}"

    @property
    def model_description(self) -> str:
        if self.sklearn:
            return "a TF-IDF + logistic regression pipeline saved with skops"
        return "a 2-layer DistilBERT of width 32 with its own small WordPiece vocabulary"


SHAPES = {
    shape.name: shape
    for shape in (
        Shape(
            "sst2-like",
            "a binary sentiment model evaluated on GLUE SST-2 (a Hugging Face card)",
            "cardgen-samples/distilbert-sst2-like",
            "synthetic-sst2",
            "sentiment",
            "validation",
            n_train=2000,
            n_eval=872,
            epochs=4,
            probes="country,gender-names",
            place_only=0.3,
        ),
        Shape(
            "ag-news-like",
            "a 4-class news topic model evaluated on AG News (a Spark NLP card)",
            "cardgen-samples/distilbert-ag-news-like",
            "synthetic-ag-news",
            "topics",
            "test",
            n_train=2000,
            n_eval=760,
            sources=True,
            options=("--slice-by", "source", "--robustness", "all", "--robustness-sample", "300"),
        ),
        Shape(
            "imdb-like",
            "an IMDb sentiment model fine-tuned with transformers.Trainer (a Trainer card)",
            "cardgen-samples/distilbert-imdb-like",
            "synthetic-imdb",
            "sentiment",
            "test",
            n_train=2000,
            n_eval=1000,
            epochs=3,
            history="trainer",
            generic_labels=True,
        ),
        Shape(
            "newsgroups-skops",
            "a 20 Newsgroups scikit-learn pipeline shared with skops (a skops card)",
            "cardgen-samples/tfidf-logreg-20newsgroups-like",
            "synthetic-20newsgroups",
            "newsgroups",
            "test",
            n_train=4000,
            n_eval=1000,
            sklearn=True,
            base_model=None,
        ),
        Shape(
            "newsgroups-keras",
            "a 20 Newsgroups classifier with a Keras training history (a Keras card)",
            "cardgen-samples/distilbert-20newsgroups-like",
            "synthetic-20newsgroups",
            "newsgroups",
            "test",
            n_train=4000,
            n_eval=1000,
            epochs=5,
            history="keras",
        ),
        Shape(
            "toxicity-multilabel",
            "a multi-label comment moderation model, like a Jigsaw toxicity classifier (a "
            "multi-label Hugging Face card)",
            "cardgen-samples/distilbert-moderation-multilabel",
            "synthetic-moderation",
            "moderation",
            "test",
            n_train=2000,
            n_eval=800,
            epochs=10,
            thresholds={"threat": 0.3},
        ),
        Shape(
            "mrpc-like",
            "a sentence-pair paraphrase model evaluated on GLUE MRPC (a Hugging Face card)",
            "cardgen-samples/distilbert-mrpc-like",
            "synthetic-mrpc",
            "pairs",
            "validation",
            n_train=3000,
            n_eval=408,
            epochs=12,
            learning_rate=2e-3,
            caveat=(
                "Like some real pair sets (MNLI, for one), its synthetic training pairs carry a "
                "shortcut: 60% of the second sentences of non-equivalent pairs start with "
                '"however". The input-length slices and the failure analysis below show that the '
                "model learnt that word instead of comparing the two sentences."
            ),
        ),
    )
}


def notes(shape: Shape) -> str:
    """The intended-uses text of a sample card."""
    text = NOTES.format(imitates=shape.imitates, model=shape.model_description)
    return f"{text} {shape.caveat}" if shape.caveat else text


def card_args(shape: Shape, notes_file: Path, output: Path) -> list[str]:
    """The ``cardgen card`` command line of a sample (the golden test runs it too); it writes
    the card and, beside it, its ``.eval_results`` file."""
    directory = shape.directory
    args = [
        "card",
        str(directory),
        "--model-name",
        shape.model_name,
        "--license",
        "apache-2.0",
        "--dataset-id",
        shape.dataset_id,
        "--section",
        f"intended_uses={notes_file}",
        "--output",
        str(output),
        "--overwrite",
    ]
    if shape.base_model:
        args += ["--base-model", shape.base_model]
    if shape.history == "trainer":
        args += ["--training-history", str(directory / "trainer_state.json")]
    if shape.history == "keras":
        args += ["--training-history", str(directory / "history.csv")]
    if shape.history:
        args += ["--hyperparameters", str(directory / "hyperparameters.json")]
    return args


def _rows(
    shape: Shape, n: int, seed: int, *, place_only: float = 0.0
) -> tuple[list[dict[str, Any]], list[str]]:
    from cardgen.demo.synthetic import (
        MODERATION,
        PARAPHRASE_LABELS,
        moderation_corpus,
        paraphrase_corpus,
        sentiment_corpus,
        topic_corpus,
    )

    if shape.corpus == "moderation":
        return moderation_corpus(n, seed=seed), list(MODERATION)
    if shape.corpus == "sentiment":
        rows = sentiment_corpus(n, seed=seed, place_only=place_only)
        if shape.generic_labels:  # IMDb's own label names
            names = {"negative": "neg", "positive": "pos"}
            return [{**r, "label": names[r["label"]]} for r in rows], ["neg", "pos"]
        return rows, ["negative", "positive"]
    if shape.corpus == "topics":
        rows = topic_corpus(n, seed=seed, sources=shape.sources)
        return rows, ["World", "Sports", "Business", "Sci/Tech"]
    if shape.corpus == "pairs":
        return paraphrase_corpus(n, seed=seed), list(PARAPHRASE_LABELS)
    return topic_corpus(n, NEWSGROUPS, seed=seed), list(NEWSGROUPS)


def _save_dataset(rows: list[dict[str, Any]], labels: list[str], split: str, path: Path) -> None:
    """A ``save_to_disk`` DatasetDict with a ClassLabel column, like a hub dataset; the other
    columns (texts, a slice column) are strings."""
    import datasets

    columns = [column for column in rows[0] if column != "label"]
    features = datasets.Features(
        {
            **{column: datasets.Value("string") for column in columns},
            "label": datasets.ClassLabel(names=labels),
        }
    )
    encoded: dict[str, list[Any]] = {column: [r[column] for r in rows] for column in columns}
    encoded["label"] = [labels.index(r["label"]) for r in rows]
    dataset = datasets.Dataset.from_dict(encoded, features=features)
    shutil.rmtree(path, ignore_errors=True)
    datasets.DatasetDict({split: dataset}).save_to_disk(str(path))


def _train(shape: Shape, rows: list[dict[str, Any]], labels: list[str]) -> tuple[str, list[Any]]:
    """Train the model; return the ``--model`` argument and the per-epoch history."""
    from cardgen.demo.synthetic import LEARNING_RATE, train_tiny_distilbert

    if shape.sklearn:
        import skops.io as sio
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
        pipeline.fit([r["text"] for r in rows], [r["label"] for r in rows])
        path = shape.directory.relative_to(ROOT) / "pipeline.skops"
        sio.dump(pipeline, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        return str(path), []
    history: list[dict[str, float]] = []
    validation, _ = _rows(shape, 400, seed=7) if shape.history else (None, None)
    model_dir = BUILD / shape.name / shape.model_name.split("/")[-1]
    shutil.rmtree(model_dir, ignore_errors=True)
    train_tiny_distilbert(
        rows,
        labels,
        model_dir,
        epochs=shape.epochs,
        id2label={0: "LABEL_0", 1: "LABEL_1"} if shape.generic_labels else None,
        validation=validation,
        history=history if shape.history else None,
        multi_label=shape.corpus == "moderation",
        text_pairs=("sentence1", "sentence2") if shape.corpus == "pairs" else None,
        learning_rate=shape.learning_rate or LEARNING_RATE,
    )
    return str(model_dir), history


def _write_history(shape: Shape, history: list[dict[str, float]], rows: int) -> None:
    """The training files a real run would leave: trainer_state.json or a Keras CSVLogger file."""
    from cardgen.demo.synthetic import BATCH_SIZE, LEARNING_RATE
    from cardgen.trust.atomic import write_json, write_text

    directory = shape.directory
    steps = history[-1]["step"] if history else 0
    if shape.history == "trainer":
        log: list[dict[str, Any]] = []
        for entry in history:
            position = {"epoch": entry["epoch"], "step": int(entry["step"])}
            log.append(
                {"loss": round(entry["loss"], 4), "learning_rate": LEARNING_RATE, **position}
            )
            log.append(
                {
                    "eval_loss": round(entry["val_loss"], 4),
                    "eval_accuracy": round(entry["val_accuracy"], 4),
                    **position,
                }
            )
        state = {
            "epoch": float(shape.epochs),
            "global_step": int(steps),
            "max_steps": int(steps),
            "logging_steps": int(steps // shape.epochs),
            "num_train_epochs": shape.epochs,
            "train_batch_size": BATCH_SIZE,
            "log_history": log,
        }
        write_json(directory / "trainer_state.json", state)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
        for i, entry in enumerate(history):
            values = [entry[k] for k in ("accuracy", "loss", "val_accuracy", "val_loss")]
            writer.writerow([i, *(round(v, 4) for v in values)])
        write_text(directory / "history.csv", buffer.getvalue())
    hyperparameters: dict[str, Any] = {"optimizer": "AdamW", "learning_rate": LEARNING_RATE}
    if shape.history == "keras":  # a trainer_state.json has the batch size and epochs already
        hyperparameters.update(batch_size=BATCH_SIZE, epochs=shape.epochs)
    hyperparameters.update(seed=0, training_rows=rows, validation_rows=400)
    write_json(directory / "hyperparameters.json", hyperparameters)


def _shrink_images(directory: Path) -> None:
    """Re-encode the plots as 256-colour PNGs, to keep the repository small."""
    from PIL import Image

    for path in directory.glob("*.png"):
        with Image.open(path) as image:
            palette = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
        palette.save(path, optimize=True)


def build(shape: Shape) -> None:
    """Train, evaluate and write the card of one shape."""
    from cardgen.cli import main

    shape.directory.mkdir(parents=True, exist_ok=True)
    seed = 10 * (list(SHAPES).index(shape.name) + 1)  # different sentences for each sample
    train_rows, labels = _rows(shape, shape.n_train, seed=seed, place_only=shape.place_only)
    eval_rows, _ = _rows(shape, shape.n_eval, seed=seed + 1)
    data_dir = BUILD / shape.name / shape.dataset
    if shape.corpus == "moderation":  # label lists, in a JSONL file
        from cardgen.trust.atomic import write_jsonl

        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir / f"{shape.split}.jsonl"
        write_jsonl(data_dir, eval_rows)
    else:
        _save_dataset(eval_rows, labels, shape.split, data_dir)
    model, history = _train(shape, train_rows, labels)
    if shape.history:
        _write_history(shape, history, len(train_rows))
    evaluate = ["evaluate", "--model", model, "--dataset", str(data_dir), "--split", shape.split]
    evaluate += ["--output-dir", str(shape.directory.relative_to(ROOT)), "--device", "cpu"]
    if shape.probes:
        evaluate += ["--probes", shape.probes]
    if shape.thresholds:
        from cardgen.trust.atomic import write_json

        write_json(BUILD / shape.name / "thresholds.json", shape.thresholds)
        evaluate += ["--threshold", str(BUILD / shape.name / "thresholds.json")]
    if main([*evaluate, *shape.options, "--no-progress"]) != 0:
        raise SystemExit(f"evaluating {shape.name} failed")
    (SAMPLES / f".{shape.name}.lock").unlink(missing_ok=True)  # the run directory's lock
    (shape.directory / "predictions.jsonl").unlink()
    (shape.directory / "probe_fills.jsonl").unlink(missing_ok=True)
    _shrink_images(shape.directory)
    notes_file = BUILD / shape.name / "intended_uses.md"
    notes_file.write_text(notes(shape), encoding="utf-8")
    if main(card_args(shape, notes_file, shape.directory / "README.md")) != 0:
        raise SystemExit(f"rendering the card of {shape.name} failed")


def main(names: list[str]) -> None:
    os.chdir(ROOT)
    BUILD.mkdir(parents=True, exist_ok=True)
    unknown = [name for name in names if name not in SHAPES]
    if unknown:
        raise SystemExit(f"unknown shape(s) {', '.join(unknown)}; shapes: {', '.join(SHAPES)}")
    for name in names or SHAPES:
        print(f"== {name}", flush=True)
        build(SHAPES[name])


if __name__ == "__main__":
    main(sys.argv[1:])
