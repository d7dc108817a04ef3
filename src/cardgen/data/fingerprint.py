"""Dataset fingerprints that shards can compute: blocks of rows hash independently."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from cardgen.errors import DataError
from cardgen.trust.untrusted import quote

FINGERPRINT_PREFIX = "rows-sha256:"
"""Dataset fingerprints: sha256 over the digests of blocks of FINGERPRINT_BLOCK_ROWS consecutive
rows (the last may be shorter), each block digest the sha256 over its rows' ``row_digest``s in
order. Blocks hash independently, so Spark computes the same value without collecting rows.
Fingerprints of cardgen before this scheme start with ``sha256:``."""
FINGERPRINT_BLOCK_ROWS = 65_536


def row_digest(text: str, pair: str | None, label: Any, *, row: int, source: str) -> bytes:
    """sha256 of one row's JSON (``[text, label]`` or ``[text, pair, label]``); DataError for a
    text with an unpaired surrogate."""
    item = [text, label] if pair is None else [text, pair, label]
    try:
        return hashlib.sha256(json.dumps(item, ensure_ascii=False).encode()).digest()
    except UnicodeEncodeError:
        raise DataError(
            f"row {row} of {source} has a text with an unpaired surrogate "
            f"({quote(text if pair is None else [text, pair])}), which is not valid Unicode; "
            "fix the \\u escapes in the file"
        ) from None


def dataset_fingerprint(block_digests: Sequence[bytes]) -> str:
    """A dataset's fingerprint from its block digests in row order (see FINGERPRINT_PREFIX)."""
    return FINGERPRINT_PREFIX + hashlib.sha256(b"".join(block_digests)).hexdigest()


def rows_fingerprint(rows: Iterable[tuple[int, str, str | None, Any]], *, source: str) -> str:
    """The fingerprint of ``(row number, text, pair, label)`` rows in order."""
    blocks: list[bytes] = []
    block = hashlib.sha256()
    n = 0
    for n, (row, text, pair, label) in enumerate(rows, 1):
        block.update(row_digest(text, pair, label, row=row, source=source))
        if n % FINGERPRINT_BLOCK_ROWS == 0:
            blocks.append(block.digest())
            block = hashlib.sha256()
    if n % FINGERPRINT_BLOCK_ROWS:
        blocks.append(block.digest())
    return dataset_fingerprint(blocks)
