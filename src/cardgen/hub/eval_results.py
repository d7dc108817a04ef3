"""The ``.eval_results`` files a push sends with the card, and those already on the Hub.

A push sends only cardgen's own files from the folder beside the card (see
``cardgen.cards.eval_results``); a commit names only the files it adds, so every other file,
here or on the Hub, stays byte for byte as it is. With ``--merge-with-hub`` the Hub's
``.eval_results`` folder is read at the commit the README.md was read from: a malformed file
there stops the push with its name and line, and so does a file of the name of one of cardgen's
that is not cardgen's; nothing of anyone else's is ever rewritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardgen.cards.eval_results_folder import LocalEvalResults, read_eval_results_dir
from cardgen.cards.eval_results_format import (
    EVAL_RESULTS_DIR,
    MAX_EVAL_RESULTS_BYTES,
    MAX_EVAL_RESULTS_FILES,
    is_eval_results_name,
    not_cardgens,
    parse_eval_results_bytes,
    written_by_cardgen,
)
from cardgen.errors import CardError, HubError
from cardgen.trust.untrusted import quote

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry, HfApi


def eval_results_to_push(card: Path) -> tuple[list[LocalEvalResults], list[str]]:
    """cardgen's files in the ``.eval_results`` folder beside ``card``, every file there
    checked; and a note for each file left out because it is not cardgen's."""
    mine, notes = [], []
    for file in read_eval_results_dir(card):
        if written_by_cardgen(file.entries):
            mine.append(file)
        else:
            notes.append(
                f"left out {file.path_in_repo}: cardgen pushes only the .eval_results files it "
                "wrote; upload yours yourself"
            )
    return mine, notes


def check_hub_eval_results(
    paths: list[str],
    repo_id: str,
    revision: str,
    commit: str,
    *,
    api: HfApi | None,
    token: str | None,
) -> list[str]:
    """Notes on what pushing cardgen's files at ``paths`` does to the ``.eval_results`` folder
    of ``repo_id`` at ``commit``; CardError for a malformed file there, or a file at one of
    ``paths`` that is not cardgen's."""
    from cardgen.hub.commit import call_hub

    remote = call_hub(
        lambda hub: _read_hub_folder(hub, repo_id, commit),
        repo_id=repo_id,
        revision=revision,
        action=f"reading {EVAL_RESULTS_DIR} of",
        api=api,
        token=token,
        require_token=False,
        idempotent=True,
    )
    notes = []
    for path in paths:
        entries = remote.get(path)
        if entries is None:
            continue
        if not written_by_cardgen(entries):
            raise CardError(
                f"{not_cardgens(f'{path} of {repo_id}@{revision} on the Hub', entries)}: rename "
                f"or remove {Path(path).name} beside your card, or that file on the Hub"
            )
        notes.append(f"replaces cardgen's own {path} on the Hub")
    kept = sorted(set(remote) - set(paths))
    if kept:
        more = f" and {len(kept) - 10:,} more" if len(kept) > 10 else ""
        shown = ", ".join(map(_shown, kept[:10])) + more
        notes.append(f"keeps {len(kept):,} other {EVAL_RESULTS_DIR} file(s) on the Hub: {shown}")
    return notes


def _read_hub_folder(api: Any, repo_id: str, commit: str) -> dict[str, list[EvalResultEntry]]:
    """``{path: entries}`` of every YAML file in the ``.eval_results`` folder of ``repo_id`` at
    ``commit``, each read with one bounded GET and checked."""
    from huggingface_hub.errors import EntryNotFoundError
    from huggingface_hub.hf_api import RepoFile

    from cardgen.hub.merge import read_hub_file

    paths = []
    try:
        for number, item in enumerate(
            api.list_repo_tree(repo_id, path_in_repo=EVAL_RESULTS_DIR, revision=commit), 1
        ):
            if number > MAX_EVAL_RESULTS_FILES:
                raise CardError(
                    f"the {EVAL_RESULTS_DIR} folder of {repo_id} on the Hub holds more than "
                    f"{MAX_EVAL_RESULTS_FILES:,} entries, over cardgen's limit; push without "
                    "--merge-with-hub, or tidy the folder first"
                )
            if isinstance(item, RepoFile) and is_eval_results_name(item.path):
                paths.append(item.path)
    except EntryNotFoundError:  # no such folder
        return {}
    found = {}
    for path in paths:
        where = f"{_shown(path)} of {repo_id}@{commit[:12]} on the Hub"
        data = read_hub_file(
            api, repo_id, path, commit, max_bytes=MAX_EVAL_RESULTS_BYTES, what=where
        )
        if data is None:
            raise HubError(f"the Hub listed {where} but did not serve it; try again later")
        found[path] = parse_eval_results_bytes(data, source=where, error=CardError)
    return found


def _shown(path: str) -> str:
    """A path named by the Hub, for a message: as it is when printable, else quoted."""
    return path if path.isprintable() else quote(path)
