"""What slices and error analysis add to an AG-News-size run (7,600 rows, 4 labels).

The analysis runs on predictions already in memory, so this bench feeds it synthetic
predictions (seeded, about 90% accurate, with probabilities) for the real AG News test texts,
sliced by a real attribute of the rows: the news agency that opens the text (AP, Reuters, AFP,
other). Token lengths are synthetic (words x 1.3); the truncation slice uses max_length 128.

    .venv/bin/python bench/analysis.py [--data /work/shared/data/agnews_test.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import numpy as np

from cardgen.analysis import AnalysisOptions, analyse

AGENCY = re.compile(r"^\s*\(?(AP|AFP|Reuters|REUTERS)\b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/agnews_test.jsonl"))
    parser.add_argument("--bootstrap", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    labels = sorted({row["label"] for row in rows})
    y_true = np.array([labels.index(row["label"]) for row in rows])
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(rows), len(labels)))
    logits[np.arange(len(rows)), y_true] += 3.0
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_pred = scores.argmax(axis=1)
    agency = [
        m.group(1).replace("REUTERS", "Reuters") if (m := AGENCY.match(t)) else "other"
        for t in texts
    ]
    lengths = np.array([int(len(t.split()) * 1.3) for t in texts])
    options = AnalysisOptions(slice_by=("agency",))

    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        analysis = analyse(
            y_true,
            y_pred,
            scores,
            labels,
            texts=texts,
            text_pairs=None,
            columns={"agency": agency},
            input_lengths=lengths,
            max_length=128,
            score_kind="probability",
            options=options,
            n_bootstrap=args.bootstrap,
            seed=0,
        )
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    extra = [analysis.row(i) for i in range(len(rows))]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in extra)
    rows_seconds = time.perf_counter() - start

    from cardgen.analysis.plots import slices_figure
    from cardgen.display.plots import confusion_matrix_figure, save_figure
    from cardgen.results.schema import ConfusionMatrix

    # evaluate has drawn the confusion matrix by then: matplotlib is imported and warm
    warm = ConfusionMatrix(labels, [[1] * len(labels)] * len(labels))
    save_figure(confusion_matrix_figure(warm), Path("/tmp/cardgen_bench_warm.png"))
    start = time.perf_counter()
    figure = slices_figure(list(analysis.slices.values()), overall=float((y_true == y_pred).mean()))
    save_figure(figure, Path("/tmp/cardgen_bench_slices.png"))
    plot_seconds = time.perf_counter() - start

    print(f"{len(rows):,} rows, {len(labels)} labels, {args.bootstrap:,} bootstrap resamples")
    for name, result in analysis.slices.items():
        print(f"  slice {name}: {', '.join(f'{v.value}={v.rows}' for v in result.values)}")
    issues = analysis.failures.label_issues
    print(f"  errors {analysis.failures.errors:,}, label issue candidates {issues.count:,}")
    print(
        f"analyse (slices + error analysis): median {statistics.median(timings):.3f} s, "
        f"best {min(timings):.3f} s over {args.repeat} runs"
    )
    print(
        f"predictions.jsonl extras for {len(extra):,} rows ({len(text) / 1e6:.1f} MB as JSON): "
        f"{rows_seconds:.3f} s"
    )
    print(f"slice plot (draw + PNG): {plot_seconds:.3f} s")
    total = statistics.median(timings) + rows_seconds + plot_seconds
    print(f"added to an evaluate run with an output directory: {total:.3f} s")


if __name__ == "__main__":
    main()
