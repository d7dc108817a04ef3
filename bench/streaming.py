"""Peak memory and wall time of `cardgen evaluate` as rows grow, and the chunk-size trade-off.

A tiny 4-label DistilBERT (trained here on a few AG News rows, so that inference is cheap and
cardgen's own costs show) evaluates AG News test rows repeated to each size. Every run is a
fresh `cardgen evaluate` process; its peak RSS comes from the kernel (``ru_maxrss``).

    python bench/streaming.py [--rows 7600,205200,1000000] [--chunks]

Needs ../shared/data/agnews_test.jsonl.
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "agnews_test.jsonl"
LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def build_model(directory: Path) -> Path:
    from cardgen.demo.synthetic import train_tiny_distilbert

    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")][:2000]
    rows = [{**row, "text": row["text"][:100]} for row in rows]
    return train_tiny_distilbert(rows, LABELS, directory / "model", dim=32, epochs=1)


def write_rows(path: Path, n: int) -> Path:
    lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(lines[i % len(lines)])
    return path


def run(model: Path, data: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one `cardgen evaluate` child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "cardgen"),
            "evaluate",
            "--model",
            str(model),
            "--dataset",
            str(data),
            "--output-dir",
            str(out),
            "--no-progress",
            "--bootstrap",
            "200",
            "--device",
            "cpu",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        print("(peak RSS not above an earlier child's; run sizes in increasing order)")
    return wall, peak / 2**20


def chunk_sizes(model: Path, data: Path) -> None:
    """Padding and speed of the engine alone for several chunk sizes."""
    from cardgen.data.load import load_data
    from cardgen.models import load_model

    texts = load_data(data).texts
    classifier = load_model(model, device="cpu")
    print("| chunk rows | padding | rows/s |\n|---|---|---|")
    for chunk in (256, 1024, 4096, 8192, 32768):
        import cardgen.models.runner

        cardgen.models.runner.CHUNK_ROWS = chunk
        start = time.perf_counter()
        _, stats = cardgen.models.runner.classify(
            classifier.model,
            classifier.tokenizer,
            texts,
            max_length=classifier.max_length,
            chunk_rows=chunk,
        )
        seconds = time.perf_counter() - start
        padding = 1 - stats.tokens / stats.padded_tokens
        print(f"| {chunk} | {padding:.1%} | {len(texts) / seconds:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="7600,205200,1000000")
    parser.add_argument("--chunks", action="store_true", help="measure chunk sizes instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_model(root)
        if args.chunks:
            chunk_sizes(model, write_rows(root / "d.jsonl", 30400))
            return
        print("| rows | wall | peak RSS |\n|---|---|---|")
        for n in (int(v) for v in args.rows.split(",")):
            data = write_rows(root / f"d{n}.jsonl", n)
            wall, peak = run(model, data, root / f"run{n}")
            print(f"| {n:,} | {wall:.1f} s | {peak:.2f} GB |", flush=True)
            data.unlink()


if __name__ == "__main__":
    main()
