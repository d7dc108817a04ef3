"""Keeping Hub tokens out of everything cardgen prints, writes or sends."""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import stat
from collections.abc import Callable, Iterable

from cardgen.errors import CardError

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{6,}")  # redacted from messages: broad on purpose
# What a Hub access token looks like: hf_ (user tokens) or api_org_ (old organization tokens)
# and 30 or more letters and digits (huggingface_hub itself only checks the api_org prefix), not
# inside a longer word (an identifier, or URL-safe base64 such as a data: URI).
_TOKEN_SHAPE = re.compile(rb"(?<![A-Za-z0-9_-])(?:hf_|api_org_)[A-Za-z0-9]{30,}")
_NEWLINE = b"\n"
_MIN_SECRET = 8  # a shorter "token" is no Hub token, and would be found in ordinary text


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


def known_tokens(secrets: Iterable[object] = ()) -> list[str]:
    """``secrets``, the tokens in the environment and those of the huggingface_hub login (its
    token file and stored tokens): every token a push could send. Reads files only."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_stored_tokens

    found = [*secrets, *(os.environ.get(name) for name in TOKEN_VARIABLES)]
    # no login, or one that cannot be read: nothing to add
    with contextlib.suppress(Exception):
        found += get_stored_tokens().values()
    login = constants.HF_TOKEN_PATH
    with contextlib.suppress(OSError, ValueError), open(login, encoding="utf-8") as handle:
        found.append(handle.read(4096).strip())
    return sorted(
        {s for s in found if isinstance(s, str) and len(s) >= _MIN_SECRET}, key=len, reverse=True
    )


def refuse_tokens(
    data: bytes | str | os.PathLike[str],
    *,
    source: str,
    secrets: Iterable[str] = (),
    fix: str = "remove it before pushing",
) -> None:
    """CardError naming ``source`` and the line (the byte, in a binary file) when ``data`` (a
    text, bytes or a file's path) holds one of ``secrets`` or a string shaped like a Hub token.

    The message never holds the value: it says where the token is and ``fix``.
    """
    if isinstance(data, (bytes, str)):
        _refuse_in(data.encode() if isinstance(data, str) else data, source, secrets, fix)
        return
    try:  # non-blocking, so that a FIFO put in the file's place cannot hang the scan
        fd = os.open(data, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CardError(f"cannot read {source}: {exc.strerror or type(exc).__name__}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CardError(f"{source} is not a regular file (a FIFO, device or socket)")
        if info.st_size:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                _refuse_in(mapped, source, secrets, fix)


def _refuse_in(data: bytes | mmap.mmap, source: str, secrets: Iterable[str], fix: str) -> None:
    hits = [(data.find(s.encode()), True) for s in secrets if len(s) >= _MIN_SECRET]
    shaped = _TOKEN_SHAPE.search(data)
    hits = [hit for hit in hits if hit[0] >= 0]
    if shaped is not None:
        hits.append((shaped.start(), False))
    if not hits:
        return
    offset, known = min(hits, key=lambda hit: (hit[0], not hit[1]))  # the first one
    if b"\0" in data[:8000]:  # git's test for a binary file: no lines to count
        where = f"byte {offset:,}"
    else:
        where = f"line {data[:offset].count(_NEWLINE) + 1:,}"
    what = (
        "one of your Hub tokens (from --token, HF_TOKEN or `hf auth login`)"
        if known
        else "what looks like a Hub token (hf_ and 30 or more letters and digits)"
    )
    raise CardError(f"{source} {where} contains {what} (not shown here); {fix}")
