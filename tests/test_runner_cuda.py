"""The runner's CUDA paths, faked on CPU: dtype choice, out-of-memory halving, pinned transfers.

The fakes stand in for the CUDA calls only (``torch.cuda.*``, ``Tensor.pin_memory``, moving a
tensor to a CUDA device); the model itself runs on CPU, so its answers are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cardgen.errors import ModelError, UsageError
from cardgen.models import runner
from cardgen.models.runner import Precision, classify, resolve_device, resolve_precision

CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return (
        AutoModelForSequenceClassification.from_pretrained(tiny_model).eval(),
        AutoTokenizer.from_pretrained(tiny_model),
    )


@pytest.fixture
def texts(sentiment_rows: list[dict]) -> list[str]:
    return [r["text"] for r in sentiment_rows] + ["x " * 40, ""]


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Pinning and moving to CUDA record the call and keep the tensor on CPU."""
    calls: list[tuple[str, Any]] = []
    to = torch.Tensor.to

    def pin_memory(self: torch.Tensor) -> torch.Tensor:
        calls.append(("pin", tuple(self.shape)))
        return self

    def fake_to(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if args and isinstance(args[0], torch.device) and args[0].type == "cuda":
            calls.append(("to", (calls[-1][1] == tuple(self.shape), kwargs.get("non_blocking"))))
            return self
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin_memory)
    monkeypatch.setattr(torch.Tensor, "to", fake_to)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(("empty_cache", None)))
    return calls


class SmallMemory(torch.nn.Module):
    """A model that raises CUDA's out-of-memory error for batches over ``limit`` padded tokens."""

    def __init__(self, model: Any, limit: int):
        super().__init__()
        self.model, self.limit, self.config = model, limit, model.config
        self.shapes: list[tuple[int, int, bool]] = []

    def forward(self, **batch: torch.Tensor) -> Any:
        rows, width = batch["input_ids"].shape
        fits = rows * width <= self.limit
        self.shapes.append((rows, width, fits))
        if not fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model(**batch)


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_dtype_is_exact_fast_half_precision_on_cuda(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_precision("auto", CUDA) == Precision(expected, recheck=True)
    assert resolve_precision("auto", CUDA).name == f"{str(expected)[6:]}+float32-recheck"
    assert resolve_precision("float32", CUDA) == Precision(torch.float32)
    assert resolve_precision("float16", CUDA) == Precision(torch.float16)
    assert resolve_precision("bfloat16", CUDA) == Precision(torch.bfloat16)


def test_auto_dtype_on_cpu_is_float32_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(runner, "cpu_bf16_features", lambda: ["amx_tile"])
    assert resolve_precision("auto", torch.device("cpu")) == Precision(torch.float32)
    with pytest.raises(UsageError, match="float16 is not supported on CPU"):
        resolve_precision("float16", torch.device("cpu"))


@pytest.mark.parametrize(("available", "expected"), [(True, "cuda"), (False, "cpu")])
def test_auto_device_is_cuda_when_there_is_a_gpu(
    monkeypatch: pytest.MonkeyPatch, available: bool, expected: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert resolve_device("auto").type == expected
    if available:
        assert resolve_device("cuda:1") == torch.device("cuda", 1)
    else:
        with pytest.raises(UsageError, match="no CUDA GPU is available"):
            resolve_device("cuda:1")


def test_cuda_batches_are_pinned_and_copied_without_blocking(
    model_and_tokenizer, texts: list[str], fake_cuda: list
) -> None:
    model, tokenizer = model_and_tokenizer
    expected, _ = classify(model, tokenizer, texts, max_length=32, batch_size=8)
    assert fake_cuda == []
    probs, stats = classify(model, tokenizer, texts, max_length=32, batch_size=8, device=CUDA)
    np.testing.assert_array_equal(probs, expected)
    pins = [c for c in fake_cuda if c[0] == "pin"]
    moves = [c for c in fake_cuda if c[0] == "to"]
    batches = -(-len(texts) // 8)
    # input_ids and attention_mask of every batch: pinned, then that tensor copied non-blocking
    assert len(pins) == len(moves) == 2 * batches
    assert all(c == ("to", (True, True)) for c in moves)
    assert [c[0] for c in fake_cuda[:2]] == ["pin", "to"]
    assert stats.batch_size == 8


def test_cpu_batches_are_not_pinned(
    model_and_tokenizer, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = model_and_tokenizer

    def refuse(self: torch.Tensor) -> torch.Tensor:
        raise AssertionError("pin_memory called on the CPU path")

    monkeypatch.setattr(torch.Tensor, "pin_memory", refuse)
    probs, _ = classify(model, tokenizer, texts, max_length=32, device=torch.device("cpu"))
    assert probs.shape == (len(texts), 2)


def test_out_of_memory_halves_the_batch_with_the_same_results(
    model_and_tokenizer, texts: list[str], fake_cuda: list
) -> None:
    model, tokenizer = model_and_tokenizer
    expected, _ = classify(model, tokenizer, texts, max_length=32, batch_size=32)
    small = SmallMemory(model, limit=4 * 32)
    probs, stats = classify(small, tokenizer, texts, max_length=32, batch_size=32, device=CUDA)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(1), expected.argmax(1))
    failed = [shape for shape in small.shapes if not shape[2]]
    ran = [shape for shape in small.shapes if shape[2]]
    assert small.shapes[0][0] == 32 and small.shapes[1][0] == 16  # halved after the first
    assert sum(rows for rows, _, _ in ran) == len(texts)  # every text scored exactly once
    # later batches are capped at half the failed batch's tokens, so failures stay few
    assert len(failed) <= 3 < len(ran)
    assert stats.batch_size == max(rows for rows, _, _ in ran)
    assert ("empty_cache", None) in fake_cuda


def test_out_of_memory_on_one_text_is_a_clear_error(
    model_and_tokenizer, texts: list[str], fake_cuda: list
) -> None:
    model, tokenizer = model_and_tokenizer
    small = SmallMemory(model, limit=0)
    with pytest.raises(ModelError, match=r"cuda ran out of memory on a single text of \d+ tokens"):
        classify(small, tokenizer, texts, max_length=32, batch_size=4, device=CUDA)
    assert [rows for rows, _, _ in small.shapes] == [4, 2, 1]


@pytest.mark.parametrize("device", [CUDA, torch.device("cpu")])
def test_cuda_tokenizes_the_next_chunk_in_a_thread(
    model_and_tokenizer,
    texts: list[str],
    fake_cuda: list,
    monkeypatch: pytest.MonkeyPatch,
    device: torch.device,
) -> None:
    import threading

    from cardgen.models import runner

    model, tokenizer = model_and_tokenizer
    expected, _ = classify(model, tokenizer, texts, max_length=32, batch_size=8, chunk_rows=16)
    encode, threads = runner.encode, []

    def recording_encode(*args: Any) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return encode(*args)

    monkeypatch.setattr(runner, "encode", recording_encode)
    probs, _ = classify(
        model, tokenizer, texts, max_length=32, batch_size=8, device=device, chunk_rows=16
    )
    # CPU kernels sharing cores with the tokenizing thread may sum in another order
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(1), expected.argmax(1))
    assert len(threads) == -(-len(texts) // 16)
    # on CUDA a worker thread tokenizes (the GPU runs meanwhile); on CPU the main thread does
    assert set(threads) == {device.type == "cpu"}
