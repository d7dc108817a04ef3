"""The batching engine for transformers models.

``classify`` is a pure function from (model, tokenizer, texts) to class probabilities, so it can
run on shards elsewhere. Speed comes from tokenizing everything in one call, sorting by length
so batches carry little padding, sizing batches by a token budget, and ``inference_mode``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm.auto import tqdm

from .errors import UsageError

# Automatic batch sizing per device type: (most examples, most padded tokens) per batch. On CPU,
# small batches stay in cache and run faster (bench/throughput.py measured 1-2k tokens best).
AUTO_BATCH = {"cpu": (64, 1024), "cuda": (256, 65536)}


@dataclass
class Encoded:
    """Token ids per text (truncated), extra per-token fields, and how many were truncated."""

    input_ids: list[list[int]]
    extra: dict[str, list[list[int]]]
    truncated: int

    @property
    def lengths(self) -> NDArray[np.int64]:
        return np.fromiter(
            (len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self.input_ids)
        )


@dataclass
class InferenceStats:
    tokens: int
    padded_tokens: int
    truncated: int
    batch_size: int
    wall_seconds: float


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when there is a GPU; asking for CUDA without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"device {device!r} requested but no CUDA GPU is available; use --device cpu or auto"
        )
    if resolved.type not in ("cpu", "cuda"):
        raise UsageError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is bf16 (or fp16) on GPU and fp32 on CPU, so CPU numbers are exact by default."""
    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in names:
        raise UsageError(f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16")
    if device.type == "cpu" and dtype == "float16":
        raise UsageError("float16 is not supported on CPU; use --dtype bfloat16 or float32")
    return names[dtype]


def cpu_bf16_features() -> list[str]:
    """The CPU's bf16 matrix features (AMX, AVX512-BF16) from /proc/cpuinfo, Linux only."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = handle.read().split()
    except OSError:
        return []
    return sorted({f for f in flags if f in ("amx_bf16", "amx_tile", "avx512_bf16")})


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> Encoded:
    """Tokenize all texts in one call; re-tokenize only the too-long ones with truncation."""
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
    full = tokenizer(list(texts), truncation=False, return_attention_mask=False)
    fields = {name: list(values) for name, values in full.items()}
    too_long = [i for i, ids in enumerate(fields["input_ids"]) if len(ids) > max_length]
    if too_long:
        cut = tokenizer(
            [texts[i] for i in too_long],
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
        )
        for name, values in fields.items():
            for i, row in zip(too_long, cut[name], strict=True):
                values[i] = row
    input_ids = fields.pop("input_ids")
    return Encoded(input_ids=input_ids, extra=fields, truncated=len(too_long))


def length_sorted_batches(
    lengths: NDArray[np.int64], *, max_batch: int, token_budget: int
) -> list[NDArray[np.int64]]:
    """Index batches, longest first, each holding at most ``token_budget`` padded tokens."""
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = int(lengths[order[start]])
        size = max(1, min(max_batch, token_budget // max(longest, 1)))
        batches.append(order[start : start + size])
        start += size
    return batches


def classify(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int | None = None,
    device: torch.device | None = None,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> tuple[NDArray[np.float64], InferenceStats]:
    """Class probabilities (n, num_labels) in the input order.

    ``batch_size`` fixes the batch size; None sizes batches by a per-device token budget.
    ``autocast_dtype`` runs the forward pass under autocast (bf16 on CPU). On CUDA
    out-of-memory the batch is halved and retried.
    """
    device = device or next(model.parameters()).device
    start = time.perf_counter()
    encoded = encode(tokenizer, texts, max_length)
    lengths = encoded.lengths
    max_batch, budget = AUTO_BATCH.get(device.type, AUTO_BATCH["cpu"])
    if batch_size is not None:
        max_batch, budget = batch_size, 1 << 62
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float64)
    padded = 0
    largest = 0
    with tqdm(total=len(texts), unit="ex", disable=not progress, desc="evaluating") as bar:
        pending = list(length_sorted_batches(lengths, max_batch=max_batch, token_budget=budget))
        while pending:
            index = pending.pop(0)
            try:
                out = _forward(model, tokenizer, encoded, index, device, autocast_dtype)
            except torch.cuda.OutOfMemoryError:
                if len(index) == 1:
                    raise
                torch.cuda.empty_cache()
                half = len(index) // 2
                pending[:0] = [index[:half], index[half:]]
                continue
            probs[index] = out
            padded += len(index) * int(lengths[index].max())
            largest = max(largest, len(index))
            bar.update(len(index))
    stats = InferenceStats(
        tokens=int(lengths.sum()),
        padded_tokens=padded,
        truncated=encoded.truncated,
        batch_size=largest,
        wall_seconds=time.perf_counter() - start,
    )
    return probs, stats


def _forward(
    model: Any,
    tokenizer: Any,
    encoded: Encoded,
    index: NDArray[np.int64],
    device: torch.device,
    autocast_dtype: torch.dtype | None,
) -> NDArray[np.float64]:
    features = {"input_ids": [encoded.input_ids[i] for i in index]}
    for name, values in encoded.extra.items():
        features[name] = [values[i] for i in index]
    batch = tokenizer.pad(features, return_tensors="pt")
    if device.type == "cuda":
        batch = {
            name: tensor.pin_memory().to(device, non_blocking=True)
            for name, tensor in batch.items()
        }
    with torch.inference_mode(), _autocast(device, autocast_dtype):
        logits = model(**batch).logits
    return torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float64)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)
