"""The one call ``push_card`` makes to the Hub, and every way it can fail as one clear error.

Messages are written here, never copied from an exception, except the Hub's own words about
refused metadata or a refused request, which are scrubbed of the token and anything that looks
like one and clipped to a line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from cardgen.errors import CardError, CardgenError, HubError
from cardgen.hub.http import (
    TIMEOUT_VARIABLE,
    HubLimits,
    bounded_requests,
    hub_limits,
    worth_retrying,
)
from cardgen.trust.secrets import redactor
from cardgen.trust.untrusted import quote

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from cardgen.hub.push import PushResult

T = TypeVar("T")
_NETWORK = frozenset({"TransportError", "ConnectionError", "ProtocolError"})


def commit(result: PushResult, *, api: HfApi | None, token: str | None) -> Any:
    """``api.create_commit`` of ``result``'s files; CardError or HubError when it fails.

    With ``result.parent_commit`` the Hub refuses the commit when the branch has moved since.
    """
    from huggingface_hub import CommitOperationAdd

    def create(hub: HfApi) -> Any:
        operations = [
            CommitOperationAdd(repo, result.contents.get(repo) or str(local))
            for repo, local in result.files
        ]
        return hub.create_commit(
            result.repo_id,
            operations,
            commit_message=result.commit_message,
            revision=None if result.revision == "main" else result.revision,
            create_pr=result.create_pr,
            parent_commit=result.parent_commit,
        )

    return call_hub(
        create,
        repo_id=result.repo_id,
        revision=result.revision,
        action="committing to",
        api=api,
        token=token,
        conflict=result.parent_commit is not None,
    )


def call_hub(
    call: Callable[[HfApi], T],
    *,
    repo_id: str,
    revision: str,
    action: str,
    api: HfApi | None,
    token: str | None,
    require_token: bool = True,
    conflict: bool = False,
    idempotent: bool = False,
) -> T:
    """``call(api)`` with every request time-limited (``CARDGEN_HUB_TIMEOUT``) and tried again
    after a failure worth it (see ``worth_retrying``; ``idempotent`` when ``call`` changes
    nothing), with every failure turned into one CardgenError without the token."""
    limits = hub_limits()
    secrets = [token]
    tries = 0
    with bounded_requests(limits):  # one budget of tries for each request, across attempts
        while True:
            tries += 1
            try:
                if api is None and require_token:
                    api = _default_api(token)
                elif api is None:
                    api = _default_api(token, require=False)
                secrets.append(getattr(api, "token", None))
                return call(api)
            except Exception as exc:  # every failure becomes one message without the token
                if tries <= limits.retries and worth_retrying(exc, idempotent=idempotent):
                    time.sleep(limits.pause(tries - 1))
                    continue
                failure = exc
                break
    scrub = redactor(secrets)
    where = _where(getattr(api, "endpoint", None), scrub)
    if conflict and _status(failure) in (409, 412):
        raise HubError(
            f"{repo_id}@{revision} changed on {where} after its README.md was read for the "
            "merge, so the commit was refused and nothing was overwritten; run the push "
            "again to merge into the new version"
        ) from None
    raise _hub_error(failure, repo_id, revision, action, where, scrub, (limits, tries)) from None


def _status(exc: Exception) -> object:
    return getattr(getattr(exc, "response", None), "status_code", None)


def _default_api(token: str | None, *, require: bool = True) -> HfApi:
    from huggingface_hub import HfApi, get_token

    try:
        stored = get_token() if token is None else token
    except (OSError, ValueError) as exc:
        raise HubError(
            f"cannot read the Hugging Face login ({type(exc).__name__}): set HF_TOKEN instead, "
            "or run `hf auth login` again"
        ) from None
    if stored is None and require:
        raise HubError(
            "no Hugging Face token found: set HF_TOKEN to a token with write access, or run "
            "`hf auth login`"
        )
    return HfApi(token=token)


def _where(endpoint: object, scrub: Any) -> str:
    """The endpoint without credentials (``https://user:pass@host`` loses ``user:pass@``)."""
    if not isinstance(endpoint, str) or not endpoint:
        return "the Hub"
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the Hub"
    if not parts.scheme or not host:
        return "the Hub"
    where = scrub(f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/"))
    return where if where.isprintable() and len(where) <= 200 else "the Hub"


def _hub_error(
    exc: Exception,
    repo_id: str,
    revision: str,
    action: str,
    where: str,
    scrub: Any,
    tried: tuple[HubLimits, int],
) -> CardgenError:
    """One clear CardgenError for a failed call; ``action`` is e.g. "committing to"."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    kind = scrub(type(exc).__name__)
    if isinstance(exc, CardgenError):
        return type(exc)(scrub(str(exc)))
    if isinstance(exc, OfflineModeIsEnabled):
        return HubError("HF_HUB_OFFLINE is set, so the Hub cannot be reached; unset it to push")
    if isinstance(exc, HfHubHTTPError):
        return _http_error(exc, repo_id, revision, action, where, scrub)
    if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
        detail = scrub(" ".join(str(exc).split()))
        return CardError(f"the Hub refused the card's metadata: {quote(detail, 300)[1:-1]}")
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        limits, tries = tried
        seconds = limits.connect if "ConnectTimeout" in names else limits.read
        times = "tried once" if tries == 1 else f"tried {tries} times"
        return HubError(
            f"{where} did not answer within {seconds:g} s ({kind}, {times}) while {action} "
            f"{repo_id}; check the network connection or HF_ENDPOINT, or raise "
            f"{TIMEOUT_VARIABLE} for a slow connection"
        )
    if isinstance(exc, ValueError):  # an answer that is not the JSON it should be
        return HubError(
            f"{where} gave an unexpected answer while {action} {repo_id} ({kind}); try "
            "again later, and report it if it persists"
        )
    if isinstance(exc, OSError) or names & _NETWORK:
        return HubError(
            f"cannot reach {where} ({kind}): check the network connection, a proxy, or HF_ENDPOINT"
        )
    return HubError(
        f"{where} gave an unexpected answer while {action} {repo_id} ({kind}); try again "
        "later, and report it if it persists"
    )


def _http_error(
    exc: Exception, repo_id: str, revision: str, action: str, where: str, scrub: Any
) -> CardgenError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, bool) or not isinstance(status, int):
        return HubError(
            f"the request to {where} failed without an HTTP answer while {action} "
            f"{repo_id}; check the network connection and try again"
        )
    server = getattr(exc, "server_message", None)
    detail = (
        f": {quote(scrub(' '.join(server.split())), 200)}"
        if isinstance(server, str) and (server.strip())
        else ""
    )
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
        branch = f" or branch {quote(revision)}" if revision != "main" else ""
        return HubError(
            f"repository {repo_id}{branch} not found on {where} (404 Not Found): check "
            f"--repo-id and --revision, or create it first with `hf repo create {repo_id}`"
        )
    if status == 429:
        return HubError(f"{where} is rate-limiting requests (429 Too Many Requests); try later")
    if 400 <= status < 500:
        return HubError(
            f"{where} refused {'the commit to' if action == 'committing to' else action} "
            f"{repo_id} (HTTP {status}){detail}; check the card and the options"
        )
    return HubError(
        f"{where} answered HTTP {status} while {action} {repo_id}{detail}; try again later"
    )
