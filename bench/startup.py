"""Whole-process times: ``cardgen evaluate`` on SST-2 validation against a 10-line
``transformers.pipeline`` script on the same model and rows, and the start-up of ``cardgen
card``, ``gate`` and ``compare`` (goal: under 1.5 s each; they never import torch). Each
command runs ``--repeats`` times in a fresh process; the median wall time is printed.

Model: MiniLM-L6 with a fitted head (``bench/throughput.py``'s), built once into a temporary
directory; ``--model DIR`` uses a checkpoint instead.

    .venv/bin/python bench/startup.py [--repeats 5] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = (
    Path(os.environ.get("CARDGEN_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    / "sst2_validation.jsonl"
)
# the source tree's card template, whichever cardgen.templates this environment installed
TEMPLATE = ["--template", str(Path(__file__).resolve().parents[1] / "templates/model_card.md.j2")]
CLI = "import sys; from cardgen.cli import run; sys.argv[0] = 'cardgen'; run()"
PIPELINE = """
import json, sys
from transformers import pipeline
rows = [json.loads(line) for line in open(sys.argv[2])]
classify = pipeline("text-classification", model=sys.argv[1], device="cpu")
outputs = classify([r["text"] for r in rows], batch_size=32, truncation=True)
correct = sum(o["label"] == r["label"] for o, r in zip(outputs, rows))
print(f"accuracy {correct / len(rows):.4f}")
"""


def median_seconds(
    commands: dict[str, list[str]], repeats: int, env: dict[str, str]
) -> dict[str, float]:
    """The median wall time of each command in fresh processes, the commands taking turns so
    that a change in the machine's load falls on all of them; a failure stops the bench."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            start = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            if done.returncode not in (0, 1):  # gate exits 1 when a rule fails
                sys.exit(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"{DATA} not found")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cardgen = [sys.executable, "-c", CLI]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from throughput import build_classifier

            rows = [json.loads(line) for line in DATA.open()]
            labels = sorted({r["label"] for r in rows})
            gold = [labels.index(r["label"]) for r in rows]
            model = build_classifier([r["text"] for r in rows], gold, labels, Path(tmp) / "m")
        run, other = Path(tmp) / "run", Path(tmp) / "other"
        script = Path(tmp) / "pipeline_script.py"
        script.write_text(PIPELINE)
        evaluate = [*cardgen, "evaluate", "--model", str(model), "--dataset", str(DATA)]
        figures = median_seconds(
            {
                "cardgen evaluate (10,000 bootstrap resamples, plots, results)": [
                    *evaluate,
                    "--output-dir",
                    str(run),
                ],
                "pipeline script (10 lines: load, classify, accuracy)": [
                    sys.executable,
                    str(script),
                    str(model),
                    str(DATA),
                ],
            },
            args.repeats,
            env,
        )
        print(f"median of {args.repeats} runs each, fresh processes:")
        shutil.copytree(run, other)
        commands = {
            "cardgen card": ["card", str(run), "--output", str(Path(tmp) / "README.md"), *TEMPLATE],
            "cardgen gate": ["gate", str(run), "--min", "accuracy=0.5"],
            "cardgen compare": ["compare", str(run), str(other)],
        }
        for name, seconds in figures.items():
            print(f"  {name:64s} {seconds:6.2f} s", flush=True)
        figures = median_seconds(
            {name: [*cardgen, *argv] for name, argv in commands.items()}, args.repeats, env
        )
    for name, seconds in figures.items():
        print(f"  {name:64s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
