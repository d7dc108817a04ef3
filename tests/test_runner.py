"""The streaming engine: chunked tokenization into flat arrays gives the same answers."""

from __future__ import annotations

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
