"""Exact-fast inference: native bf16 detection, the rows that must be rechecked (at the bound
too), and fp32-identical decisions from the recheck, for single- and multi-label models, in the
model and through ``evaluate`` into results and the card. This CPU's bf16 is faked where it
lacks AMX / AVX512-BF16 (the detector is patched; bf16 then runs emulated, slow but real)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cardgen
from cardgen.cards.render import render_card
from cardgen.demo.synthetic import MODERATION, moderation_corpus, train_tiny_distilbert
from cardgen.models import load_model, runner
from cardgen.models.base import with_thresholds
from cardgen.models.precision import RECHECK_BOUND, uncertain_rows
from cardgen.models.runner import Precision, resolve_precision
from cardgen.models.transformers import TransformersClassifier
from cardgen.results.schema import load_results

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """This CPU reports AVX512-BF16."""
    monkeypatch.setattr(runner, "cpu_bf16_features", lambda: ["avx512_bf16"])


@pytest.fixture
def texts(sentiment_rows: list[dict]) -> list[str]:
    return [r["text"] for r in sentiment_rows]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (["avx512_bf16"], Precision(torch.bfloat16, recheck=True)),
        (["amx_bf16", "amx_tile"], Precision(torch.bfloat16, recheck=True)),
        (["amx_tile"], Precision(torch.float32)),
        ([], Precision(torch.float32)),
    ],
)
def test_auto_is_exact_fast_only_on_a_cpu_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch, features: list[str], expected: Precision
) -> None:
    monkeypatch.setattr(runner, "cpu_bf16_features", lambda: features)
    assert resolve_precision("auto", CPU) == expected
    # a named dtype is what the user asked for, with no recheck; emulated bf16 is slow
    assert resolve_precision("float32", CPU) == Precision(torch.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_precision("bfloat16", CPU) == Precision(torch.bfloat16)
    assert [str(w.message)[:44] for w in caught] == (
        [] if expected.recheck else ["bfloat16 on a CPU without AMX or AVX512-BF16"]
    )


def test_precision_names_say_what_ran() -> None:
    assert Precision(torch.bfloat16, recheck=True).name == "bfloat16+float32-recheck"
    assert Precision(torch.float16, recheck=True).name == "float16+float32-recheck"
    assert Precision(torch.float32).name == "float32"


def test_single_label_rows_at_or_inside_twice_the_bound_are_rechecked() -> None:
    bound = 0.125  # exact in binary, so a margin of exactly 2 * bound is what it says
    scores = np.array(
        [
            [0.375, 0.625, 0.0],  # margin 0.25: exactly at the line, rechecked
            [0.37, 0.63, 0.0],  # margin 0.26: outside, kept
            [0.5, 0.5, 0.0],  # a tie
            [0.1, 0.45, 0.45],  # a tie between the top two of three
            [0.8, 0.1, 0.1],  # a tie below the top does not matter
            [np.nan, 0.9, 0.1],  # broken scores are rechecked
            [np.inf, 0.0, 0.0],
        ]
    )
    expected = [True, False, True, True, False, True, True]
    assert uncertain_rows(scores, bound=bound).tolist() == expected


def test_multi_label_rows_within_the_bound_of_a_threshold_are_rechecked() -> None:
    bound = 0.125
    thresholds = np.array([0.5, 0.25])
    scores = np.array(
        [
            [0.625, 0.0],  # exactly bound above label 0's threshold
            [0.9, 0.375],  # exactly bound above label 1's
            [0.63, 0.9],  # every score outside
            [0.0, 0.12],  # just outside below label 1's
            [0.9, 0.2],  # inside, below label 1's
            [0.9, np.nan],
        ]
    )
    expected = [True, True, False, False, True, True]
    assert uncertain_rows(scores, bound=bound, thresholds=thresholds).tolist() == expected
    # the same scores read as single-label margins give other rows
    assert uncertain_rows(scores[:5], bound=bound).tolist() == [False, False, False, True, False]


def test_exact_fast_rechecks_rows_at_the_bound_and_keeps_fp32_labels(
    tiny_model: Path, texts: list[str], native_bf16: None
) -> None:
    exact, plain = load_model(tiny_model, device="cpu", dtype="float32").predict_scores(texts)
    half, _ = load_model(tiny_model, device="cpu", dtype="bfloat16").predict_scores(texts)
    model = load_model(tiny_model, device="cpu")
    assert isinstance(model, TransformersClassifier)
    assert model.precision == Precision(torch.bfloat16, recheck=True)
    margins = np.abs(half[:, 1] - half[:, 0])
    at_bound = int(np.argsort(margins)[len(margins) // 2])  # a row in the middle
    model.recheck_bound = float(margins[at_bound]) / 2  # this row sits exactly on the line
    probs, stats = model.predict_scores(texts)

    rechecked = margins <= 2 * model.recheck_bound
    assert rechecked[at_bound] and 0 < rechecked.sum() < len(texts)
    assert stats.dtype == "bfloat16+float32-recheck"
    assert stats.rechecked == int(rechecked.sum())
    assert stats.recheck_bound == model.recheck_bound
    assert stats.tokens == plain.tokens and stats.input_lengths is not None
    np.testing.assert_allclose(probs[rechecked], exact[rechecked], atol=1e-6)
    np.testing.assert_array_equal(probs[~rechecked], half[~rechecked])
    np.testing.assert_array_equal(probs.argmax(1), exact.argmax(1))


def _perturbed_half(model: TransformersClassifier, shift: Any) -> None:
    """Make ``model``'s half-precision pass return float32's probabilities moved by ``shift``
    (a function of them), as a worst-case bf16 within the bound would."""
    classify = model._classify

    def fake(*args: Any, half: bool) -> Any:
        probs, stats = classify(*args, half=False)
        return (shift(probs) if half else probs), stats

    model._classify = fake  # type: ignore[method-assign]


def test_recheck_restores_every_label_half_precision_flipped(
    tiny_model: Path, texts: list[str], native_bf16: None
) -> None:
    exact, _ = load_model(tiny_model, device="cpu", dtype="float32").predict_scores(texts)
    model = load_model(tiny_model, device="cpu")
    assert isinstance(model, TransformersClassifier)
    bound = model.recheck_bound = 0.2  # wide, so that many rows are near a tie

    def toward_the_runner_up(probs: np.ndarray) -> np.ndarray:
        top = np.eye(probs.shape[1])[probs.argmax(1)]
        return probs - 0.99 * bound * top + 0.99 * bound * (1 - top)

    _perturbed_half(model, toward_the_runner_up)
    probs, stats = model.predict_scores(texts)
    flipped = toward_the_runner_up(exact).argmax(1) != exact.argmax(1)
    assert flipped.any()  # the fake half precision got some labels wrong ...
    np.testing.assert_array_equal(probs.argmax(1), exact.argmax(1))  # ... and none survive
    assert stats.rechecked is not None and stats.rechecked >= flipped.sum()


@pytest.fixture(scope="module")
def multi_label_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny-moderation"
    rows = moderation_corpus(160, seed=1)
    return train_tiny_distilbert(rows, list(MODERATION), out, epochs=1, multi_label=True)


@pytest.mark.parametrize("quantile", [0.5, 0.2])
def test_multi_label_recheck_uses_the_run_thresholds(
    multi_label_model: Path, quantile: float, native_bf16: None
) -> None:
    texts = [r["text"] for r in moderation_corpus(60, seed=2)]
    exact, _ = load_model(multi_label_model, device="cpu", dtype="float32").predict_scores(texts)
    threshold = float(np.quantile(exact, quantile))  # many scores lie near it
    loaded = load_model(multi_label_model, device="cpu")
    thresholds = np.full(len(loaded.labels), threshold)
    model = with_thresholds(loaded, thresholds)
    assert isinstance(model, TransformersClassifier) and model is not loaded
    assert loaded.decision_thresholds is None  # type: ignore[attr-defined]
    bound = model.recheck_bound = 0.05
    # half precision pushes every score across the nearest threshold when it is close
    push = lambda p: np.where(np.abs(p - threshold) < bound, 2 * threshold - p, p)  # noqa: E731
    _perturbed_half(model, push)
    probs, stats = model.predict_scores(texts)
    near = (np.abs(exact - threshold) < bound).any(axis=1)
    assert near.any() and stats.rechecked == near.sum()
    np.testing.assert_array_equal(probs >= threshold, exact >= threshold)


def test_evaluate_records_exact_fast_and_matches_an_fp32_run(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path, native_bf16: None
) -> None:
    fp32 = cardgen.evaluate(tiny_model, sentiment_file, dtype="float32", n_bootstrap=0)
    fast = cardgen.evaluate(tiny_model, sentiment_file, output_dir=tmp_path, n_bootstrap=0)
    assert fast.confusion_matrix.counts == fp32.confusion_matrix.counts
    assert fast.metrics["accuracy"].value == fp32.metrics["accuracy"].value
    assert fast.timing is not None and fp32.timing is not None
    assert fast.timing.dtype == "bfloat16+float32-recheck"
    assert fast.timing.recheck_bound == RECHECK_BOUND
    assert fast.timing.rechecked is not None and 0 <= fast.timing.rechecked <= 200
    assert fp32.timing.rechecked is None and fp32.timing.recheck_bound is None
    saved = json.loads((tmp_path / "results.json").read_text())["timing"]
    assert saved["dtype"] == "bfloat16+float32-recheck"
    assert saved["rechecked"] == fast.timing.rechecked
    # the source tree's template, whichever cardgen.templates the environment installed
    template = Path(__file__).parents[1] / "templates" / "model_card.md.j2"
    card = render_card(load_results(tmp_path), template=template)
    assert f"within {RECHECK_BOUND} of a tie or threshold re-run in float32" in card
    assert "exact-fast" not in render_card(fp32, template=template)


def test_results_without_recheck_fields_still_load(tmp_path: Path, card_run: Path) -> None:
    data = json.loads((card_run / "results.json").read_text())
    data["timing"].pop("rechecked", None)
    data["timing"].pop("recheck_bound", None)
    (tmp_path / "results.json").write_text(json.dumps(data))
    timing = load_results(tmp_path).timing
    assert timing is not None and timing.rechecked is None and timing.recheck_bound is None


def test_spark_workers_rechecked_rows_add_up_into_the_run() -> None:
    pytest.importorskip("pyspark")
    from cardgen.engines.spark.classifier import run_stats
    from cardgen.engines.spark.worker import StatsParam

    param = StatsParam()

    def task(dtype: str, rechecked: int) -> dict[str, Any]:
        stats = {**param.zero({}), "rows": 10, "rechecked": rechecked}
        return {**stats, "devices": {("cpu", dtype, 512)}, "batch_size": 4}

    both = param.addInPlace(
        task("bfloat16+float32-recheck", 3), task("bfloat16+float32-recheck", 2)
    )
    run = run_stats(both, 1.0)
    assert (run.dtype, run.rechecked, run.recheck_bound) == (
        "bfloat16+float32-recheck",
        5,
        RECHECK_BOUND,
    )
    mixed = run_stats(param.addInPlace(both, task("float32", 0)), 1.0)
    assert mixed.dtype == "bfloat16+float32-recheck, float32" and mixed.rechecked == 5
    plain = run_stats(task("float32", 0), 1.0)
    assert plain.rechecked is None and plain.recheck_bound is None
