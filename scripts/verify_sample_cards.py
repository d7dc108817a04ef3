"""Verify each sample card against its own model: every claim must come out consistent.

`cardgen verify` re-runs each sample model (from build/sample-cards/, where
scripts/build_sample_cards.py leaves the models it trains; the skops pipeline is committed in
sample_cards/) on the sample's evaluation split and judges the claims of
sample_cards/<shape>/README.md. The evaluation sets are regenerated from their seeds when
build/ lacks them; a model that is not there is reported, so run build_sample_cards.py first.

    .venv/bin/python scripts/verify_sample_cards.py            # every shape
    .venv/bin/python scripts/verify_sample_cards.py imdb-like  # some of them

Exits 0 when every claim of every verified card is consistent, 1 otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "build_sample_cards", ROOT / "scripts" / "build_sample_cards.py"
)
assert _spec is not None and _spec.loader is not None
samples = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = samples  # dataclasses look their module up there
_spec.loader.exec_module(samples)


def evaluation_data(shape: samples.Shape, build: Path) -> Path:
    """The evaluation rows of ``shape`` as the build script writes them (regenerated from the
    same seed when ``build`` lacks them)."""
    seed = 10 * (list(samples.SHAPES).index(shape.name) + 1)
    folder = build / shape.name / shape.dataset
    if shape.corpus == "moderation":
        path = folder / f"{shape.split}.jsonl"
        if not path.exists():
            from cardgen.trust.atomic import write_jsonl

            folder.mkdir(parents=True, exist_ok=True)
            write_jsonl(path, samples._rows(shape, shape.n_eval, seed=seed + 1)[0])
        return path
    if not folder.exists():
        rows, labels = samples._rows(shape, shape.n_eval, seed=seed + 1)
        samples._save_dataset(rows, labels, shape.split, folder)
    return folder


def model_path(shape: samples.Shape, build: Path) -> Path:
    """Where the build script leaves the model of ``shape``."""
    if shape.sklearn:
        return shape.directory / "pipeline.skops"
    return build / shape.name / shape.model_name.split("/")[-1]


def claimed_datasets(shape: samples.Shape) -> list[str]:
    """The dataset ids the sample card's claims name (a card of a local file names the file's
    dataset as cardgen did: ``test`` for ``test.jsonl``)."""
    from cardgen.verify import read_claims

    return sorted({claim.dataset for claim in read_claims(shape.directory / "README.md")})


def verify_args(shape: samples.Shape, build: Path, output_dir: Path) -> list[str]:
    """The ``cardgen verify`` command line of one sample."""
    args = ["verify", "--model", str(model_path(shape, build))]
    args += ["--card", str(shape.directory / "README.md")]
    data = evaluation_data(shape, build)
    for dataset in claimed_datasets(shape):
        args += ["--dataset", f"{dataset}={data}"]
    args += ["--output-dir", str(output_dir / shape.name), "--device", "cpu"]
    if shape.thresholds:
        thresholds = output_dir / f"{shape.name}-thresholds.json"
        thresholds.parent.mkdir(parents=True, exist_ok=True)
        thresholds.write_text(json.dumps(shape.thresholds), encoding="utf-8")
        args += ["--threshold", str(thresholds)]
    return args


def main(names: list[str]) -> int:
    from cardgen.cli import main as cardgen

    build = ROOT / samples.BUILD
    unknown = [name for name in names if name not in samples.SHAPES]
    if unknown:
        shapes = ", ".join(samples.SHAPES)
        raise SystemExit(f"unknown shape(s) {', '.join(unknown)}; shapes: {shapes}")
    failed = []
    for name in names or samples.SHAPES:
        shape = samples.SHAPES[name]
        print(f"== {name}", flush=True)
        if not model_path(shape, build).exists():
            print(f"no model at {model_path(shape, build)}: run build_sample_cards.py {name}")
            failed.append(name)
            continue
        output = ROOT / "build" / "verify-samples"
        if cardgen(verify_args(shape, build, output)) not in (0, 1):
            failed.append(name)
            continue
        report = json.loads((output / name / "verification.json").read_text(encoding="utf-8"))
        if report["summary"]["consistent"] != len(report["claims"]):
            failed.append(name)
    print(f"not verified or not consistent: {', '.join(failed)}" if failed else "all consistent")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
