"""Keeping Hub tokens out of everything cardgen prints or writes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{6,}")


def redactor(secrets: Iterable[object] = ()) -> Callable[[str], str]:
    """A function that removes ``secrets``, the tokens in the environment and anything that
    looks like a Hub token (``hf_...``) from a text."""
    found = [*secrets, *(os.environ.get(name) for name in TOKEN_VARIABLES)]
    known = sorted({s for s in found if isinstance(s, str) and s}, key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in known:
            text = text.replace(secret, "***")
        return _TOKEN_LIKE.sub("hf_***", text)

    return redact
