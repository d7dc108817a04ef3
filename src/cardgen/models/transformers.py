"""Hugging Face sequence classifiers: a local directory or a hub id at a revision."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ..errors import ModelError
from ..results import ModelInfo
from ..runner import classify, cpu_bf16_features, resolve_device, resolve_dtype
from .base import RunStats, ScoreKind
from .sklearn import file_sha256

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class TransformersClassifier:
    """``AutoModelForSequenceClassification`` + its tokenizer, run by ``runner.classify``."""

    score_kind: ScoreKind = "probability"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        device: torch.device,
        dtype: torch.dtype,
        max_length: int | None = None,
    ):
        config = model.config
        if config.num_labels < 2:
            raise ModelError(
                f"{model_id} has {config.num_labels} output; cardgen evaluates classifiers "
                "with 2+ labels"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        self.device = device
        self.dtype = dtype
        limits = [
            n
            for n in (
                getattr(tokenizer, "model_max_length", None),
                getattr(config, "max_position_embeddings", None),
            )
            if isinstance(n, int) and n < 1_000_000
        ]
        self.max_length = max_length or (min(limits) if limits else 512)
        self._id = model_id
        self.revision: str | None = None

    @classmethod
    def load(
        cls,
        model_id: str,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int | None = None,
        trust_remote_code: bool = False,
    ) -> TransformersClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # cardgen shows its own progress bar

        target = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, target)
        load_dtype = torch_dtype if target.type == "cuda" else torch.float32
        if target.type == "cpu" and torch_dtype == torch.bfloat16 and not cpu_bf16_features():
            warnings.warn(
                "bfloat16 on a CPU without AMX or AVX512-BF16 is emulated and slow; "
                "the default float32 is faster here",
                stacklevel=2,
            )
        options = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id, **options)
            model = AutoModelForSequenceClassification.from_pretrained(
                model_id, dtype=load_dtype, **options
            )
        except Exception as exc:  # transformers raises OSError, ValueError, safetensors errors...
            hint = (
                " (pass --trust-remote-code only if you trust its code)"
                if "trust_remote_code" in str(exc)
                else ""
            )
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load transformers model {model_id!r}: {first}{hint}") from exc
        classifier = cls(
            model.to(target),
            tokenizer,
            model_id=model_id,
            device=target,
            dtype=torch_dtype,
            max_length=max_length,
        )
        if not Path(model_id).is_dir():
            classifier.revision = _resolved_commit(model_id, revision)
        return classifier

    def predict_scores(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False
    ) -> tuple[NDArray[np.float64], RunStats]:
        autocast = self.dtype if self.device.type == "cpu" and self.dtype != torch.float32 else None
        probs, stats = classify(
            self.model,
            self.tokenizer,
            texts,
            max_length=self.max_length,
            batch_size=batch_size,
            device=self.device,
            autocast_dtype=autocast,
            progress=progress,
        )
        return probs, RunStats(
            device=str(self.device),
            dtype=str(self.dtype).removeprefix("torch."),
            batch_size=stats.batch_size,
            wall_seconds=stats.wall_seconds,
            tokens=stats.tokens,
            padded_tokens=stats.padded_tokens,
            truncated=stats.truncated,
            max_length=self.max_length,
        )

    def info(self) -> ModelInfo:
        config = self.model.config
        local = Path(self._id)
        weights = next((local / name for name in WEIGHT_FILES if (local / name).is_file()), None)
        architectures = getattr(config, "architectures", None) or [type(self.model).__name__]
        return ModelInfo(
            id=self._id,
            framework="transformers",
            labels=list(self.labels),
            revision=self.revision,
            weights_hash=file_sha256(weights) if weights else None,
            architecture=architectures[0],
            num_parameters=sum(p.numel() for p in self.model.parameters()),
            max_length=self.max_length,
        )


def _resolved_commit(model_id: str, revision: str | None) -> str | None:
    """The commit a hub id resolved to: the name of its snapshot directory in the cache."""
    from huggingface_hub import hf_hub_download

    try:
        config_path = hf_hub_download(model_id, "config.json", revision=revision)
    except Exception:  # the model loaded, so a failure here only loses the commit hash
        return revision
    return Path(config_path).parent.name
