"""Checkpoints cardgen cannot run (TensorFlow, Keras, Flax, ONNX) and how to convert them.

cardgen runs PyTorch transformers checkpoints. transformers 5 dropped TensorFlow and Flax, but
transformers 4 still converts their weights, so a TensorFlow or Flax checkpoint is an input
error whose message holds the commands that convert it in a separate environment.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shlex
from collections.abc import Iterable
from pathlib import Path

from cardgen.errors import ModelError
from cardgen.trust.untrusted import quote

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")
# (format, what it is called, file patterns); the first format found names the error.
FORMATS = (
    ("tensorflow", "TensorFlow", ("tf_model.h5", "tf_model-*.h5", "tf_model.h5.index.json")),
    ("keras", "Keras", ("saved_model.pb", "*.keras", "*.weights.h5", "keras_metadata.pb")),
    ("flax", "Flax", ("flax_model.msgpack", "flax_model-*.msgpack", "*.msgpack.index.json")),
    ("onnx", "ONNX", ("*.onnx",)),
)
MAX_LISTED = 2000
MAX_DEPTH = 3  # saved_model/1/saved_model.pb, as TFPreTrainedModel.save_pretrained writes it
CONVERT = (
    "import sys; from transformers import AutoModelForSequenceClassification as M, "
    "AutoTokenizer as T; M.from_pretrained(sys.argv[1], {flag}=True).save_pretrained("
    "sys.argv[2]); T.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[2])"
)
INSTALL = {"tensorflow": "tensorflow tf-keras torch", "flax": "flax jax torch"}


def listed_files(directory: Path) -> list[str]:
    """Paths of the files under ``directory`` relative to it, at most ``MAX_DEPTH`` levels deep
    and ``MAX_LISTED`` in all (a model directory is small; a huge tree is not read whole)."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        depth = len(Path(root).relative_to(directory).parts)
        if depth + 1 >= MAX_DEPTH:
            dirs.clear()
        found.extend((Path(root) / name).relative_to(directory).as_posix() for name in files)
        if len(found) >= MAX_LISTED:
            return found[:MAX_LISTED]
    return found


def foreign_checkpoint(files: Iterable[str]) -> tuple[str, str, str] | None:
    """(format, its name, the file found) for the first non-PyTorch format in ``files``."""
    names = sorted(files)
    for kind, title, patterns in FORMATS:
        for path in names:
            if any(fnmatch.fnmatch(Path(path).name, pattern) for pattern in patterns):
                return kind, title, path
    return None


def conversion_error(model: str, files: Iterable[str], *, hub: bool) -> ModelError | None:
    """ModelError naming the TensorFlow / Keras / Flax / ONNX checkpoint among ``files`` and how
    to convert it, or None when there is none or PyTorch weights are there too. ``model`` is
    the user's directory or hub id."""
    files = list(files)
    names = [Path(path).name for path in files]
    if any(fnmatch.fnmatch(name, pattern) for name in names for pattern in WEIGHT_PATTERNS):
        return None
    found = foreign_checkpoint(files)
    if found is None:
        return None
    kind, title, path = found
    where = f"{'hub model' if hub else 'model directory'} {quote(model)}"
    head = (
        f"{where} holds {title} weights ({path}) but no PyTorch weights (model.safetensors or "
        "pytorch_model.bin), and cardgen runs PyTorch checkpoints"
    )
    if kind == "onnx":
        return ModelError(
            f"{head}; an ONNX export cannot be converted back: pass the PyTorch checkpoint it "
            "was exported from"
        )
    source, target = ("DIR", "OUT") if hub and kind == "keras" else _shell_paths(model, hub=hub)
    flag, env = ("from_flax", "/tmp/flax") if kind == "flax" else ("from_tf", "/tmp/tf")
    commands = (
        f"python -m venv {env} && {env}/bin/pip install 'transformers<5' "
        f"{INSTALL.get(kind, INSTALL['tensorflow'])} && {env}/bin/python -c "
        f"{shlex.quote(CONVERT.format(flag=flag))} {source} {target}, then cardgen evaluate "
        f"--model {target} ..."
    )
    first = (
        ""
        if kind != "keras"
        else "transformers converts only the tf_model.h5 that a TensorFlow transformers "
        f"model's save_pretrained({source}) writes, so save it that way first, then "
    )
    return ModelError(
        f"{head}; {first}convert it once with transformers 4 (transformers 5 dropped "
        f"{'Flax' if kind == 'flax' else 'TensorFlow'}) in a separate environment: {commands}"
    )


def _shell_paths(model: str, *, hub: bool) -> tuple[str, str]:
    """The model and a converted copy beside it (in the working directory for a hub id),
    quoted for a POSIX shell; placeholders when the name is not printable."""
    if not model.isprintable() or len(model) > 300:
        return "SRC", "OUT"
    base = model.rstrip("/\\") or model
    target = f"{base.rsplit('/', 1)[-1]}-pytorch" if hub else f"{base}-pytorch"
    return shlex.quote(model), shlex.quote(target)


def hub_files(model_id: str, revision: str | None, snapshot: Path) -> list[str]:
    """Files of a hub model: those in its cached snapshot, plus the repository's file list
    when online (a failure to list them leaves the cached ones)."""
    from huggingface_hub import HfApi, constants

    from cardgen.hub.http import bounded_requests, hub_limits

    files = listed_files(snapshot) if snapshot.is_dir() else []
    if not constants.HF_HUB_OFFLINE:
        limits = hub_limits()  # huggingface_hub sets no timeout on this request
        # offline, gated, rate-limited or silent: keep what is cached
        with contextlib.suppress(Exception), bounded_requests(limits):
            files += HfApi().list_repo_files(model_id, revision=revision)
    return files
