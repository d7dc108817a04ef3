"""scikit-learn estimators on raw texts: skops files, or pickles when explicitly allowed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..errors import ModelError
from ..results import ModelInfo
from .base import RunStats, ScoreKind

CHUNK = 2048


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
            raise ModelError(f"cannot load pickle {path}: {exc}") from exc

    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if t not in trusted_types]
        if refused:
            flags = " ".join(f"--trust {t}" for t in refused)
            raise ModelError(
                f"{path} contains types that skops does not trust by default: "
                f"{', '.join(refused)}; if you trust the file's author, pass {flags}"
            )
        return sio.load(path, trusted=list(untrusted))
    except ModelError:
        raise
    except Exception as exc:  # a corrupt zip or schema raises many types
        raise ModelError(f"cannot load skops file {path}: {exc}") from exc


class SklearnClassifier:
    """A fitted estimator with ``classes_`` and predict_proba, decision_function or predict."""

    def __init__(self, estimator: Any, *, model_id: str, weights_hash: str | None = None):
        if not hasattr(estimator, "classes_") or not hasattr(estimator, "predict"):
            raise ModelError(
                f"{model_id} holds a {type(estimator).__name__}, not a fitted classifier "
                "(it needs `classes_` and `predict`)"
            )
        self.estimator = estimator
        self.labels = [str(c) for c in estimator.classes_]
        self.score_kind: ScoreKind = (
            "probability"
            if hasattr(estimator, "predict_proba")
            else "decision"
            if hasattr(estimator, "decision_function")
            else "label"
        )
        self._id = model_id
        self._hash = weights_hash

    @classmethod
    def load(
        cls, path: Path, *, allow_pickle: bool = False, trusted_types: Sequence[str] = ()
    ) -> SklearnClassifier:
        estimator = _load_estimator(path, allow_pickle=allow_pickle, trusted_types=trusted_types)
        return cls(estimator, model_id=str(path), weights_hash=file_sha256(path))

    def _scores(self, texts: list[str]) -> NDArray[np.float64]:
        if self.score_kind == "probability":
            return np.asarray(self.estimator.predict_proba(texts), dtype=np.float64)
        if self.score_kind == "decision":
            raw = np.asarray(self.estimator.decision_function(texts), dtype=np.float64)
            if raw.ndim == 1:
                raw = np.stack([-raw, raw], axis=1) / 2
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        predicted = [str(p) for p in self.estimator.predict(texts)]
        index = {label: i for i, label in enumerate(self.labels)}
        onehot = np.zeros((len(texts), len(self.labels)))
        onehot[np.arange(len(texts)), [index[p] for p in predicted]] = 1.0
        return onehot

    def predict_scores(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False
    ) -> tuple[NDArray[np.float64], RunStats]:
        size = batch_size or CHUNK
        start = time.perf_counter()
        parts = []
        with tqdm(total=len(texts), unit="ex", disable=not progress, desc="predicting") as bar:
            for begin in range(0, len(texts), size):
                chunk = list(texts[begin : begin + size])
                parts.append(self._scores(chunk))
                bar.update(len(chunk))
        scores = np.concatenate(parts) if parts else np.zeros((0, len(self.labels)))
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
