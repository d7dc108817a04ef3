"""Peak memory and wall time of `cardgen gate` on two runs of many rows.

Builds two synthetic 3-label runs of the same dataset (``results.json`` from
``cardgen.tasks.metrics.compute_metrics``, ``predictions.jsonl`` written line by line as
``cardgen evaluate`` writes it), the current run a little worse than the baseline, then runs

    cardgen gate NEW --baseline OLD --max-drop accuracy=0.01 --max-drop macro_f1=0.01

in a fresh process and prints its wall time and peak RSS (the kernel's ``ru_maxrss``).

    python bench/gate_memory.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cardgen.results.schema import (
    PREDICTIONS_FILE,
    DatasetInfo,
    EvalResults,
    LabelMapping,
    ModelInfo,
)
from cardgen.tasks.metrics import compute_metrics

LABELS = ["negative", "neutral", "positive"]
FINGERPRINT = "sha256:" + "b" * 64


def write_run(directory: Path, gold: np.ndarray, predicted: np.ndarray, seed: int) -> Path:
    """A run directory whose results and predictions agree, as `cardgen evaluate` writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    n, k = len(gold), len(LABELS)
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet(np.ones(k), n).astype(np.float32)
    scores[np.arange(n), predicted] += 1.0
    scores /= scores.sum(axis=1, keepdims=True)
    report = compute_metrics(gold, predicted, LABELS, scores=scores, n_bootstrap=0)
    results = EvalResults(
        model=ModelInfo(id=f"bench/model-{seed}", framework="test", labels=LABELS),
        dataset=DatasetInfo(
            source="bench.jsonl",
            split=None,
            num_rows=n,
            fingerprint=FINGERPRINT,
            text_column="text",
            label_column="label",
            labels=LABELS,
        ),
        label_mapping=LabelMapping("name", {label: label for label in LABELS}),
        labels=LABELS,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=None,
        environment={},
        seed=seed,
        created_at="2026-01-01T00:00:00+00:00",
        cardgen_version="0.1.0",
        files={"predictions": PREDICTIONS_FILE},
    )
    with (directory / PREDICTIONS_FILE).open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {
                "index": i,
                "gold": LABELS[gold[i]],
                "predicted": LABELS[predicted[i]],
                "probabilities": {
                    label: round(float(s), 7) for label, s in zip(LABELS, scores[i], strict=True)
                },
            }
            handle.write(json.dumps(row) + "\n")
    results.save(directory)
    return directory


def build_runs(folder: Path, n: int) -> tuple[Path, Path]:
    """Baseline right on 90% of rows; the current run wrong on 1.5% more of them."""
    rng = np.random.default_rng(0)
    gold = rng.integers(0, len(LABELS), n)
    base = np.where(rng.random(n) < 0.9, gold, (gold + 1) % len(LABELS))
    cur = np.where(rng.random(n) < 0.015, (gold + 2) % len(LABELS), base)
    return write_run(folder / "new", gold, cur, 1), write_run(folder / "main", gold, base, 2)


def gate(new: Path, old: Path) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MB), exit code and output of one `cardgen gate` process."""
    command = [
        str(Path(sys.executable).parent / "cardgen"),
        "gate",
        str(new),
        "--baseline",
        str(old),
        "--max-drop",
        "accuracy=0.01",
        "--max-drop",
        "macro_f1=0.01",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux
    return seconds, peak_kb / 1024, done.returncode, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the runs here (reused if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        new, old = folder / "new", folder / "main"
        if not (new / "results.json").is_file() or not (old / "results.json").is_file():
            start = time.perf_counter()
            new, old = build_runs(folder, args.rows)
            print(f"built two runs of {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
        seconds, peak_mb, code, output = gate(new, old)
    print(output.rstrip())
    print(f"rows {args.rows:,}: exit {code}, wall {seconds:.2f} s, peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
