"""The batching engine for transformers models.

``classify`` is a pure function from (model, tokenizer, texts) to class probabilities, so it can
run on shards elsewhere. It streams: texts are tokenized a chunk at a time into compact integer
arrays, sorted by length within the chunk so batches carry little padding, sized by a token
budget and run under ``inference_mode``; memory stays flat in the number of rows apart from the
(rows x labels) probability array.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from cardgen.errors import ModelError, UsageError
from cardgen.models._long_texts import cut_long
from cardgen.models._progress import RowProgress
from cardgen.models.precision import RECHECK_SUFFIX
from cardgen.results.schema import PAIR_TRUNCATION

# Automatic batch sizing per device type: (most examples, most padded tokens) per batch. On CPU,
# small batches stay in cache and run faster (bench/throughput.py measured 1-2k tokens best).
AUTO_BATCH = {"cpu": (64, 1024), "cuda": (256, 65536)}
# Rows tokenized and length-sorted together (bench/streaming.py measured padding and speed).
CHUNK_ROWS = 8192


@dataclass
class Encoded:
    """Token ids of a chunk of texts as one flat array with row offsets, extra per-token fields
    (``token_type_ids``) the same way, and how many texts were truncated. ``full_lengths``
    are the token counts before truncation."""

    ids: NDArray[np.int32]
    offsets: NDArray[np.int64]
    extra: dict[str, NDArray[np.int32]]
    truncated: int
    full_lengths: NDArray[np.int64]

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
    input_lengths: NDArray[np.int64] | None = None
    """Tokens of each input before truncation, in input order."""


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


@dataclass(frozen=True)
class Precision:
    """How a model runs: in ``dtype``, and with ``recheck``, re-running in float32 the rows
    whose decision ``dtype`` may have got wrong (``cardgen.models.precision``)."""

    dtype: torch.dtype
    recheck: bool = False

    @property
    def name(self) -> str:
        """As results record it: ``float32``, ``bfloat16``, ``bfloat16+float32-recheck``."""
        name = str(self.dtype).removeprefix("torch.")
        return name + RECHECK_SUFFIX if self.recheck else name


def resolve_precision(dtype: str, device: torch.device) -> Precision:
    """``auto`` is exact-fast where the hardware runs half precision natively: bf16 (fp16 on a
    GPU without bf16) with a float32 recheck on CUDA and on a CPU with AMX or AVX512-BF16;
    float32 on other CPUs. A named dtype runs as it is, without a recheck."""
    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    native_bf16 = device.type == "cpu" and bool(
        {"amx_bf16", "avx512_bf16"} & set(cpu_bf16_features())
    )
    if dtype == "auto":
        if device.type == "cuda":
            half = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return Precision(half, recheck=True)
        return Precision(torch.bfloat16, recheck=True) if native_bf16 else Precision(torch.float32)
    if dtype not in names:
        raise UsageError(f"unknown dtype {dtype!r}; use auto, float32, float16 or bfloat16")
    if device.type == "cpu" and dtype == "float16":
        raise UsageError("float16 is not supported on CPU; use --dtype bfloat16 or float32")
    if device.type == "cpu" and dtype == "bfloat16" and not native_bf16:
        warnings.warn(
            "bfloat16 on a CPU without AMX or AVX512-BF16 is emulated and slow; "
            "the default float32 is faster here",
            stacklevel=3,
        )
    return Precision(names[dtype])


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
    left_out = np.zeros(len(texts), dtype=np.int64)
    if second is None:  # a pair's truncation depends on which side is longer: not cut
        texts, left_out = cut_long(tokenizer, texts, max_length)
    full = tokenizer(texts, second, truncation=False, return_attention_mask=False)
    fields = {name: list(values) for name, values in full.items()}
    full_lengths = np.fromiter(map(len, fields["input_ids"]), np.int64, len(texts)) + left_out
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
        full_lengths=full_lengths,
    )


def check_room(tokenizer: Any, max_length: int, *, pairs: bool) -> None:
    """UsageError when ``max_length`` holds no more than the special tokens the tokenizer adds:
    the tokenizer then leaves the input uncut, and the model would see past the limit."""
    count = getattr(tokenizer, "num_special_tokens_to_add", None)
    specials = count(pair=pairs) if callable(count) else 0
    if max_length <= specials:
        kind = "sentence pair" if pairs else "text"
        raise UsageError(
            f"--max-length {max_length} leaves no room for text: the model's tokenizer adds "
            f"{specials} special tokens to each {kind}; pass --max-length {specials + 1} or more"
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
    multi_label: bool = False,
) -> tuple[NDArray[np.float64], InferenceStats]:
    """Class probabilities (n, num_labels) in the input order.

    With ``text_pairs`` (as long as ``texts``), each row is the pair (text, text pair).
    ``multi_label`` gives each label's sigmoid probability instead of the softmax.

    ``batch_size`` fixes the batch size; None sizes batches by a per-device token budget.
    ``autocast_dtype`` runs the forward pass under autocast (bf16 on CPU). A batch that runs
    out of memory is halved and retried, and later batches hold at most half its padded
    tokens; a single text that does not fit is a ModelError.
    """
    device = device or next(model.parameters()).device
    start = time.perf_counter()
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text pairs")
    check_room(tokenizer, max_length, pairs=text_pairs is not None)
    max_batch, budget = AUTO_BATCH.get(device.type, AUTO_BATCH["cpu"])
    if batch_size is not None:
        max_batch, budget = batch_size, 1 << 62
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float64)
    tokens = padded = truncated = largest = 0
    token_cap = 1 << 62  # the most padded tokens per batch; lowered after an out-of-memory
    input_lengths = np.zeros(len(texts), dtype=np.int64)
    with RowProgress(len(texts), desc="evaluating", enabled=progress) as bar:
        ahead = device.type == "cuda"  # on CPU the tokenizer would take the model's cores
        for first, encoded in _encoded_chunks(
            tokenizer, texts, text_pairs, max_length, chunk_rows, ahead=ahead
        ):
            chunk = slice(first, first + chunk_rows)
            lengths = encoded.lengths
            input_lengths[chunk] = encoded.full_lengths
            pending = list(length_sorted_batches(lengths, max_batch=max_batch, token_budget=budget))
            bar.chunk(len(lengths), sum(len(i) * int(lengths[i].max()) for i in pending))
            done: list[tuple[NDArray[np.int64], torch.Tensor]] = []
            while pending:
                index = pending.pop(0)
                width = int(lengths[index].max())
                if len(index) > 1 and len(index) * width > token_cap:
                    pending[:0] = _halves(index)
                    continue
                try:
                    out = _forward(
                        model, tokenizer, encoded, index, device, autocast_dtype, multi_label
                    )
                except torch.OutOfMemoryError:
                    out = None
                if out is None:  # outside the except block, so the failed batch is freed
                    token_cap = _after_out_of_memory(index, width, device)
                    pending[:0] = _halves(index)
                    continue
                done.append((index, out))
                padded += len(index) * width
                largest = max(largest, len(index))
                bar.advance(len(index), len(index) * width)
            for index, out in done:  # one device sync per chunk, not one per batch
                probs[first + index] = out.cpu().numpy()
            tokens += int(lengths.sum())
            truncated += encoded.truncated
    stats = InferenceStats(
        tokens=tokens,
        padded_tokens=padded,
        truncated=truncated,
        batch_size=largest,
        wall_seconds=time.perf_counter() - start,
        input_lengths=input_lengths,
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
    multi_label: bool = False,
) -> torch.Tensor:
    """Probabilities of the rows ``index`` as a float32 tensor, left on ``device``."""
    batch = padded_batch(tokenizer, encoded, index)
    if device.type == "cuda":  # pinned host memory lets the copy overlap the GPU's work
        batch = {
            name: tensor.pin_memory().to(device, non_blocking=True)
            for name, tensor in batch.items()
        }
    with torch.inference_mode(), _autocast(device, autocast_dtype):
        logits = model(**batch).logits
    if multi_label:
        return torch.sigmoid(logits.float())
    return torch.softmax(logits.float(), dim=-1)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _encoded_chunks(
    tokenizer: Any,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    max_length: int,
    chunk_rows: int,
    *,
    ahead: bool,
) -> Iterator[tuple[int, Encoded]]:
    """(first row, encoded chunk) in order; with ``ahead``, a thread tokenizes the next chunk
    while the caller runs this one (the tokenizer releases the GIL; the GPU works meanwhile)."""

    def encode_chunk(first: int) -> Encoded:
        chunk = slice(first, first + chunk_rows)
        pairs = None if text_pairs is None else text_pairs[chunk]
        return encode(tokenizer, texts[chunk], max_length, pairs)

    starts = range(0, len(texts), chunk_rows)
    if not ahead:
        yield from ((first, encode_chunk(first)) for first in starts)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        queued: deque[tuple[int, Future[Encoded]]] = deque()
        for first in starts:
            queued.append((first, pool.submit(encode_chunk, first)))
            if len(queued) == 2:
                done_first, future = queued.popleft()
                yield done_first, future.result()
        for done_first, future in queued:
            yield done_first, future.result()


def _halves(index: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    half = len(index) // 2
    return [index[:half], index[half:]]


def _after_out_of_memory(index: NDArray[np.int64], width: int, device: torch.device) -> int:
    """The padded-token cap for later batches after ``index`` ran out of memory: half of it.

    Called outside the ``except`` block, so the failed batch's tensors are already freed.
    """
    if len(index) == 1:
        raise ModelError(
            f"{device} ran out of memory on a single text of {width:,} tokens; free the "
            "GPU's memory (other processes), lower --max-length, pass --dtype bfloat16 or "
            "float16, or run on --device cpu"
        )
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return len(index) * width // 2
