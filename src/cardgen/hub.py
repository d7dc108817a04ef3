"""Model cards and the Hub: metadata validation, baseline values, and ``push_card``.

The card's metadata is checked here before anything is sent, so that a bad card is refused
locally rather than by the Hub after an upload. The token comes from ``HF_TOKEN`` or the
huggingface_hub login and is never printed, logged or written by cardgen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import yaml

from .errors import CardError, HubError, UsageError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

CARD_PATH_IN_REPO = "README.md"
DEFAULT_COMMIT_MESSAGE = "Update model card with cardgen"

_FRONT_MATTER = re.compile(r"^\s*---\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.S)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
_OPTIONAL_TEXT = ("license", "library_name", "pipeline_tag", "model_name")
_OPTIONAL_TEXT_OR_LIST = ("language", "base_model", "datasets", "tags", "metrics")


# --- card metadata -------------------------------------------------------------------------


def read_card_metadata(path: str | Path) -> dict[str, Any]:
    """The YAML front matter of a card as a dict; CardError when missing or unparseable."""
    card = Path(path)
    try:
        text = card.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CardError(f"no model card at {card}; render one with cardgen first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"cannot read model card {card}: {exc}") from exc
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise CardError(
            f"{card} has no YAML metadata block: a model card starts with '---', the metadata "
            "(model-index, license, ...) and another '---'"
        )
    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise CardError(f"the metadata of {card} is not valid YAML: {exc}") from exc
    if not isinstance(metadata, dict):
        raise CardError(f"the metadata of {card} must be a YAML mapping, got {metadata!r}")
    return metadata


def card_metadata_problems(metadata: dict[str, Any]) -> list[str]:
    """Everything in a card's metadata that the Hub would refuse or misread, as messages.

    A ``model-index`` is required, with the fields the Hub needs: each entry's ``name`` and
    ``results``; each result's ``task.type``, ``dataset.name`` / ``dataset.type`` and
    ``metrics``; each metric's ``type`` and a finite numeric ``value``.
    """
    problems = []
    for key in _OPTIONAL_TEXT:
        if key in metadata and not isinstance(metadata[key], str):
            problems.append(f"{key} must be a string, got {metadata[key]!r}")
    for key in _OPTIONAL_TEXT_OR_LIST:
        value = metadata.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(_text(v) for v in value))
        ):
            problems.append(f"{key} must be a string or a list of strings, got {value!r}")
    index = metadata.get("model-index")
    if index is None:
        return [*problems, "model-index is missing: the card reports no evaluation results"]
    if not isinstance(index, list) or not index:
        return [*problems, "model-index must be a non-empty list"]
    for i, entry in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping")
            continue
        if not _text(entry.get("name")):
            problems.append(f"{where}.name is missing (the model's name)")
        results = entry.get("results")
        if not isinstance(results, list) or not results:
            problems.append(f"{where}.results must be a non-empty list")
            continue
        for j, result in enumerate(results):
            problems += _result_problems(result, f"{where}.results[{j}]")
    return problems


def _result_problems(result: Any, where: str) -> list[str]:
    if not isinstance(result, dict):
        return [f"{where} must be a mapping"]
    problems = []
    task = result.get("task")
    if not isinstance(task, dict) or not _text(task.get("type")):
        problems.append(f"{where}.task.type is missing (e.g. text-classification)")
    dataset = result.get("dataset")
    if not isinstance(dataset, dict):
        problems.append(f"{where}.dataset is missing (name and type)")
    else:
        problems += [
            f"{where}.dataset.{key} is missing"
            for key in ("name", "type")
            if not _text(dataset.get(key))
        ]
        problems += [
            f"{where}.dataset.{key} must be a string, got {dataset[key]!r}"
            for key in ("config", "split", "revision")
            if dataset.get(key) is not None and not isinstance(dataset[key], str)
        ]
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return [*problems, f"{where}.metrics must be a non-empty list"]
    for k, metric in enumerate(metrics):
        at = f"{where}.metrics[{k}]"
        if not isinstance(metric, dict):
            problems.append(f"{at} must be a mapping with type, name and value")
            continue
        if not _text(metric.get("type")):
            problems.append(f"{at}.type is missing (the results key, e.g. accuracy)")
        if metric.get("name") is not None and not isinstance(metric["name"], str):
            problems.append(f"{at}.name must be a string, got {metric['name']!r}")
        value = metric.get("value")
        if not _number(value):
            problems.append(f"{at}.value must be a finite number, got {value!r}")
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_card(path: str | Path) -> dict[str, Any]:
    """The card's metadata, or CardError listing every problem found in it."""
    metadata = read_card_metadata(path)
    problems = card_metadata_problems(metadata)
    if problems:
        listed = "; ".join(problems)
        raise CardError(f"the metadata of {path} would be refused by the Hub: {listed}")
    return metadata


def card_metric_values(path: str | Path) -> dict[str, float]:
    """``{metric type: value}`` from a card's model-index (the gate's baseline values)."""
    from huggingface_hub import ModelCard

    validate_card(path)
    card = ModelCard.load(path)
    values: dict[str, set[float]] = {}
    for result in card.data.eval_results or []:
        values.setdefault(result.metric_type, set()).add(float(result.metric_value))
    ambiguous = {name: sorted(found) for name, found in values.items() if len(found) > 1}
    if ambiguous:
        listed = "; ".join(f"{name}: {found}" for name, found in ambiguous.items())
        raise CardError(
            f"{path} reports several values for the same metric ({listed}); gate against a "
            "card with one result per metric, or against a results directory"
        )
    return {name: found.pop() for name, found in values.items()}


def linked_images(path: str | Path) -> list[tuple[str, Path]]:
    """``(path in repo, local file)`` for each local image the card's Markdown links.

    Links are resolved against the card's folder and must stay inside it, since the Hub shows
    them from the same relative path in the repository.
    """
    card = Path(path)
    text = _FRONT_MATTER.sub("", card.read_text(encoding="utf-8-sig"), count=1)
    folder = card.parent.resolve()
    found: dict[str, Path] = {}
    for link in _MARKDOWN_IMAGE.findall(text) + _HTML_IMAGE.findall(text):
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        relative = unquote(parts.path)
        local = (folder / relative).resolve()
        if relative.startswith("/") or not local.is_relative_to(folder):
            raise CardError(
                f"{card} links image {link!r} outside the card's folder, which the Hub cannot "
                "show; copy the image next to the card and link it relatively"
            )
        if not local.is_file():
            raise CardError(f"{card} links image {link!r} but {local} does not exist")
        found.setdefault(PurePosixPath(*local.relative_to(folder).parts).as_posix(), local)
    return sorted(found.items())


# --- push ----------------------------------------------------------------------------------


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

    def describe(self) -> str:
        """Human summary of the commit, one file a line."""
        verb = "would commit" if self.dry_run else "committed"
        target = "as a pull request against" if self.create_pr else "to"
        lines = [f"{verb} {len(self.files)} file(s) {target} {self.repo_id}@{self.revision}:"]
        lines += [
            f"  {repo_path}  ({local.stat().st_size:,} bytes)" for repo_path, local in self.files
        ]
        lines.append(f"commit message: {self.commit_message}")
        if self.pr_url or self.commit_url:
            lines.append(
                f"{'pull request' if self.pr_url else 'commit'}: {self.pr_url or self.commit_url}"
            )
        return "\n".join(lines)


def push_card(
    path: str | Path,
    repo_id: str,
    *,
    api: HfApi | None = None,
    create_pr: bool = False,
    revision: str | None = None,
    dry_run: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
) -> PushResult:
    """Upload a card as the repo's README.md, with the images it links, in one commit.

    The metadata is validated first; ``dry_run`` stops there and reports what would be sent.
    ``api`` defaults to ``huggingface_hub.HfApi()`` (token from ``HF_TOKEN`` or the login).
    Hub and network failures raise HubError with one clear message.
    """
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise UsageError(f"--repo-id must look like ORG/NAME, got {repo_id!r}")
    if create_pr and revision not in (None, "main"):
        raise UsageError(
            f"--create-pr opens a pull request against main; drop --revision {revision}"
        )
    card = Path(path)
    validate_card(card)
    result = PushResult(
        repo_id=repo_id,
        revision=revision or "main",
        create_pr=create_pr,
        files=[(CARD_PATH_IN_REPO, card), *linked_images(card)],
        commit_message=commit_message,
        dry_run=dry_run,
    )
    if dry_run:
        return result
    from huggingface_hub import CommitOperationAdd

    if api is None:
        api = _default_api()
    operations = [CommitOperationAdd(repo_path, str(local)) for repo_path, local in result.files]
    try:
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message,
            revision=revision,
            create_pr=create_pr,
        )
    except Exception as exc:
        raise _hub_error(exc, repo_id, revision, getattr(api, "endpoint", None)) from None
    result.commit_url = getattr(info, "commit_url", None)
    result.pr_url = getattr(info, "pr_url", None)
    return result


def _default_api() -> HfApi:
    from huggingface_hub import HfApi, get_token

    if get_token() is None:
        raise HubError(
            "no Hugging Face token found: set HF_TOKEN to a token with write access, or run "
            "`hf auth login`"
        )
    return HfApi()


def _hub_error(
    exc: Exception, repo_id: str, revision: str | None, endpoint: str | None
) -> Exception:
    """One clear HubError or CardError for a failed commit; other exceptions pass unchanged.

    Messages are written here, never copied from the exception, so no credential can leak.
    """
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    where = endpoint or "the Hub"
    if isinstance(exc, HfHubHTTPError):
        status = getattr(exc.response, "status_code", None)
        if status == 401:
            return HubError(
                f"{where} refused the credentials (401 Unauthorized): set HF_TOKEN to a valid "
                "token with write access, or run `hf auth login`"
            )
        if status == 403:
            return HubError(
                f"no permission to write to {repo_id} (403 Forbidden): use a token with write "
                "access to it, or pass --create-pr to propose the card as a pull request"
            )
        if status == 404:
            branch = f" or branch {revision!r}" if revision else ""
            return HubError(
                f"repository {repo_id}{branch} not found on {where} (404 Not Found): check "
                f"--repo-id and --revision, or create it first with `hf repo create {repo_id}`"
            )
        return HubError(
            f"{where} answered HTTP {status} while committing to {repo_id}; try again later"
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return HubError("HF_HUB_OFFLINE is set, so nothing can be pushed; unset it to push")
    if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
        return CardError(f"the Hub refused the card's metadata: {' '.join(str(exc).split())}")
    network = isinstance(exc, OSError) or any(
        cls.__name__ == "TransportError" for cls in type(exc).__mro__
    )
    if network:
        return HubError(
            f"cannot reach {where} ({type(exc).__name__}): check the network connection, "
            "a proxy, or HF_ENDPOINT"
        )
    return exc
