"""Time limits and retries for cardgen's requests to the Hub.

huggingface_hub leaves some requests without a timeout (``HfApi.model_info`` passes
``timeout=None``), so a Hub that accepts the connection and never answers would hang a push;
and it repeats some failed requests up to five times with pauses of up to 8 s. While
``bounded_requests`` is active, every request made through huggingface_hub's shared client has
its connect, read, write and pool timeouts capped, and one request is sent at most
``1 + retries`` times, whoever repeats it.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cardgen.errors import CardgenError, HubError, UsageError
from cardgen.trust.untrusted import quote

TIMEOUT_VARIABLE = "CARDGEN_HUB_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0
MAX_CONNECT = 10.0
RETRIES = 2

# Failures in which the request did not reach the Hub, and those of a read worth repeating.
_NOT_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})
_TRANSIENT = frozenset(
    {"TimeoutException", "NetworkError", "RemoteProtocolError", "TimeoutError", "ConnectionError"}
)
_TRANSIENT_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True)
class HubLimits:
    """How long to wait for the Hub (seconds) and how often to try again."""

    read: float = DEFAULT_TIMEOUT
    retries: int = RETRIES

    @property
    def connect(self) -> float:
        return min(MAX_CONNECT, self.read)

    def pause(self, attempt: int) -> float:
        """Seconds to wait before try ``attempt + 2``: short, doubling, at most 4 s."""
        return min(4.0, min(0.5, self.read / 20) * 2**attempt)


def hub_limits() -> HubLimits:
    """The limits set by ``CARDGEN_HUB_TIMEOUT`` (seconds to wait for an answer; default 30)."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return HubLimits()
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:
        raise UsageError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds above 0 and at most "
            f"{MAX_TIMEOUT:g}, got {quote(raw)}; unset it for the default of {DEFAULT_TIMEOUT:g}"
        )
    return HubLimits(read=seconds)


class _Guard:
    """Event hooks of an ``httpx`` client: cap each request's timeouts, count its tries."""

    def __init__(self, limits: HubLimits) -> None:
        self.limits = limits
        self.tries: Counter[tuple[str, str, str | None]] = Counter()
        self.answers: dict[tuple[str, str, str | None], int] = {}

    @staticmethod
    def _key(request: Any) -> tuple[str, str, str | None]:
        return request.method, str(request.url), request.headers.get("content-length")

    def request(self, request: Any) -> None:
        limits = self.limits
        given = request.extensions.get("timeout") or {}
        caps = {"connect": limits.connect, "read": limits.read, "write": limits.read}
        timeout = {
            name: cap if given.get(name) is None else min(given[name], cap)
            for name, cap in {**caps, "pool": limits.read}.items()
        }
        request.extensions = {**request.extensions, "timeout": timeout}
        key = self._key(request)
        self.tries[key] += 1
        if self.tries[key] > 1 + limits.retries:
            raise self._gave_up(request, self.answers.get(key))

    def response(self, response: Any) -> None:
        self.answers[self._key(response.request)] = response.status_code

    def _gave_up(self, request: Any, status: int | None) -> HubError:
        url = request.url
        where = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}"
        tries = 1 + self.limits.retries
        if status is not None:
            return HubError(
                f"{where} answered HTTP {status} to {tries} tries of {request.method} "
                f"{quote(url.path, 100)}; try again later"
            )
        return HubError(
            f"{where} did not answer {tries} tries of {request.method} {quote(url.path, 100)} "
            f"within {self.limits.read:g} s; check the network connection or HF_ENDPOINT, or "
            f"raise {TIMEOUT_VARIABLE} for a slow connection"
        )


@contextmanager
def bounded_requests(limits: HubLimits) -> Iterator[None]:
    """huggingface_hub's shared client, while active, with every request's timeouts capped at
    ``limits`` and each request sent at most ``1 + limits.retries`` times; the client factory
    in place before (the default, or a user's) is wrapped, and put back on exit."""
    from huggingface_hub.utils import _http

    previous = _http._GLOBAL_CLIENT_FACTORY
    guard = _Guard(limits)

    def factory() -> Any:
        client = previous()
        hooks = client.event_hooks
        client.event_hooks = {
            "request": [*hooks.get("request", []), guard.request],
            "response": [*hooks.get("response", []), guard.response],
        }
        return client

    _http.set_client_factory(factory)
    try:
        yield
    finally:
        _http.set_client_factory(previous)


def worth_retrying(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a failed call may be tried again: one that changes nothing (``idempotent``) after
    a timeout, a network failure or a 502/503/504 answer; any call when it could not connect."""
    if isinstance(exc, CardgenError):  # cardgen's own verdict, or out of tries: final
        return False
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _NOT_SENT:
        return True
    if not idempotent:
        return False
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return bool(names & _TRANSIENT) or status in _TRANSIENT_STATUS
