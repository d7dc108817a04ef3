"""Checks on a transformers checkpoint before and after transformers loads it.

A model directory or hub id is untrusted: its path may be mistyped, its ``config.json`` may be
malformed or describe a model far larger than its weights, and its tokenizer may not belong to
its model (then every word becomes ``[UNK]`` and accuracy quietly halves). Everything here
raises ModelError with what was found and how to fix it.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from cardgen.data.labels import MAX_LABELS
from cardgen.errors import ModelError
from cardgen.models._formats import (
    WEIGHT_PATTERNS,
    conversion_error,
    foreign_checkpoint,
    listed_files,
)
from cardgen.trust.untrusted import parse_json, quote, read_text

CONFIG_FILE = "config.json"
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
TOKENIZER_SUFFIXES = (".model", ".spm", ".tiktoken")
MAX_MODEL_STRING = 4096
MAX_LAYERS = 1_000
MAX_LABEL_CHARS = 256
# Config keys that count modules transformers builds one by one: a huge value hangs the load.
LAYER_KEY = re.compile(r"(^|_)(n|num)_?(hidden_)?(layers?|blocks|experts)$|^n_layer$")
# Sentences of common words that any tokenizer fit for the model should mostly know.
COMMON_TEXTS = (
    "the movie was good and the food was bad",
    "I would like to go there again.",
    "This is a new day for the people of the city.",
)


def tokenizer_fix(directory: Path | None) -> str:
    """How to give a model its own tokenizer back, for a local directory or a hub model."""
    if directory is None:
        return (
            "the hub repository's tokenizer does not belong to its model; save the model and "
            "the tokenizer of its base model into one directory and pass that"
        )
    return (
        f"copy the tokenizer files of the base model into {directory} "
        "(AutoTokenizer.from_pretrained(BASE).save_pretrained(DIR))"
    )


def check_model_string(model: str | os.PathLike[str]) -> str:
    """``model`` as a string, or ModelError when it cannot name a directory, file or hub id."""
    if not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"model must be a directory, file or hub id, got a {type(model).__name__}")
    text = os.fspath(model)
    if not isinstance(text, str) or not text.strip():
        raise ModelError("no model given; pass a model directory, a .skops file or a hub id")
    if (
        "\x00" in text
        or len(text) > MAX_MODEL_STRING
        or any(len(part) > 255 for part in re.split(r"[/\\]", text))
    ):
        raise ModelError(f"model {quote(text)} is not a usable path or hub id")
    return text


def looks_like_path(model: str) -> bool:
    """True when ``model`` can only be meant as a local path, never as a hub id."""
    if model.startswith((".", "/", "~")) or "\\" in model or model.endswith(("/", os.sep)):
        return True
    if re.match(r"^[A-Za-z]:([\\/]|$)", model) or any(c.isspace() for c in model):
        return True
    if model.count("/") >= 2 or (os.sep != "/" and model.count(os.sep) >= 2):
        return True
    parts = Path(model).parts
    return len(parts) > 1 and Path(parts[0]).exists()


def local_directory(model: str) -> Path | None:
    """The model directory ``model`` names, None for a hub id; ModelError for a missing path or
    a string that is neither."""
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"model {quote(model)} is a file, not a transformers model directory")
    if looks_like_path(model):
        raise ModelError(f"model directory {quote(model)} does not exist{_near_miss(path)}")
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(model)
    except HFValidationError:
        raise ModelError(
            f"model {quote(model)} is not a local directory and not a hub id (ORG/NAME of "
            "letters, digits, '-', '_' and '.'); check the path or the model's hub name"
        ) from None
    return None


def _near_miss(path: Path) -> str:
    """``; did you mean ...?`` when the parent directory holds a similar name."""
    parent = path.parent
    try:
        names = [entry.name for _, entry in zip(range(1000), parent.iterdir(), strict=False)]
    except OSError:
        return f" (and neither does {parent})" if not parent.exists() else ""
    close = difflib.get_close_matches(path.name, names, n=1)
    return f"; did you mean {parent / close[0]}?" if close else ""


def check_directory(directory: Path, *, model: str) -> None:
    """A local checkpoint must hold config.json, weights and its own tokenizer files."""
    where = f"model directory {quote(model)}"
    if not (directory / CONFIG_FILE).is_file():
        skops = sorted(p.name for p in directory.glob("*.skops"))
        files = listed_files(directory)
        pickles = sorted(name for name in files if Path(name).suffix in PICKLE_SUFFIXES)
        foreign = foreign_checkpoint(files)
        hint = (
            f"; it holds {len(skops)} .skops files, so pass one of them"
            if skops
            else f"; it holds {', '.join(map(quote, pickles[:3]))}: pass that file, with "
            "--allow-pickle if you trust it (loading a pickle can run code)"
            if pickles
            else f"; it holds a {foreign[1]} model ({foreign[2]}), which cardgen cannot run: "
            "pass a PyTorch transformers checkpoint (see the README's Model formats)"
            if foreign
            else "; pass the directory that model.save_pretrained() wrote"
        )
        raise ModelError(f"{where} has no {CONFIG_FILE}{hint}")
    if not any(any(directory.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        refusal = conversion_error(model, listed_files(directory), hub=False)
        if refusal is not None:
            raise refusal
        raise ModelError(
            f"{where} has {CONFIG_FILE} but no weights (model.safetensors or "
            "pytorch_model.bin); save the model with model.save_pretrained() into it"
        )
    if not any((directory / name).is_file() for name in TOKENIZER_FILES) and not any(
        p.suffix in TOKENIZER_SUFFIXES for p in directory.iterdir()
    ):
        raise ModelError(
            f"{where} has no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...), so "
            "transformers would build a tokenizer that does not know the model's words; "
            + tokenizer_fix(directory)
        )
    tokenizer_config = directory / "tokenizer_config.json"
    if tokenizer_config.is_file():
        source = f"tokenizer_config.json of {where}"
        data = parse_json(
            read_text(tokenizer_config, error=ModelError, what=source),
            source=source,
            error=ModelError,
        )
        if not isinstance(data, dict):
            raise ModelError(f"{source} must be a JSON object, found {type(data).__name__}")


def read_config(file: Path, *, model: str, trust_remote_code: bool) -> dict[str, Any]:
    """config.json, parsed with bounds and checked before transformers builds anything."""
    source = f"config.json of model {quote(model)}"
    text = read_text(file, error=ModelError, what=source)
    if text.startswith("\ufeff"):
        raise ModelError(
            f"{source} starts with a byte order mark (BOM), which transformers cannot read; "
            "save it as UTF-8 without BOM"
        )
    data = parse_json(text, source=source, error=ModelError)
    if not isinstance(data, dict):
        raise ModelError(f"{source} must be a JSON object, found {type(data).__name__}")
    _check_model_type(data, source, trust_remote_code=trust_remote_code)
    _check_sizes(data, source)
    check_labels(data, source)
    return data


def _check_model_type(data: dict[str, Any], source: str, *, trust_remote_code: bool) -> None:
    model_type = data.get("model_type")
    if model_type is None:
        return
    if not isinstance(model_type, str):
        raise ModelError(
            f"{source}: model_type must be a name such as 'bert', got {quote(model_type)}"
        )
    from transformers import __version__ as version
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type in CONFIG_MAPPING:
        return
    if "auto_map" in data:
        if trust_remote_code:
            return
        raise ModelError(
            f"{source}: model_type {quote(model_type)} needs the model's own Python code "
            "(its auto_map), which cardgen does not run by default; pass --trust-remote-code "
            "only if you trust its author"
        )
    raise ModelError(
        f"{source}: model_type {quote(model_type)} is not one that transformers {version} "
        "knows; check the spelling, or upgrade transformers"
    )


def _check_sizes(data: Any, source: str, depth: int = 0) -> None:
    """Layer / expert counts must be plausible: transformers builds one module per layer."""
    if not isinstance(data, dict) or depth > 4:
        return
    for key, value in data.items():
        if isinstance(value, dict):
            _check_sizes(value, source, depth + 1)
        elif (
            isinstance(key, str)
            and LAYER_KEY.search(key)
            and isinstance(value, int)
            and not 0 <= value <= MAX_LAYERS
        ):
            raise ModelError(
                f"{source}: {key} is {quote(value)}, outside 0..{MAX_LAYERS:,}; the file is "
                "corrupt or not a real model's configuration"
            )


def check_labels(data: dict[str, Any], source: str) -> list[str] | None:
    """The labels ``id2label`` names in order (None when absent); ModelError when ``num_labels``
    and ``id2label`` are malformed, too many or disagree."""
    num_labels = data.get("num_labels")
    if num_labels is not None and (isinstance(num_labels, bool) or not isinstance(num_labels, int)):
        raise ModelError(f"{source}: num_labels must be a whole number, got {quote(num_labels)}")
    if isinstance(num_labels, int) and not 2 <= num_labels <= MAX_LABELS:
        raise ModelError(
            f"{source}: num_labels is {num_labels:,}; cardgen evaluates classifiers with 2 to "
            f"{MAX_LABELS:,} labels"
        )
    id2label = data.get("id2label")
    for key in ("label2id", "id2label"):
        value = data.get(key)
        if value is not None and (not isinstance(value, dict) or len(value) > MAX_LABELS):
            raise ModelError(
                f"{source}: {key} must be a JSON object of at most {MAX_LABELS:,} entries, "
                f"found {_describe(value)}"
            )
    if id2label is None:
        return None
    assert isinstance(id2label, dict)
    if not 2 <= len(id2label) <= MAX_LABELS:
        raise ModelError(
            f"{source}: id2label has {len(id2label)} label(s); cardgen evaluates classifiers "
            f"with 2 to {MAX_LABELS:,} labels"
        )
    if num_labels is not None and num_labels != len(id2label):
        raise ModelError(
            f"{source}: num_labels is {num_labels} but id2label names {len(id2label)} labels; "
            "make them agree (the classifier head decides which is right)"
        )
    by_index = {str(key): value for key, value in id2label.items()}
    expected = [str(i) for i in range(len(id2label))]
    if sorted(by_index, key=lambda k: (len(k), k)) != expected:
        found = ", ".join(quote(k, 20) for k in list(id2label)[:5])
        raise ModelError(
            f"{source}: id2label keys must be the output indices 0..{len(id2label) - 1}, "
            f"found {found}{', ...' if len(id2label) > 5 else ''}"
        )
    raws = [by_index[key] for key in expected]
    return check_label_names(
        [str(r) if isinstance(r, int) and not isinstance(r, bool) else r for r in raws],
        source=source,
    )


def check_label_names(labels: list[Any], *, source: str, noun: str = "label") -> list[str]:
    """``labels`` when each is a short, printable, distinct name; ModelError otherwise."""
    seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if (
            not isinstance(label, str)
            or not label.strip()
            or len(label) > MAX_LABEL_CHARS
            or any(ord(c) < 32 or ord(c) == 127 for c in label)
        ):
            raise ModelError(
                f"{source}: {noun} {index} is {quote(label)}; labels must be non-empty names of "
                f"at most {MAX_LABEL_CHARS} characters without control characters"
            )
        if label.lower() in seen:
            raise ModelError(
                f"{source}: {noun} {seen[label.lower()]} and {noun} {index} are both called "
                f"{quote(label)} "
                "(ignoring case), so results could not tell them apart; give each a distinct name"
            )
        seen[label.lower()] = index
    return list(labels)


def _describe(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {type(value).__name__} of {len(value):,} entries"
    return f"{quote(value)}"


def check_loading_info(info: dict[str, Any], *, model: str) -> None:
    """Weights the classifier needs but the checkpoint lacks would be random: refuse them."""
    missing = sorted(str(key) for key in info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        raise ModelError(
            f"model {quote(model)} has no weights for {shown}, so transformers would fill them "
            "with random numbers; it is not a sequence-classification checkpoint (or was saved "
            "incompletely): pass a model fine-tuned for classification"
        )


def check_tokenizer_fits(tokenizer: Any, model: Any, *, name: str, directory: Path | None) -> None:
    """The tokenizer must belong to the model: no ids past the embedding table, at most 10% of
    the embedding rows unused (beyond rounding the table up to a multiple of 64; real models
    leave under 2%), and common English words that are not all unknown tokens."""
    fix = tokenizer_fix(directory)
    size = _vocabulary_size(tokenizer)
    rows = getattr(_input_embeddings(model), "num_embeddings", None)
    if isinstance(rows, int) and size is not None:
        if size > rows:
            raise ModelError(
                f"the tokenizer of {quote(name)} has {size:,} tokens but the model only "
                f"{rows:,} embedding rows, so some tokens have no embedding: the tokenizer "
                f"belongs to another model; {fix}"
            )
        unused = rows - size
        if unused > rows // 10 and not (rows % 64 == 0 and unused < 128):
            raise ModelError(
                f"the tokenizer of {quote(name)} has {size:,} tokens but the model "
                f"{rows:,} embedding rows: the tokenizer belongs to another model or is "
                f"incomplete; {fix}"
            )
    unk = getattr(tokenizer, "unk_token_id", None)
    try:
        encoded = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in COMMON_TEXTS]
    except Exception as exc:  # a broken tokenizer raises anything
        raise ModelError(
            f"the tokenizer of {quote(name)} cannot encode plain English text "
            f"({type(exc).__name__}: {quote(str(exc))}); {fix}"
        ) from exc
    ids = [i for row in encoded for i in row]
    if not ids or (unk is not None and all(i == unk for i in ids)):
        raise ModelError(
            f"the tokenizer of {quote(name)} turns common words such as {quote(COMMON_TEXTS[0])} "
            f"into {'nothing' if not ids else 'unknown tokens only'}: it does not fit the "
            f"model; {fix}"
        )


def _vocabulary_size(tokenizer: Any) -> int | None:
    """Tokens the tokenizer can emit: its length, or one past its largest id if greater."""
    try:
        size = len(tokenizer)
        vocab = tokenizer.get_vocab()
        return max(size, max(vocab.values(), default=-1) + 1)
    except Exception:  # noqa: BLE001 - tokenizers without a vocabulary (byte-level) skip this
        return None


def _input_embeddings(model: Any) -> Any:
    try:
        return model.get_input_embeddings()
    except Exception:  # noqa: BLE001 - models without token embeddings skip the size check
        return None
