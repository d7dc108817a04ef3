"""``cardgen push`` keeps tokens off the Hub and the terminal, and never waits forever.

A card, an image, a merged README or a printed diff that holds the user's Hub token (or a string
shaped like one) is refused before anything is sent, naming the file and line but never the
value; a Hub that accepts the connection and never answers ends in one error line and exit 2.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli as run
from test_hub import HUB_README, FakeHub, _point_the_client_at, cardgen_card, fake_hub

from cardgen.errors import CardError, HubError
from cardgen.hub.push import push_card

__all__ = ["cardgen_card", "fake_hub"]  # fixtures shared with test_hub

TOKEN = "hf_cardgenTestSecret0123456789"  # test_hub's, which fake_hub sets as HF_TOKEN
SHAPED = "hf_" + "Q7x" * 12  # a token of someone else: not the user's, but shaped like one
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

CARD = """\
---
license: apache-2.0
model-index:
- name: my-model
  results:
  - task: {type: text-classification}
    dataset: {name: Reviews, type: reviews.jsonl}
    metrics:
    - {type: accuracy, value: 0.91}
---
# my-model

![plot](plot.png)
"""


class Api:
    """Stands in for HfApi: records commits."""

    endpoint = "https://hub.example"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def create_commit(self, repo_id: str, operations: object, **kwargs: object) -> None:
        self.calls.append(repo_id)


@pytest.fixture
def card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    (tmp_path / "plot.png").write_bytes(PNG)
    path = tmp_path / "README.md"
    path.write_text(CARD)
    return path


def assert_refused(code: int, out: str, err: str, where: str, secret: str) -> None:
    assert code == 2, (code, out, err)
    assert err.count("error:") == 1 and "Traceback" not in out + err
    assert where in " ".join(err.split()), err
    assert secret not in out + err and secret[:12] not in out + err


@pytest.mark.parametrize(
    ("secret", "how", "what"),
    [
        (TOKEN, "HF_TOKEN", "one of your Hub tokens"),
        ("hf_cli0nlyToken42", "--token", "one of your Hub tokens"),
        (SHAPED, "HF_TOKEN", "what looks like a Hub token"),
        ("api_org_" + "Z9" * 16, "HF_TOKEN", "what looks like a Hub token"),
    ],
)
def test_a_token_in_the_card_is_refused_naming_the_line(
    capsys, caplog, card: Path, monkeypatch: pytest.MonkeyPatch, secret: str, how: str, what: str
) -> None:
    caplog.set_level(logging.DEBUG)
    card.write_text(CARD + f"\nTrain with `HF_TOKEN={secret} python train.py`.\n")
    argv = ["push", str(card), "--repo-id", "org/model", "--dry-run"]
    if how == "--token":
        monkeypatch.delenv("HF_TOKEN")
        argv += ["--token", secret]
    code, out, err = run(capsys, *argv)
    line = CARD.count("\n") + 2
    assert_refused(code, out, err, f"{card} line {line} contains {what}", secret)
    assert "remove it before pushing" in err and secret not in caplog.text

    api = Api()
    with pytest.raises(CardError, match=rf"README.md line {line} contains") as caught:
        push_card(card, "org/model", api=api, token=secret if how == "--token" else None)
    assert secret not in str(caught.value) and caught.value.__cause__ is None
    assert api.calls == []


@pytest.mark.parametrize("secret", [TOKEN, SHAPED])
def test_a_token_in_an_image_is_refused_naming_the_byte(capsys, card: Path, secret: str) -> None:
    chunk = b"tEXtComment\x00"  # a PNG text chunk: keyword, NUL, text
    (card.parent / "plot.png").write_bytes(PNG + chunk + secret.encode() + b"\x00")
    code, out, err = run(capsys, "push", str(card), "--repo-id", "org/model", "--dry-run")
    assert_refused(code, out, err, f"plot.png byte {len(PNG + chunk):,} contains", secret)
    api = Api()
    with pytest.raises(CardError, match="plot.png byte"):
        push_card(card, "org/model", api=api)
    assert api.calls == []


def test_tokens_of_the_login_are_found_too(
    card: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as constants

    monkeypatch.delenv("HF_TOKEN")
    (tmp_path / "token").write_text("hf_loggedIn0nly\n")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    card.write_text(CARD + "hf_loggedIn0nly\n")
    line = CARD.count("\n") + 1
    with pytest.raises(CardError, match=f"line {line} contains one of your Hub tokens"):
        push_card(card, "org/model", api=Api())


def test_hub_like_text_that_is_no_token_passes(card: Path) -> None:
    card.write_text(
        CARD + "Load it with `hf_hub_download`; see hf_transfer and hf_xet.\n"
        f"![inline](data:image/png;base64,AAAA-{SHAPED})\n"  # URL-safe base64, no token
        f"Model `my_{SHAPED}`.\n"
    )
    assert push_card(card, "org/model", dry_run=True).files[0][0] == "README.md"


@pytest.mark.parametrize("secret", [TOKEN, SHAPED])
def test_a_token_in_the_hubs_readme_is_neither_shown_nor_committed(
    capsys, caplog, cardgen_card: Path, fake_hub: FakeHub, secret: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_hub.readme = HUB_README + f"\nLogin: `{secret}`\n".encode()
    for dry_run in (["--dry-run"], []):
        argv = ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"]
        code, out, err = run(capsys, *argv, *dry_run)
        assert_refused(code, out, err, "README.md merged with org/model@main line ", secret)
        assert "remove it from the README.md on the Hub" in " ".join(err.split())
    assert fake_hub.commits() == [] and secret not in caplog.text


def test_a_token_only_in_the_printed_diff_is_refused(
    capsys, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    # the Hub's cardgen section holds the token; the merge replaces it, the diff would show it
    section = f"<!-- cardgen:begin evaluation -->\nold: {SHAPED}\n<!-- cardgen:end evaluation -->"
    fake_hub.readme = HUB_README + f"\n{section}\n".encode()
    argv = ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    code, out, err = run(capsys, *argv)
    assert_refused(code, out, err, "the diff with README.md of org/model@main line ", SHAPED)
    assert fake_hub.commits() == []


# --- a Hub that never answers --------------------------------------------------------------


class SilentHub:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:  # the 0.05 s poll, or the server closed
                continue

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for sock in [*self.accepted, self.server]:
            sock.close()


@pytest.fixture
def silent_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentHub]:
    hub = SilentHub()
    _point_the_client_at(hub.url, monkeypatch)
    monkeypatch.setenv("CARDGEN_HUB_TIMEOUT", "0.4")
    yield hub
    hub.stop()


def run_bounded(capsys, *argv: str, limit: float = 20) -> tuple[int, str, str, float]:
    """``run`` in a thread, so that a hang fails the test instead of stopping the suite."""
    done: list[tuple[int, str, str]] = []
    start = time.monotonic()
    thread = threading.Thread(target=lambda: done.append(run(capsys, *argv)), daemon=True)
    thread.start()
    thread.join(limit)
    assert done, f"cardgen {' '.join(argv)} still waits for the Hub after {limit} s"
    return (*done[0], time.monotonic() - start)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--merge-with-hub", "--dry-run"],
            "within 0.4 s (ReadTimeout, tried 3 times) while reading",
        ),
        ([], "within 0.4 s (ReadTimeout, tried once) while committing to org/model"),
    ],
)
def test_a_hub_that_never_answers_is_one_error_line(
    capsys, caplog, cardgen_card: Path, silent_hub: SilentHub, options: list[str], message: str
) -> None:
    from huggingface_hub.utils import _http

    factory = _http._GLOBAL_CLIENT_FACTORY
    caplog.set_level(logging.DEBUG)
    argv = ["push", str(cardgen_card), "--repo-id", "org/model", *options]
    code, out, err, seconds = run_bounded(capsys, *argv)
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in out + err, err
    text = " ".join(err.split())
    assert f"{silent_hub.url} did not answer {message}" in text and "CARDGEN_HUB_TIMEOUT" in text
    assert seconds < 10 and TOKEN not in out + err + caplog.text
    assert _http._GLOBAL_CLIENT_FACTORY is factory  # huggingface_hub's client is left as it was


@pytest.mark.parametrize(
    ("readme", "message"),
    [
        (HUB_README * 5, "the README.md of org/model is larger than 1,000 bytes"),
        (HUB_README.replace(b"by hand", b"by \xff"), "is not UTF-8 text (at byte 138)"),
    ],
)
def test_the_hubs_readme_is_read_with_bounds(
    capsys,
    cardgen_card: Path,
    fake_hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
    readme: bytes,
    message: str,
) -> None:
    import cardgen.hub.merge as hub_merge

    monkeypatch.setattr(hub_merge, "MAX_CARD_BYTES", 1000)
    fake_hub.readme = readme
    argv = ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.count("error:") == 1 and message in " ".join(err.split()), err


def test_a_read_is_tried_three_times_then_one_error_line(
    capsys, cardgen_card: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDGEN_HUB_TIMEOUT", "1")
    monkeypatch.setattr(fake_hub, "answer", lambda *args: (503, {"error": "overloaded"}))
    argv = ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.count("error:") == 1 and "answered HTTP 503 while reading" in err
    tries = [r for r in fake_hub.requests if r["path"] == "/api/models/org/model/revision/main"]
    assert len(tries) == 3


def test_one_request_is_sent_at_most_three_times_whoever_repeats_it() -> None:
    import httpx2

    from cardgen.hub.http import HubLimits, _Guard

    guard = _Guard(HubLimits(read=5))
    request = httpx2.Request(
        "POST", f"https://user:{TOKEN}@hub.example/api/models/o/m/preupload/main"
    )
    for _ in range(3):
        guard.request(request)
    assert request.extensions["timeout"] == {"connect": 5, "read": 5, "write": 5, "pool": 5}
    with pytest.raises(HubError, match="hub.example did not answer 3 tries of POST") as caught:
        guard.request(request)
    assert "CARDGEN_HUB_TIMEOUT" in str(caught.value) and TOKEN not in str(caught.value)
    guard.response(httpx2.Response(503, request=request))
    with pytest.raises(HubError, match="answered HTTP 503 to 3 tries of POST"):
        guard.request(request)
    other = httpx2.Request(
        "GET",
        "https://hub.example/api/models/o/m",
        extensions={"timeout": {"connect": 1, "read": None, "write": 60, "pool": None}},
    )
    guard.request(other)  # another request has tries of its own; set timeouts only shrink
    assert other.extensions["timeout"] == {"connect": 1, "read": 5, "write": 5, "pool": 5}


def test_listing_a_hub_models_files_gives_up_on_a_silent_hub(
    tmp_path: Path, silent_hub: SilentHub
) -> None:
    from cardgen.models._formats import hub_files

    found: list[list[str]] = []
    thread = threading.Thread(
        target=lambda: found.append(hub_files("org/model", None, tmp_path)), daemon=True
    )
    thread.start()
    thread.join(20)
    assert found == [[]]  # nothing cached, and the Hub did not answer in time


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf", "1e9"])
def test_a_bad_timeout_is_a_usage_error(
    capsys, card: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CARDGEN_HUB_TIMEOUT", value)
    code, out, err = run(capsys, "push", str(card), "--repo-id", "org/model", "--dry-run")
    assert code == 2 and err.count("error:") == 1, err
    assert "CARDGEN_HUB_TIMEOUT must be a number of seconds above 0" in " ".join(err.split())
