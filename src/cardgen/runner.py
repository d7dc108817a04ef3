"""The batching engine for transformers models.

``classify`` is a pure function from (model, tokenizer, texts) to class probabilities, so it can
run on shards elsewhere. It streams: texts are tokenized a chunk at a time into compact integer
arrays, sorted by length within the chunk so batches carry little padding, sized by a token
budget and run under ``inference_mode``; memory stays flat in the number of rows apart from the
(rows x labels) probability array.
"""

from __future__ import annotations

import itertools
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
from .results import PAIR_TRUNCATION

# Automatic batch sizing per device type: (most examples, most padded tokens) per batch. On CPU,
# small batches stay in cache and run faster (bench/throughput.py measured 1-2k tokens best).
AUTO_BATCH = {"cpu": (64, 1024), "cuda": (256, 65536)}
# Rows tokenized and length-sorted together (bench/streaming.py measured padding and speed).
CHUNK_ROWS = 8192


@dataclass
class Encoded:
    """Token ids of a chunk of texts as one flat array with row offsets, extra per-token fields
    (``token_type_ids``) the same way, and how many texts were truncated."""

    ids: NDArray[np.int32]
    offsets: NDArray[np.int64]
    extra: dict[str, NDArray[np.int32]]
    truncated: int

    @property
    def lengths(self) -> NDArray[np.int64]:
        return np.diff(self.offsets)


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


def encode(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    pairs: Sequence[str] | None = None,
) -> Encoded:
    """Tokenize a chunk in one call; re-tokenize only the too-long texts with truncation.

    With ``pairs``, row i is the pair (``texts[i]``, ``pairs[i]``), encoded as the tokenizer
    encodes pairs (separators, ``token_type_ids``); a too-long pair loses tokens from its longer
    side first (``PAIR_TRUNCATION``).
    """
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
    texts = list(texts)
    second = None if pairs is None else list(pairs)
    if second is not None and len(second) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(second)} text pairs")
    full = tokenizer(texts, second, truncation=False, return_attention_mask=False)
    fields = {name: list(values) for name, values in full.items()}
    too_long = [i for i, ids in enumerate(fields["input_ids"]) if len(ids) > max_length]
    if too_long:
        cut = tokenizer(
            [texts[i] for i in too_long],
            None if second is None else [second[i] for i in too_long],
            truncation=True if second is None else PAIR_TRUNCATION,
            max_length=max_length,
            return_attention_mask=False,
        )
        for name, values in fields.items():
            for i, row in zip(too_long, cut[name], strict=True):
                values[i] = row
    rows = fields.pop("input_ids")
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Encoded(
        ids=_flat(rows, int(offsets[-1])),
        offsets=offsets,
        extra={name: _flat(values, int(offsets[-1])) for name, values in fields.items()},
        truncated=len(too_long),
    )


def _flat(rows: list[list[int]], total: int) -> NDArray[np.int32]:
    return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=total)


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
    chunk_rows: int = CHUNK_ROWS,
    text_pairs: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], InferenceStats]:
    """Class probabilities (n, num_labels) in the input order.

    With ``text_pairs`` (as long as ``texts``), each row is the pair (text, text pair).

    ``batch_size`` fixes the batch size; None sizes batches by a per-device token budget.
    ``autocast_dtype`` runs the forward pass under autocast (bf16 on CPU). On CUDA
    out-of-memory the batch is halved and retried.
    """
    device = device or next(model.parameters()).device
    start = time.perf_counter()
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text pairs")
    max_batch, budget = AUTO_BATCH.get(device.type, AUTO_BATCH["cpu"])
    if batch_size is not None:
        max_batch, budget = batch_size, 1 << 62
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float64)
    tokens = padded = truncated = largest = 0
    with tqdm(total=len(texts), unit="ex", disable=not progress, desc="evaluating") as bar:
        for first in range(0, len(texts), chunk_rows):
            chunk = slice(first, first + chunk_rows)
            encoded = encode(
                tokenizer,
                texts[chunk],
                max_length,
                None if text_pairs is None else text_pairs[chunk],
            )
            lengths = encoded.lengths
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
                probs[first + index] = out
                padded += len(index) * int(lengths[index].max())
                largest = max(largest, len(index))
                bar.update(len(index))
            tokens += int(lengths.sum())
            truncated += encoded.truncated
    stats = InferenceStats(
        tokens=tokens,
        padded_tokens=padded,
        truncated=truncated,
        batch_size=largest,
        wall_seconds=time.perf_counter() - start,
    )
    return probs, stats


def padded_batch(tokenizer: Any, encoded: Encoded, index: NDArray[np.int64]) -> dict[str, Any]:
    """Tensors for the rows ``index`` of a chunk, padded as the tokenizer pads (side, id)."""
    starts, lengths = encoded.offsets[index], encoded.lengths[index]
    width = int(lengths.max())
    columns = np.arange(width)
    if getattr(tokenizer, "padding_side", "right") == "left":
        columns = columns - (width - lengths[:, None])
    else:
        columns = np.broadcast_to(columns, (len(index), width))
    mask = (columns >= 0) & (columns < lengths[:, None])
    source = (starts[:, None] + columns)[mask]
    pad_values = {"input_ids": tokenizer.pad_token_id or 0}
    batch = {}
    for name, flat in {"input_ids": encoded.ids, **encoded.extra}.items():
        values = np.full((len(index), width), pad_values.get(name, 0), dtype=np.int64)
        values[mask] = flat[source]
        batch[name] = torch.from_numpy(values)
    if "attention_mask" in tokenizer.model_input_names:
        batch["attention_mask"] = torch.from_numpy(mask.astype(np.int64))
    return batch


def _forward(
    model: Any,
    tokenizer: Any,
    encoded: Encoded,
    index: NDArray[np.int64],
    device: torch.device,
    autocast_dtype: torch.dtype | None,
) -> NDArray[np.float64]:
    batch = padded_batch(tokenizer, encoded, index)
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
