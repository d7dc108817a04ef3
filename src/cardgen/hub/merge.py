"""``push --merge-with-hub``: merge a local card into the README.md the Hub has now.

The README is read at the commit the branch points to, and that commit becomes the parent of
the push: when anything was committed in between, the Hub refuses the commit and nothing is
overwritten (see ``_hub_commit``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.cards.file import check_merged_metadata
from cardgen.cards.frontmatter import split_front_matter
from cardgen.cards.merge import merge_card
from cardgen.cards.sections import MAX_CARD_BYTES, find_blocks
from cardgen.errors import CardError, HubError
from cardgen.results.types import COMMIT_ID

if TYPE_CHECKING:
    from huggingface_hub import HfApi

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class HubMerge:
    """The merged card, the commit it was merged onto, and the change as a unified diff."""

    text: str
    parent_commit: str
    diff: str


def merge_with_hub(
    local: str,
    card: Path,
    repo_id: str,
    revision: str,
    *,
    api: HfApi | None,
    token: str | None,
    discard_edits: bool = False,
) -> HubMerge:
    """Merge ``local`` (the text of ``card``, a card cardgen wrote) into the repo's README;
    CardError when someone edited cardgen's sections there, unless ``discard_edits``."""
    from cardgen.hub.commit import call_hub

    _, body = split_front_matter(local)
    if not find_blocks(body, source=str(card)):
        raise CardError(
            f"{card} has no cardgen sections to merge into the Hub's README.md; render it with "
            "`cardgen card RUN --output CARD` first"
        )
    parent, remote = call_hub(
        lambda hub: _download(hub, repo_id, revision),
        repo_id=repo_id,
        revision=revision,
        action="reading README.md of",
        api=api,
        token=token,
        require_token=False,
        idempotent=True,
    )
    where = f"the README.md of {repo_id}@{revision} on the Hub"
    merged = merge_card(remote or "", local, source=where, discard_edits=discard_edits)
    check_merged_metadata(
        merged,
        source=f"the card merged into {where}",
        fix=f"fix it in {card} or in the README.md on the Hub",
    )
    before = (remote or "").splitlines(keepends=True)
    after = merged.splitlines(keepends=True)
    diff = "".join(
        difflib.unified_diff(
            before, after, f"a/README.md ({repo_id}@{parent[:12]})", "b/README.md (merged)"
        )
    )
    return HubMerge(text=merged, parent_commit=parent, diff=_visible(diff))


def _download(api: Any, repo_id: str, revision: str) -> tuple[str, str | None]:
    """``(commit, README text or None)`` of ``repo_id`` at ``revision``.

    The README is one GET of at most MAX_CARD_BYTES, kept in memory: ``hf_hub_download`` would
    retry a silent Hub for minutes on its own and write whatever size it is sent to disk.
    """
    sha = getattr(api.model_info(repo_id, revision=revision), "sha", None)
    if not isinstance(sha, str) or not COMMIT_ID.fullmatch(sha):
        raise HubError(
            f"the Hub gave no commit id for {repo_id}@{revision}, so a concurrent change could "
            "not be detected; try again later"
        )
    what = f"the README.md of {repo_id}"
    data = read_hub_file(api, repo_id, "README.md", sha, max_bytes=MAX_CARD_BYTES, what=what)
    if data is None:
        return sha, None
    try:
        return sha, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (at byte {exc.start:,})"
        raise CardError(f"{what} is {detail}; fix it on the Hub") from None


def read_hub_file(
    api: Any, repo_id: str, path: str, commit: str, *, max_bytes: int, what: str
) -> bytes | None:
    """The bytes of ``path`` in ``repo_id`` at ``commit``, or None when it has no such file:
    one GET of at most ``max_bytes`` (CardError past it), kept in memory."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError
    from huggingface_hub.utils import get_session, hf_raise_for_status

    url = hf_hub_url(repo_id, path, revision=commit, endpoint=api.endpoint)
    data = bytearray()
    with get_session().stream("GET", url, headers=api._build_hf_headers()) as response:
        try:
            hf_raise_for_status(response)
        except EntryNotFoundError:
            return None
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise CardError(f"{what} is larger than {max_bytes:,} bytes, cardgen's limit")
    return bytes(data)


def _visible(text: str) -> str:
    """``text`` with control characters shown as escapes, so a README cannot drive a terminal."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
