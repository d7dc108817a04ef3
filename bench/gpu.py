"""cardgen's engine on a GPU in fp32, fp16 and bf16 against ``transformers.pipeline``.

Model: a DistilBERT-base-shaped classifier (6 layers, 768 wide, 2 labels) with seeded random
weights built from a config, and a WordPiece tokenizer trained here on the texts, so nothing
is downloaded (``--model DIR`` benchmarks a real fine-tuned checkpoint instead). Texts: IMDb-
review-length documents (log-normal word counts, median 175, mean about 230) made by
concatenating SST-2 and AG News texts from ``../shared/data`` (or ``$CARDGEN_BENCH_DATA``) when
present, else cardgen's synthetic review sentences. Prints examples/s, label agreement with
fp32, peak GPU memory and the goal check for fp32, fp16, bf16 and ``auto`` (exact-fast: bf16,
then fp32 for the rows near a tie, whose labels must all agree with fp32's; rows rechecked);
``bench/gpu.sh`` runs it on a GPU machine.

    python bench/gpu.py                       # 25,000 texts on the GPU
    python bench/gpu.py --quick --device cpu  # a CPU smoke check on 300 texts
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardgen.models import load_model
from cardgen.models.runner import CHUNK_ROWS, encode

DATA = Path(
    os.environ.get("CARDGEN_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared/data")
)
FILES = ("sst2_validation.jsonl", "agnews_test.jsonl")
GOAL = {"rows": 25_000, "seconds": 5.0, "agreement": 0.999, "speedup": 3.0}
LABELS = ["negative", "positive"]


def review_texts(rows: int, seed: int = 0) -> tuple[list[str], str]:
    """``rows`` documents of IMDb-review length, and where their sentences came from."""
    rng = random.Random(seed)
    files = [DATA / name for name in FILES if (DATA / name).is_file()]
    if files:
        pool = [json.loads(line)["text"] for f in files for line in f.open(encoding="utf-8")]
        source = f"SST-2 + AG News texts from {DATA}"
    else:
        from cardgen.demo.synthetic import sentiment_corpus

        pool = [row["text"] for row in sentiment_corpus(5000, seed=seed)]
        source = "cardgen's synthetic review sentences (no data directory found)"
    texts = []
    for _ in range(rows):
        target = min(2500, max(10, int(rng.lognormvariate(np.log(175), 0.74))))
        words: list[str] = []
        while len(words) < target:
            words.extend(rng.choice(pool).split())
        texts.append(" ".join(words[:target]))
    return texts, source


def build_model(texts: list[str], out: Path, *, small: bool = False) -> Path:
    """A seeded random DistilBERT-base classifier (``small``: 2 layers, 128 wide) with a
    WordPiece vocabulary trained on these texts."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import (
        AutoModelForSequenceClassification,
        DistilBertConfig,
        PreTrainedTokenizerFast,
    )

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(texts[:5000], vocab_size=30522, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece._tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    torch.manual_seed(0)
    shape = {"n_layers": 2, "dim": 128, "hidden_dim": 512, "n_heads": 2} if small else {}
    config = DistilBertConfig(
        **shape,
        vocab_size=len(tokenizer),
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def timed(device: torch.device, run: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    """Probabilities, seconds and peak GPU memory (GiB; NaN on CPU) of ``run()``."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    probs = run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return probs, seconds, peak


RECHECKED: dict[str, int] = {}
"""Rows the last exact-fast run rechecked in fp32."""


def cardgen_run(model_dir: Path, texts: list[str], device: torch.device, dtype: str) -> Any:
    classifier = load_model(model_dir, device=str(device), dtype=dtype)
    classifier.predict_scores(texts[:256])  # warm-up: kernels, allocator, autotuning

    def run() -> np.ndarray:
        probs, stats = classifier.predict_scores(texts)
        RECHECKED[stats.dtype] = stats.rechecked or 0
        return probs

    return run


def pipeline_run(model_dir: Path, texts: list[str], device: torch.device, dtype: str) -> Any:
    from transformers import AutoConfig, pipeline

    config = AutoConfig.from_pretrained(model_dir)
    labels = [config.id2label[i] for i in range(config.num_labels)]

    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    classify = pipeline(
        "text-classification", model=str(model_dir), device=device, dtype=names[dtype], top_k=None
    )
    classify(texts[:64], batch_size=32, truncation=True)

    def run() -> np.ndarray:
        outputs = classify(texts, batch_size=32, truncation=True)
        probs = np.zeros((len(texts), len(labels)))
        for i, scores in enumerate(outputs):
            for item in scores:
                probs[i, labels.index(item["label"])] = item["score"]
        return probs

    return run


def agreement(probs: np.ndarray, reference: np.ndarray | None) -> str:
    """Label agreement with cardgen's fp32 run, overall and where its top-two margin is over
    0.01 (a random model has near ties that a fine-tuned one rarely has)."""
    if reference is None:
        return "reference"
    same = probs.argmax(1) == reference.argmax(1)
    top2 = np.sort(reference, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 0.01
    return (
        f"agree {same.mean():8.4%} ({same[clear].mean() if clear.any() else float('nan'):.4%} "
        f"margin>0.01) max|dp| {np.abs(probs - reference).max():.1e}"
    )


def recheck_note(engine: str, dtype: str, rows: int) -> str:
    """The rows an exact-fast (``auto``) run rechecked in fp32, for cardgen's auto row."""
    if engine != "cardgen" or dtype != "auto":
        return ""
    name, count = next(((k, v) for k, v in RECHECKED.items() if "recheck" in k), ("", 0))
    return f" | {name or 'no recheck (fp32)'}: {count:,} rechecked ({count / rows:.2%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="default: 25,000 (--quick: 300)")
    parser.add_argument(
        "--quick", action="store_true", help="300 rows and a 2-layer model (a smoke check)"
    )
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16", "bfloat16", "auto"])
    parser.add_argument("--pipeline-rows", type=int, default=None, help="default: --rows")
    parser.add_argument("--model", type=Path, default=None, help="a fine-tuned checkpoint")
    args = parser.parse_args()
    rows = args.rows or (300 if args.quick else GOAL["rows"])
    device = torch.device(
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    dtypes = [d for d in args.dtypes if not (device.type == "cpu" and d == "float16")]
    texts, source = review_texts(rows)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}); torch {torch.__version__}; {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model_dir = args.model or build_model(texts, Path(tmp) / "model", small=args.quick)
        print(f"model {model_dir} ready in {time.perf_counter() - start:.1f} s")
        classifier = load_model(model_dir, device="cpu")
        tokenizer, max_length = classifier.tokenizer, classifier.max_length  # type: ignore[attr-defined]
        start = time.perf_counter()
        lengths = np.concatenate(
            [
                encode(tokenizer, texts[i : i + CHUNK_ROWS], max_length).lengths
                for i in range(0, rows, CHUNK_ROWS)
            ]
        )
        tokenize = time.perf_counter() - start
        words = np.mean([len(t.split()) for t in texts])
        print(
            f"{rows:,} texts from {source}: {words:.0f} words and {lengths.mean():.0f} tokens "
            f"on average, {np.mean(lengths >= max_length):.1%} truncated at {max_length}; "
            f"cardgen tokenizes them in {tokenize:.2f} s ({rows / tokenize:,.0f} ex/s)"
        )
        pipe_texts = texts[: args.pipeline_rows or rows]
        results: dict[tuple[str, str], tuple[float, np.ndarray]] = {}
        for engine, make, batch in (
            ("cardgen", cardgen_run, texts),
            ("pipeline", pipeline_run, pipe_texts),
        ):
            for dtype in dtypes if engine == "cardgen" else [d for d in dtypes if d != "auto"]:
                probs, seconds, peak = timed(device, make(model_dir, batch, device, dtype))
                reference = results.get(("cardgen", "float32"), (0.0, None))[1]
                if reference is not None:
                    reference = reference[: len(batch)]
                results[engine, dtype] = (len(batch) / seconds, probs)
                print(
                    f"{engine:8s} {dtype:8s}: {len(batch) / seconds:9,.0f} ex/s "
                    f"({len(batch):,} in {seconds:6.2f} s) | peak GPU {peak:6.2f} GiB | "
                    f"{agreement(probs, reference)}{recheck_note(engine, dtype, len(batch))}",
                    flush=True,
                )
    verdict(results, rows)


def verdict(results: dict[tuple[str, str], tuple[float, np.ndarray]], rows: int) -> None:
    """The goal line: 25,000 reviews in < 5 s in bf16, >= 99.9% agreement, >= 3x pipeline."""
    if ("cardgen", "bfloat16") not in results or ("cardgen", "float32") not in results:
        return
    rate, probs = results["cardgen", "bfloat16"]
    agree = float((probs.argmax(1) == results["cardgen", "float32"][1].argmax(1)).mean())
    pipe = max((r for (engine, _), (r, _) in results.items() if engine == "pipeline"), default=0)
    checks = {
        f"{GOAL['rows']:,} texts in < {GOAL['seconds']:.0f} s": GOAL["rows"] / rate,
        f">= {GOAL['agreement']:.1%} label agreement": agree,
        f">= {GOAL['speedup']:.0f}x the fastest pipeline": rate / pipe if pipe else float("nan"),
    }
    passed = [
        GOAL["rows"] / rate < GOAL["seconds"],
        agree >= GOAL["agreement"],
        bool(pipe) and rate / pipe >= GOAL["speedup"],
    ]
    if ("cardgen", "auto") in results:
        fast_rate, fast = results["cardgen", "auto"]
        exact = float((fast.argmax(1) == results["cardgen", "float32"][1].argmax(1)).mean())
        checks[f"exact-fast 100% label agreement ({fast_rate / rate:.0%} of bf16's speed)"] = exact
        passed.append(exact == 1.0)
    print(f"goal (bf16, measured on {rows:,} rows, time scaled to {GOAL['rows']:,}):")
    for (name, value), ok in zip(checks.items(), passed, strict=True):
        print(f"  {'PASS' if ok else 'FAIL'} {name}: {value:.4g}")


if __name__ == "__main__":
    main()
