"""Hugging Face sequence classifiers: a local directory or a hub id at a revision."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from cardgen.errors import ModelError, UsageError
from cardgen.models._checkpoint import (
    CONFIG_FILE,
    check_directory,
    check_labels,
    check_loading_info,
    check_model_string,
    check_tokenizer_fits,
    local_directory,
    read_config,
    tokenizer_fix,
)
from cardgen.models._formats import conversion_error, hub_files
from cardgen.models.base import RunStats, ScoreKind, check_finite, one_line
from cardgen.models.precision import RECHECK_BOUND, uncertain_rows
from cardgen.models.runner import (
    InferenceStats,
    Precision,
    classify,
    resolve_device,
    resolve_precision,
)
from cardgen.models.sklearn import file_sha256
from cardgen.results.schema import ModelInfo
from cardgen.trust.untrusted import quote

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
MIN_LENGTH = 4  # a smaller model_max_length in a config is corrupt, not a real limit
DEFAULT_LENGTH = 512  # for a model that states no limit
# config.problem_type -> multi-label (sigmoid per label); absent or regression: None (unstated)
PROBLEM_TYPES = {"multi_label_classification": True, "single_label_classification": False}


class TransformersClassifier:
    """``AutoModelForSequenceClassification`` + its tokenizer, run by ``runner.classify``.

    With ``precision.recheck`` (exact-fast), rows run in half precision and those whose
    decision it may have got wrong run again in float32 (``cardgen.models.precision``);
    multi-label decisions are checked at ``decision_thresholds`` (one per label, 0.5 unset).
    """

    score_kind: ScoreKind = "probability"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        device: torch.device,
        precision: Precision,
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
        problem_type = str(getattr(config, "problem_type", None))
        self.multi_label: bool | None = PROBLEM_TYPES.get(problem_type)
        self.device = device
        self.precision = precision
        self.decision_thresholds: NDArray[np.float64] | None = None
        self.recheck_bound = RECHECK_BOUND
        # on CUDA the half-precision pass runs a half-precision copy; on CPU, autocast
        on_gpu = device.type == "cuda" and precision.recheck
        self.fast_model = copy.deepcopy(self.model).to(precision.dtype) if on_gpu else self.model
        limits = [
            n
            for n in (
                getattr(tokenizer, "model_max_length", None),
                getattr(config, "max_position_embeddings", None),
            )
            if isinstance(n, int) and MIN_LENGTH <= n < 1_000_000
        ]
        own_limit = min(limits) if limits else DEFAULT_LENGTH
        self.max_length = max_length or own_limit
        self._id = model_id
        self.revision: str | None = None
        if max_length is not None and max_length > own_limit:
            self._check_length_runs(own_limit)

    def _check_length_runs(self, own_limit: int) -> None:
        """UsageError unless the model runs on an input longer than its stated limit, up to
        --max-length: tried on one input, at most one token past its table of positions."""
        positions = getattr(self.model.config, "max_position_embeddings", None)
        bound = positions if isinstance(positions, int) and positions >= own_limit else own_limit
        length = min(self.max_length, bound + 1)
        try:
            classify(self.model, self.tokenizer, ["a " * length], max_length=length, batch_size=1)
        except Exception as exc:  # the model's own error: a size mismatch, an index error...
            raise UsageError(
                f"--max-length {self.max_length} is more than model {quote(self._id)} takes: "
                f"an input of {length} tokens fails ({one_line(exc)}); pass --max-length "
                f"{own_limit} or less (the model's limit), or leave it out"
            ) from exc

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
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # cardgen shows its own progress bar

        target = resolve_device(device)
        precision = resolve_precision(dtype, target)
        # float32 weights on CPU (autocast makes bf16) and for a recheck; else the GPU's dtype
        on_gpu = target.type == "cuda" and not precision.recheck
        load_dtype = precision.dtype if on_gpu else torch.float32
        name = check_model_string(model_id)
        directory = local_directory(name)
        if directory is not None:
            check_directory(directory, model=name)
            config_file = directory / CONFIG_FILE
        else:
            config_file = _hub_config(name, revision)
        read_config(config_file, model=name, trust_remote_code=trust_remote_code)
        source = str(directory) if directory is not None else name
        options: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(source, **options)
        except Exception as exc:  # transformers validates fields with several error types
            raise ModelError(
                f"config.json of model {quote(name)} is not one transformers accepts: "
                f"{one_line(exc)}{_remote_code_hint(exc)}"
            ) from exc
        check_labels(config.to_dict(), f"the configuration of model {quote(name)}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, config=config, **options)
        except Exception as exc:  # transformers raises OSError, ValueError, tokenizers errors...
            raise ModelError(
                f"cannot load the tokenizer of model {quote(name)}: {one_line(exc)}"
                f"{_remote_code_hint(exc)}; " + tokenizer_fix(directory)
            ) from exc
        try:
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                source, config=config, dtype=load_dtype, output_loading_info=True, **options
            )
        except Exception as exc:  # transformers raises OSError, ValueError, safetensors errors...
            if directory is None:  # a hub repository of TensorFlow / Flax weights only?
                files = hub_files(name, revision, Path(config_file).parent)
                refusal = conversion_error(name, files, hub=True)
                if refusal is not None:
                    raise refusal from exc
            raise ModelError(
                f"cannot load transformers model {quote(name)}: {one_line(exc)}"
                f"{_remote_code_hint(exc)}"
            ) from exc
        check_loading_info(loading, model=name)
        check_tokenizer_fits(tokenizer, model, name=name, directory=directory)
        classifier = cls(
            model.to(target),
            tokenizer,
            model_id=name,
            device=target,
            precision=precision,
            max_length=max_length,
        )
        if directory is None:
            classifier.revision = Path(config_file).parent.name
        return classifier

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[NDArray[np.float64], RunStats]:
        start = time.perf_counter()
        half = self.precision.dtype != torch.float32
        probs, stats = self._classify(texts, text_pairs, batch_size, progress, half=half)
        rechecked = None
        if self.precision.recheck:
            rows = np.flatnonzero(self._uncertain(probs)).tolist()
            if len(rows):
                pairs = None if text_pairs is None else [text_pairs[i] for i in rows]
                exact, _ = self._classify(
                    [texts[i] for i in rows], pairs, batch_size, False, half=False
                )
                probs[rows] = exact
            rechecked = len(rows)
        hint = (
            ""
            if not half or self.precision.recheck
            else f", or {self.precision.name} overflowed (try --dtype float32)"
        )
        check_finite(probs, model=self._id, hint=hint)
        return probs, RunStats(
            device=str(self.device),
            dtype=self.precision.name,
            batch_size=stats.batch_size,
            wall_seconds=time.perf_counter() - start,
            tokens=stats.tokens,
            padded_tokens=stats.padded_tokens,
            truncated=stats.truncated,
            max_length=self.max_length,
            input_lengths=stats.input_lengths,
            rechecked=rechecked,
            recheck_bound=None if rechecked is None else self.recheck_bound,
        )

    def _classify(
        self,
        texts: Sequence[str],
        text_pairs: Sequence[str] | None,
        batch_size: int | None,
        progress: bool,
        *,
        half: bool,
    ) -> tuple[NDArray[np.float64], InferenceStats]:
        """Probabilities in the model's half precision (``half``) or in float32."""
        on_cpu = self.device.type == "cpu"
        return classify(
            self.fast_model if half else self.model,
            self.tokenizer,
            texts,
            max_length=self.max_length,
            batch_size=batch_size,
            device=self.device,
            autocast_dtype=self.precision.dtype if half and on_cpu else None,
            progress=progress,
            text_pairs=text_pairs,
            multi_label=bool(self.multi_label),
        )

    def _uncertain(self, probs: NDArray[np.float64]) -> NDArray[np.bool_]:
        """The rows whose decision float32 must make: near a tie, or near a threshold."""
        thresholds = None
        if self.multi_label:
            thresholds = self.decision_thresholds
            if thresholds is None:
                thresholds = np.full(len(self.labels), 0.5)
        return uncertain_rows(probs, bound=self.recheck_bound, thresholds=thresholds)

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


def _hub_config(model_id: str, revision: str | None) -> Path:
    """config.json of a hub model at ``revision`` (from the cache when offline); its folder is
    named after the commit it resolved to."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(model_id, CONFIG_FILE, revision=revision))
    except Exception as exc:  # hub errors: not found, gated, offline and not cached, ...
        raise ModelError(
            f"cannot load transformers model {quote(model_id)}: {one_line(exc)} (and there "
            "is no local directory of that name)"
        ) from exc


def _remote_code_hint(exc: BaseException) -> str:
    if "trust_remote_code" in str(exc):
        return " (pass --trust-remote-code only if you trust its code)"
    return ""
