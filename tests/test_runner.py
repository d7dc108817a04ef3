"""The streaming engine: chunked tokenization into flat arrays gives the same answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cardgen.models.runner import classify, encode, padded_batch


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return (
        AutoModelForSequenceClassification.from_pretrained(tiny_model).eval(),
        AutoTokenizer.from_pretrained(tiny_model),
    )


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_equals_the_tokenizers_own_padding(model_and_tokenizer, side: str) -> None:
    _, tokenizer = model_and_tokenizer
    tokenizer.padding_side = side
    texts = ["a", "the film was great", "", "bad bad bad bad bad bad bad bad", "ok then"]
    encoded = encode(tokenizer, texts, max_length=6)
    assert encoded.truncated == 1 and encoded.ids.dtype == np.int32
    index = np.array([3, 0, 2, 4])
    expected = tokenizer.pad(
        tokenizer([texts[i] for i in index], truncation=True, max_length=6), return_tensors="pt"
    )
    got = padded_batch(tokenizer, encoded, index)
    assert set(got) == set(expected)
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    tokenizer.padding_side = "right"


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 100_000])
def test_chunk_size_does_not_change_the_answers(
    model_and_tokenizer, sentiment_rows: list[dict], chunk_rows: int
) -> None:
    model, tokenizer = model_and_tokenizer
    texts = [r["text"] for r in sentiment_rows] + ["", "x " * 400]
    probs, stats = classify(model, tokenizer, texts, max_length=32, chunk_rows=chunk_rows)
    with torch.inference_mode():
        plain = [
            torch.softmax(model(**tokenizer(t, truncation=True, max_length=32, return_tensors="pt")).logits, -1)[0].numpy()
            for t in texts
        ]
    np.testing.assert_allclose(probs, np.array(plain), atol=1e-6)
    assert stats.truncated == 1 and stats.tokens >= len(texts)


# --- progress --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_left_is_hidden_in_the_warm_up_then_follows_the_work() -> None:
    """Two chunks of 500 rows, batches longest first, 100 work units a second after a first
    batch that takes 100 s: rows per second from the start said 1,900 s left; 100 s were."""
    from cardgen.models._progress import WorkEstimate

    clock = Clock()
    estimate = WorkEstimate(1000, warmup=3.0, clock=clock)
    widths = list(range(20, 0, -2))  # 10 batches of 50 rows per chunk, longest first
    total_work = 2 * sum(50 * w for w in widths)
    done = 0
    for chunk in range(2):
        estimate.chunk(500, sum(50 * w for w in widths))
        for i, width in enumerate(widths):
            clock.now += 100.0 if chunk == i == 0 else 50 * width / 100
            estimate.batch(50 * width)
            done += 50 * width
            left = estimate.seconds_left()
            if chunk == i == 0:
                assert left is None  # the first batch (tokenizing, warm-up) is not a rate
            else:
                assert left == pytest.approx((total_work - done) / 100)


def test_the_progress_bar_shows_no_time_left_from_a_slow_first_batch(
    model_and_tokenizer, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from cardgen.models import runner

    model, tokenizer = model_and_tokenizer
    forward, calls = runner._forward, []

    def slow_first(*args, **kwargs):
        calls.append(1)
        time.sleep(1.0 if len(calls) == 1 else 0.01)
        return forward(*args, **kwargs)

    monkeypatch.setattr(runner, "_forward", slow_first)
    start = time.perf_counter()
    classify(model, tokenizer, ["a good film"] * 40, max_length=16, batch_size=4, progress=True)
    took = time.perf_counter() - start
    shown = re.findall(r"<(\?|\d+:\d\d)", capsys.readouterr().err)
    assert shown and shown[-1] == "00:00"
    for left in shown:  # the old bar said 00:09 after the first batch; 0.1 s were left
        assert left == "?" or int(left[:-3]) * 60 + int(left[-2:]) <= took
