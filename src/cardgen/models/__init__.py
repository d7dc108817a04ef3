"""Model adapters behind one small protocol, and ``load_model`` to pick the right one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cardgen.errors import ModelError
from cardgen.models._checkpoint import PICKLE_SUFFIXES, check_model_string
from cardgen.models.base import RunStats, ScoreKind, TextClassifier
from cardgen.trust.untrusted import quote

__all__ = ["RunStats", "ScoreKind", "TextClassifier", "load_model"]


def load_model(
    model: str | Path,
    *,
    revision: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    max_length: int | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
) -> TextClassifier:
    """Load a skops / pickle file as a scikit-learn model, anything else as a transformers one.

    A directory holding exactly one ``.skops`` file and no ``config.json`` is a skops model.
    """
    name = check_model_string(model)
    path = Path(os.path.expanduser(name))
    if path.is_dir() and not (path / "config.json").exists():
        skops_files = sorted(path.glob("*.skops"))
        if len(skops_files) == 1:
            path = skops_files[0]
    if path.suffix in (".skops", *PICKLE_SUFFIXES):
        if not path.is_file():
            found = "is a directory, not a file" if path.exists() else "does not exist"
            raise ModelError(f"model file {quote(name)} {found}")
        from cardgen.models.sklearn import SklearnClassifier

        return SklearnClassifier.load(path, allow_pickle=allow_pickle, trusted_types=trusted_types)
    if path.is_file():
        hint = (
            f" (for this one, its directory {path.parent})"
            if path.suffix in (".json", ".safetensors", ".bin")
            else ""
        )
        raise ModelError(
            f"cannot tell what kind of model {quote(name)} is; pass a transformers model "
            f"directory{hint}, a .skops file or (with --allow-pickle) a "
            f"{'/'.join(PICKLE_SUFFIXES)} file"
        )
    if trusted_types:
        raise ModelError(
            f"--trust names the types a .skops file may load, but {quote(name)} is a "
            "transformers model, which loads none; drop --trust"
        )
    from cardgen.models.transformers import TransformersClassifier

    return TransformersClassifier.load(
        name,
        revision=revision,
        device=device,
        dtype=dtype,
        max_length=max_length,
        trust_remote_code=trust_remote_code,
    )
