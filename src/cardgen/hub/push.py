"""``push_card``: publish a model card, with the images it links, to the Hub.

Everything is checked before anything is sent, in ``--dry-run`` too: the repo id and branch,
the card's metadata (read with cardgen's bounded YAML loader), every image it links (a
path inside the card's folder) and the ``.eval_results`` files beside it (see
``cardgen.hub.eval_results``). The token comes from ``--token``, ``HF_TOKEN`` or the
huggingface_hub login and never appears in cardgen's output or messages: Hub failures become
messages written here, scrubbed of anything token-like. Nothing holding a token is sent or
shown either: the card, its images, and with ``merge_with_hub`` the merged card and its diff are
scanned for the user's tokens and for anything shaped like one (see ``_secrets``). Every request
to the Hub is time-limited and a failed one tried again a bounded number of times (see
``_hub_http``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cardgen.cards.file import CARD_PATH_IN_REPO, linked_images, read_card_text, validate_card
from cardgen.errors import CardError, UsageError
from cardgen.hub.eval_results import check_hub_eval_results, eval_results_to_push
from cardgen.hub.http import hub_limits
from cardgen.trust.secrets import known_tokens, refuse_tokens
from cardgen.trust.untrusted import quote

if TYPE_CHECKING:
    from huggingface_hub import HfApi

DEFAULT_COMMIT_MESSAGE = "Update model card with cardgen"

# huggingface_hub's validate_repo_id, in ASCII: [namespace/]name, each 1-96 characters of
# letters, digits, "_", "-" and ".", starting and ending with a letter, digit or "_".
_REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")
_BAD_REVISION = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|[/.]$|\.lock$")


@dataclass
class PushResult:
    """What ``push_card`` committed (or, with ``dry_run``, would commit)."""

    repo_id: str
    revision: str
    create_pr: bool
    files: list[tuple[str, Path]]
    commit_message: str
    dry_run: bool
    commit_url: str | None = None
    pr_url: str | None = None
    sizes: list[int] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)  # files sent from memory
    parent_commit: str | None = None  # with --merge-with-hub: the commit merged onto
    diff: str | None = None  # with --merge-with-hub: the change to the Hub's README.md
    notes: list[str] = field(default_factory=list)  # e.g. .eval_results files left out

    def describe(self) -> str:
        """Human summary of the commit, one file a line."""
        verb = "would commit" if self.dry_run else "committed"
        target = "as a pull request against" if self.create_pr else "to"
        lines = [f"{verb} {len(self.files)} file(s) {target} {self.repo_id}@{self.revision}:"]
        sizes = self.sizes or [_size(local) for _, local in self.files]
        lines += [
            f"  {repo_path}  ({size:,} bytes)"
            for (repo_path, _), size in zip(self.files, sizes, strict=True)
        ]
        if self.parent_commit:
            lines.append(f"merged with README.md at commit {self.parent_commit[:12]}")
        lines += self.notes
        lines.append(f"commit message: {self.commit_message}")
        if self.pr_url or self.commit_url:
            lines.append(
                f"{'pull request' if self.pr_url else 'commit'}: {self.pr_url or self.commit_url}"
            )
        return "\n".join(lines)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise CardError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_repo_id(repo_id: object) -> str:
    """``repo_id`` when huggingface_hub would accept it (``name`` or ``namespace/name``, each
    1-96 of ``A-Z a-z 0-9 _ - .``, no ``--`` or ``..``, not ending in ``.git``)."""
    if not isinstance(repo_id, str) or not (
        _REPO_ID.fullmatch(repo_id)
        and "--" not in repo_id
        and ".." not in repo_id
        and not repo_id.endswith(".git")
    ):
        raise UsageError(
            f"--repo-id must look like ORG/NAME or NAME (letters, digits, '-', '_', '.'; at most "
            f"96 characters each; no '--' or '..'), got {quote(repo_id)}"
        )
    return repo_id


def check_revision(revision: object) -> str | None:
    """``revision`` when it is None or a usable branch name; UsageError otherwise."""
    if revision is None:
        return None
    if (
        not isinstance(revision, str)
        or not revision
        or len(revision) > 255
        or (_BAD_REVISION.search(revision) or not revision.isascii())
    ):
        raise UsageError(
            f"--revision must be a branch name (e.g. main or dev), got {quote(revision)}"
        )
    return revision


def _check_token(token: object) -> None:
    """UsageError when ``token`` is given but cannot be a token; never quotes it."""
    if token is None:
        return
    if (
        not isinstance(token, str)
        or not (0 < len(token) <= 1000)
        or not (token.isascii() and token.isprintable() and " " not in token)
    ):
        raise UsageError(
            "--token is not a Hugging Face access token (expected printable characters without "
            "spaces, like hf_...); pass the token itself, or set HF_TOKEN instead"
        )


def push_card(
    path: str | os.PathLike[str],
    repo_id: str,
    *,
    api: HfApi | None = None,
    create_pr: bool = False,
    revision: str | None = None,
    dry_run: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    token: str | None = None,
    merge_with_hub: bool = False,
    discard_edits: bool = False,
) -> PushResult:
    """Upload a card as the repo's README.md, with the images it links and cardgen's
    ``.eval_results`` files beside it, in one commit.

    The repo id, branch, metadata and images are validated first; ``dry_run`` stops there and
    reports what would be sent. ``api`` defaults to ``huggingface_hub.HfApi(token=token)``
    (``token`` defaults to ``HF_TOKEN`` or the login). Hub and network failures raise HubError
    with one clear message that never holds the token. ``merge_with_hub`` merges the card into
    the repo's README.md at ``revision`` (as ``cardgen card --merge`` does; read in
    ``dry_run`` too, with the diff in ``PushResult.diff``) and commits on top of the commit it
    read, so a concurrent change makes the commit fail instead of being overwritten; an edit
    someone made there inside cardgen's sections is refused unless ``discard_edits``; a
    malformed ``.eval_results`` file there, or one of the name of cardgen's that is not
    cardgen's, is refused (see ``cardgen.hub.eval_results``).

    A card, image, merged card or diff holding a Hub token raises CardError before anything is
    sent; every request waits at most ``CARDGEN_HUB_TIMEOUT`` seconds (default 30).
    """
    check_repo_id(repo_id)
    check_revision(revision)
    _check_token(token)
    hub_limits()  # a bad CARDGEN_HUB_TIMEOUT is refused in --dry-run too
    if discard_edits and not merge_with_hub:
        raise UsageError("--discard-edits goes with --merge-with-hub; add it, or drop both")
    if create_pr and revision not in (None, "main"):
        raise UsageError(
            f"--create-pr opens a pull request against main; drop --revision {revision}"
        )
    if not isinstance(commit_message, str) or not commit_message.strip():
        raise UsageError(
            f"the commit message must be a non-empty string, got {quote(commit_message)}"
        )
    card = Path(path)
    validate_card(card)
    files = [(CARD_PATH_IN_REPO, card), *linked_images(card)]
    eval_results, notes = eval_results_to_push(card)  # cardgen's .eval_results, checked
    eval_results = [f for f in eval_results if f.path_in_repo not in dict(files)]
    files += [(f.path_in_repo, f.path) for f in eval_results]
    secrets = known_tokens([token, getattr(api, "token", None)])
    for _, local in files:
        refuse_tokens(local, source=str(local), secrets=secrets)
    merged = None
    if merge_with_hub:
        from cardgen.hub.merge import merge_with_hub as merge

        local_text = read_card_text(card)
        merged = merge(
            local_text,
            card,
            repo_id,
            revision or "main",
            api=api,
            token=token,
            discard_edits=discard_edits,
        )
        _refuse_hub_tokens(merged.text, merged.diff, f"{repo_id}@{revision or 'main'}", secrets)
        if eval_results:
            notes += check_hub_eval_results(
                [f.path_in_repo for f in eval_results],
                repo_id,
                revision or "main",
                merged.parent_commit,
                api=api,
                token=token,
            )
    result = PushResult(
        repo_id=repo_id,
        revision=revision or "main",
        create_pr=create_pr,
        files=files,
        commit_message=commit_message,
        dry_run=dry_run,
        sizes=[_size(local) for _, local in files],
        contents={f.path_in_repo: f.data for f in eval_results},  # the bytes checked
        notes=notes,
    )
    if merged is not None:
        result.contents[CARD_PATH_IN_REPO] = merged.text.encode()
        result.sizes[0] = len(result.contents[CARD_PATH_IN_REPO])
        result.parent_commit, result.diff = merged.parent_commit, merged.diff
    if dry_run:
        return result
    from cardgen.hub.commit import commit

    info = commit(result, api=api, token=token)
    result.commit_url = _url(getattr(info, "commit_url", None))
    result.pr_url = _url(getattr(info, "pr_url", None))
    return result


def _refuse_hub_tokens(text: str, diff: str, where: str, secrets: list[str]) -> None:
    """CardError when the card merged with the Hub's README.md, or the diff that shows the
    change, holds a token: it came from the README.md on the Hub."""
    fix = "remove it from the README.md on the Hub (and revoke the token) before pushing"
    refuse_tokens(text, source=f"README.md merged with {where}", secrets=secrets, fix=fix)
    refuse_tokens(diff, source=f"the diff with README.md of {where}", secrets=secrets, fix=fix)


def _url(value: object) -> str | None:
    if isinstance(value, str) and value.isprintable() and len(value) <= 2000:
        return value
    return None
