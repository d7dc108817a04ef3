"""scikit-learn estimators on raw texts: skops files, or pickles when explicitly allowed."""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from cardgen.data.labels import MAX_LABELS
from cardgen.errors import ModelError
from cardgen.models._checkpoint import check_label_names
from cardgen.models.base import RunStats, ScoreKind, check_finite, one_line
from cardgen.results.schema import ModelInfo
from cardgen.trust.untrusted import quote

CHUNK = 2048
MAX_ENTRIES = 100_000
MAX_UNPACKED = 2**30
MAX_RATIO = 200
PROBE_TEXTS = ["the movie was good", "the food was bad"]
TYPE_NAME = re.compile(r"[A-Za-z_][\w.]{0,199}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _load_estimator(path: Path, *, allow_pickle: bool, trusted_types: Sequence[str]) -> Any:
    if path.suffix != ".skops":
        if not allow_pickle:
            raise ModelError(
                f"{path} is a pickle, and loading it could run arbitrary code; pass "
                "--allow-pickle only if you trust its author, or save the model with skops"
            )
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:  # unpickling raises anything the pickle's classes raise
            raise ModelError(f"cannot load pickle {path}: {one_line(exc)}") from exc

    import skops.io as sio

    _check_zip(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if t not in trusted_types]
        if refused:
            shown = [t if TYPE_NAME.fullmatch(t) else quote(t) for t in refused[:10]]
            more = f" (and {len(refused) - 10:,} more)" if len(refused) > 10 else ""
            raise ModelError(
                f"{path} contains types that skops does not trust by default: "
                f"{', '.join(shown)}{more}; if you trust the file's author, pass "
                + " ".join(f"--trust {t}" for t in shown)
            )
        return sio.load(path, trusted=list(untrusted))
    except ModelError:
        raise
    except Exception as exc:  # a corrupt zip or schema raises many types
        raise ModelError(f"cannot load skops file {path}: {one_line(exc)}") from exc


def _check_zip(path: Path) -> None:
    """A .skops file is a zip archive: refuse one that is not, or that would unpack to more
    than MAX_UNPACKED bytes (a zip bomb), before skops reads it."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelError(
            f"cannot load skops file {path}: it is not a complete zip archive "
            f"({one_line(exc)}); "
            "save the model again with skops.io.dump"
        ) from exc
    unpacked = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries)
    if len(entries) > MAX_ENTRIES or unpacked > max(MAX_UNPACKED, MAX_RATIO * packed):
        raise ModelError(
            f"cannot load skops file {path}: its {len(entries):,} entries would unpack to "
            f"{unpacked:,} bytes from {packed:,}, past cardgen's limits ({MAX_ENTRIES:,} entries, "
            f"{MAX_UNPACKED:,} bytes or {MAX_RATIO}x compression)"
        )


class SklearnClassifier:
    """A fitted estimator with ``classes_`` and predict_proba, decision_function or predict."""

    def __init__(self, estimator: Any, *, model_id: str, weights_hash: str | None = None):
        classes = _attribute(estimator, "classes_")
        if classes is None or not callable(_attribute(estimator, "predict")):
            raise ModelError(
                f"{model_id} holds a {type(estimator).__name__}, not a fitted classifier "
                "(it needs `classes_` and `predict`)"
            )
        self.estimator = estimator
        self._id = model_id
        self._hash = weights_hash
        self.labels = _labels(classes, model_id)
        self.score_kind: ScoreKind = (
            "probability"
            if callable(_attribute(estimator, "predict_proba"))
            else "decision"
            if callable(_attribute(estimator, "decision_function"))
            else "label"
        )
        check_finite(self._scores(PROBE_TEXTS), model=model_id)  # fail now, not after the data

    @classmethod
    def load(
        cls, path: Path, *, allow_pickle: bool = False, trusted_types: Sequence[str] = ()
    ) -> SklearnClassifier:
        estimator = _load_estimator(path, allow_pickle=allow_pickle, trusted_types=trusted_types)
        return cls(estimator, model_id=str(path), weights_hash=file_sha256(path))

    def _scores(self, texts: list[str]) -> NDArray[np.float64]:
        """Scores of ``texts``, one row each and one column per label, or ModelError."""
        method = {"probability": "predict_proba", "decision": "decision_function"}.get(
            self.score_kind, "predict"
        )
        try:
            raw = getattr(self.estimator, method)(texts)
            if self.score_kind == "label":
                return self._onehot([str(p) for p in np.asarray(raw).ravel()], len(texts))
            scores = np.asarray(raw, dtype=np.float64)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - the estimator's own code fails in any way
            raise ModelError(self._not_text(method, exc)) from exc
        if self.score_kind == "decision" and scores.ndim == 1 and len(self.labels) == 2:
            scores = np.stack([-scores, scores], axis=1) / 2
        expected = (len(texts), len(self.labels))
        if scores.shape != expected:
            raise ModelError(
                f"{self._id}: {method} returned scores of shape {scores.shape} for "
                f"{len(texts)} texts and {len(self.labels)} classes, expected {expected}; "
                "the estimator is not a single-label classifier cardgen can evaluate"
            )
        if self.score_kind == "probability":
            finite = scores[np.isfinite(scores)]  # NaN and inf fail in check_finite
            if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
                raise ModelError(
                    f"{self._id}: predict_proba returned values outside 0..1 (from "
                    f"{finite.min():.3g} to {finite.max():.3g}); they are not probabilities"
                )
            return scores
        with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf fail in check_finite
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)

    def _onehot(self, predicted: list[str], n: int) -> NDArray[np.float64]:
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = next((p for p in predicted if p not in index), None)
        if unknown is not None or len(predicted) != n:
            found = f"label {quote(unknown)}" if unknown is not None else f"{len(predicted)} labels"
            raise ModelError(
                f"{self._id}: predict returned {found} for {n} texts; expected one of its "
                f"classes_ per text"
            )
        onehot = np.zeros((n, len(self.labels)))
        onehot[np.arange(n), [index[p] for p in predicted]] = 1.0
        return onehot

    def _not_text(self, method: str, exc: Exception) -> str:
        detail = quote(" ".join(str(exc).split()) or type(exc).__name__)
        features = getattr(self.estimator, "n_features_in_", None)
        if isinstance(features, int):
            return (
                f"{self._id}: this estimator does not take raw text (it expects {features} "
                f"numeric features; {method} failed with {detail}); pass a Pipeline that "
                "starts with a text vectorizer such as TfidfVectorizer"
            )
        return (
            f"{self._id}: {method} failed on raw texts ({type(exc).__name__}: {detail}); "
            "cardgen needs an estimator that takes a list of strings, such as a Pipeline that "
            "starts with a text vectorizer"
        )

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[NDArray[np.float64], RunStats]:
        if text_pairs is not None:
            raise ModelError(
                f"{self._id}: scikit-learn pipelines take one text per example, but the data "
                "holds sentence pairs (--text-pair-column, or pair columns such as "
                "premise/hypothesis found by name); evaluate a transformers pair classifier, "
                "or pass --text-column alone to score a single text column"
            )
        size = batch_size or CHUNK
        start = time.perf_counter()
        parts = []
        with tqdm(total=len(texts), unit="ex", disable=not progress, desc="predicting") as bar:
            for begin in range(0, len(texts), size):
                chunk = list(texts[begin : begin + size])
                parts.append(self._scores(chunk))
                bar.update(len(chunk))
        scores = np.concatenate(parts) if parts else np.zeros((0, len(self.labels)))
        check_finite(scores, model=self._id)
        stats = RunStats(
            device="cpu", dtype="float64", batch_size=size, wall_seconds=time.perf_counter() - start
        )
        return scores, stats

    def info(self) -> ModelInfo:
        steps = getattr(self.estimator, "steps", None)
        architecture = (
            " -> ".join(type(step).__name__ for _, step in steps)
            if steps
            else type(self.estimator).__name__
        )
        return ModelInfo(
            id=self._id,
            framework="sklearn",
            labels=list(self.labels),
            weights_hash=self._hash,
            architecture=architecture,
        )


def _attribute(estimator: Any, name: str) -> Any:
    """``estimator.name``, or None when it is missing or its property raises."""
    try:
        return getattr(estimator, name, None)
    except Exception:  # noqa: BLE001 - an estimator's property may raise anything
        return None


def _labels(classes: Any, model_id: str) -> list[str]:
    """``classes_`` as label names: 2 to MAX_LABELS distinct, printable strings."""
    try:
        values = np.asarray(classes)
    except (ValueError, TypeError) as exc:  # ragged: one array of classes per output
        raise ModelError(f"{model_id}: classes_ is not one list of labels ({exc})") from exc
    if values.ndim != 1:
        raise ModelError(
            f"{model_id}: classes_ has shape {values.shape}; cardgen evaluates single-label "
            "classifiers, whose classes_ is one list of labels"
        )
    if not 2 <= len(values) <= MAX_LABELS:
        raise ModelError(
            f"{model_id}: classes_ holds {len(values):,} labels; cardgen evaluates "
            f"classifiers with 2 to {MAX_LABELS:,} labels"
        )
    return check_label_names([str(c) for c in values.tolist()], source=model_id, noun="class")
