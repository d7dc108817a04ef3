"""``cardgen push`` under hostile input: repo ids, branches, cards, image links, Hub answers.

Every bad input is refused before anything is sent (``--dry-run`` included) with one
``error:`` line and exit 2, and the token never appears in any output, log or message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import run_cli as run
from huggingface_hub.errors import HfHubHTTPError

import cardgen.hub.commit as hub_commit
from cardgen.cards import file as card_file
from cardgen.cards.file import linked_images, read_card_metadata
from cardgen.errors import CardError, HubError, UsageError
from cardgen.hub.push import push_card

TOKEN = "hf_hostileSecretToken0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

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


@pytest.fixture
def card(tmp_path: Path) -> Path:
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "plot.png").write_bytes(PNG)
    (folder / "plots").mkdir()
    path = folder / "README.md"
    path.write_text(CARD)
    return path


class Api:
    """Stands in for HfApi: records calls, then raises ``error`` or returns ``info``."""

    endpoint = "https://hub.example"

    def __init__(self, error: BaseException | None = None, info: Any = None) -> None:
        self.error, self.info, self.calls = error, info, []

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append((repo_id, [op.path_in_repo for op in operations], kwargs))
        if self.error is not None:
            raise self.error
        return self.info


def assert_input_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert message in " ".join(err.split()), err
    assert err.count("error:") == 1 and "Traceback" not in out + err


# --- repo ids and branches ----------------------------------------------------------------

BAD_REPO_IDS = [
    "../x",
    "../../etc/passwd",
    "org/../x",
    "a/b/c",
    "",
    "/x",
    "x/",
    "org//x",
    "-x",
    "x-",
    ".x",
    "x.",
    "org/.x",
    "a--b",
    "a..b",
    "org/x.git",
    "a" * 97,
    "o" * 97 + "/x",
    "org/" + "m" * 97,
    "a b",
    "org/mod el",
    "a\x00b",
    "org/x\n",
    "org/x\t",
    "モデル",
    "org/modèle",
    "%2e%2e/x",
    "org/x?y",
    "org/x#y",
    "https://huggingface.co/org/x",
    "datasets/org/x",
    "org\\x",
]
GOOD_REPO_IDS = ["model", "org/model", "Org_1/my.model-v2", "a" * 96, "o" * 96 + "/" + "m" * 96]


@pytest.mark.parametrize("repo_id", BAD_REPO_IDS)
def test_bad_repo_ids_are_refused_before_anything_in_dry_run_too(
    capsys, card: Path, repo_id: str
) -> None:
    api = Api()
    for dry_run in (True, False):
        with pytest.raises(UsageError, match="--repo-id must look like ORG/NAME or NAME"):
            push_card(card, repo_id, api=api, dry_run=dry_run)
    assert api.calls == []
    if "\x00" not in repo_id:  # argv cannot hold NUL
        code, out, err = run(capsys, "push", str(card), "--repo-id", repo_id, "--dry-run")
        assert_input_error(code, out, err, "--repo-id must look like ORG/NAME")
        assert len(err) < 400


@pytest.mark.parametrize("repo_id", GOOD_REPO_IDS)
def test_good_repo_ids_pass(card: Path, repo_id: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    validate_repo_id(repo_id)  # huggingface_hub agrees
    assert push_card(card, repo_id, dry_run=True).repo_id == repo_id


@pytest.mark.parametrize(
    "revision",
    [
        "",
        "../main",
        "a b",
        "-x",
        "x..y",
        "x.lock",
        "dev\x00",
        "refs/heads/",
        "/dev",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "@{-1}",
        "x" * 256,
        "dév",
        "a//b",
        ".hidden",
    ],
)
def test_bad_revisions_are_refused(capsys, card: Path, revision: str) -> None:
    with pytest.raises(UsageError, match="--revision must be a branch name"):
        push_card(card, "org/model", revision=revision, dry_run=True)
    if "\x00" not in revision:
        code, out, err = run(
            capsys, "push", str(card), "--repo-id", "org/m", "--revision", revision, "--dry-run"
        )
        assert_input_error(code, out, err, "--revision must be a branch name")


@pytest.mark.parametrize("revision", ["main", "dev", "feature/x-1", "refs/pr/1", "v1.0"])
def test_good_revisions_pass(card: Path, revision: str) -> None:
    assert push_card(card, "org/model", revision=revision, dry_run=True).revision == revision


# --- the card and its front matter ---------------------------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
BAD_CARDS = [
    (("---\n" + LAUGHS + "---\n").encode(), "YAML aliases"),
    (("---\nx: " + "[" * 200 + "]" * 200 + "\n---\n").encode(), "nests deeper"),
    (b"---\nx: !!python/object/apply:os.system ['echo hi']\n---\n", "is not valid YAML"),
    (b"---\nx: [unclosed\n---\n", "is not valid YAML"),
    (b"---\nlicense: mit\n---\n\xff\xfe card\n", "is not utf-8"),
    (b"---\n42\n---\n", "must be a YAML mapping"),
    (b"---\n---\n", "has no YAML metadata block"),
    (b"# no metadata\n", "has no YAML metadata block"),
    (b"", "has no YAML metadata block"),
    (b"---\n? [a, b]\n: c\n---\n", "is not valid YAML"),
    (("---\nlicense: [" + "x, " * 2000 + "]\n---\n").encode(), "license must be a string"),
    (
        ("---\nmodel-index:\n- name: m\n  results:\n" + "  - {}\n" * 500 + "---\n").encode(),
        "and 1,480 more",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_CARDS)
def test_bad_cards_are_refused_in_dry_run(capsys, card: Path, content: bytes, message: str) -> None:
    card.write_bytes(content)
    with pytest.raises(CardError, match=message.replace("[", r"\[")):
        push_card(card, "org/model", dry_run=True)
    code, out, err = run(capsys, "push", str(card), "--repo-id", "org/model", "--dry-run")
    assert_input_error(code, out, err, message)
    assert len(err) < 2500  # quoted values are clipped


@pytest.mark.parametrize("where", ["directory", "missing", "nul", "too large"])
def test_unreadable_card_files(
    capsys, card: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path: Any = {
        "directory": card.parent / "plots",
        "missing": card.parent / "nope.md",
        "nul": str(card) + "\x00",
        "too large": card,
    }[where]
    monkeypatch.setattr(card_file, "MAX_CARD_BYTES", 100)
    message = {
        "directory": "is a directory",
        "missing": "no model card at",
        "nul": "no model card at",
        "too large": "over cardgen's limit",
    }[where]
    with pytest.raises(CardError, match=message):
        read_card_metadata(path)
    with pytest.raises(CardError, match=message):
        push_card(path, "org/model", dry_run=True)


# --- image links --------------------------------------------------------------------------

BAD_LINKS = [
    ("a%00b.png", "not a usable file name"),
    ("a\x00b.png", "not a usable file name"),
    ("x" * 5000 + ".png", "not a usable file name"),
    ("plots/" * 60 + "x.png", "not a usable file name"),
    ("%1b%5b31m.png", "not a usable file name"),
    ("\x1b[31m.png", "not a usable file name"),
    ("../x.png", "outside the card's folder"),
    ("../../../../etc/passwd", "outside the card's folder"),
    ("/etc/hosts", "outside the card's folder"),
    ("%2e%2e/x.png", "outside the card's folder"),
    ("..%2fx.png", "outside the card's folder"),
    ("plots/../../x.png", "outside the card's folder"),
    ("link-out/x.png", "outside the card's folder"),
    ("file:///etc/passwd", "URL the Hub cannot show"),
    ("javascript:alert(1)", "URL the Hub cannot show"),
    ("ftp://example.com/x.png", "URL the Hub cannot show"),
    ("C:/Windows/x.png", "URL the Hub cannot show"),
    ("http://[::1/x.png", "not a valid URL"),
    ("README.md", "would replace the card"),
    ("./README.md", "would replace the card"),
    ("plots", "does not exist"),
    ("missing.png", "does not exist"),
]


@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize(("link", "message"), BAD_LINKS)
def test_bad_image_links_are_refused_in_dry_run(
    capsys, card: Path, tmp_path: Path, link: str, message: str, html: bool
) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    (card.parent / "link-out").symlink_to(tmp_path)
    image = f'<img src="{link}">' if html else f"![x]({link})"
    card.write_text(CARD + f"\n{image}\n", encoding="utf-8")
    with pytest.raises(CardError, match=message):
        linked_images(card)
    if html:
        return  # the same path below as the Markdown link
    api = Api()
    with pytest.raises(CardError, match=message):
        push_card(card, "org/model", api=api)
    assert api.calls == []
    if "\x00" not in link:
        code, out, err = run(capsys, "push", str(card), "--repo-id", "org/model", "--dry-run")
        assert_input_error(code, out, err, message)
        assert len(err) < 600 and "\x1b" not in err


def test_remote_and_data_images_are_left_alone(card: Path) -> None:
    links = [
        "https://img.shields.io/badge/x-y-green",
        "http://example.com/x.png",
        "HTTPS://EXAMPLE.COM/X.PNG",
        "data:image/png;base64,iVBORw0KGgo=",
        "//cdn.example.com/x.png",
        "#anchor",
        "?query",
    ]
    card.write_text(CARD + "".join(f"\n![x]({link})\n<img src='{link}'>\n" for link in links))
    assert linked_images(card) == [("plot.png", card.parent / "plot.png")]
    assert [path for path, _ in push_card(card, "org/m", dry_run=True).files] == [
        "README.md",
        "plot.png",
    ]


def test_an_image_deleted_after_validation_is_no_crash(card: Path) -> None:
    result = push_card(card, "org/model", dry_run=True)
    (card.parent / "plot.png").unlink()
    assert "plot.png" in result.describe()  # sizes were taken when the card was checked


# --- Hub answers and the token ------------------------------------------------------------


def _http_error(status: int | None, message: str = "", server: str | None = None):
    if status is None:
        error = HfHubHTTPError.__new__(HfHubHTTPError)
        Exception.__init__(error, message)
        error.response = None
        return error
    request = httpx2.Request("POST", "https://hub.example/api/models/org/m/commit/main")
    response = httpx2.Response(status, request=request, text=message)
    return HfHubHTTPError(message, response=response, server_message=server)


def _class(name: str, base: type, module: str) -> type:
    return type(name, (base,), {"__module__": module})


HUB_FAILURES = [
    (_http_error(None, f"no response {TOKEN}"), "without an HTTP answer"),
    (_http_error(500, TOKEN, server=f"internal error for {TOKEN}"), "answered HTTP 500"),
    (_http_error(502, "<html><body>Bad Gateway</body></html>"), "answered HTTP 502"),
    (_http_error(400, "x", server="<html>" + "x" * 5000 + "</html>"), "refused the commit"),
    (_http_error(413, "too large"), "(HTTP 413)"),
    (_http_error(429, f"slow down {TOKEN}"), "429 Too Many Requests"),
    (_http_error(401, TOKEN, server=TOKEN), "refused the credentials"),
    (_http_error(403, TOKEN), "no permission to write"),
    (_http_error(404, TOKEN), "not found on https://hub.example"),
    (json.JSONDecodeError(f"Expecting value {TOKEN}", "<html>", 0), "unexpected answer"),
    (ValueError(f"bad answer {TOKEN}"), "unexpected answer"),
    (KeyError("commitUrl"), "unexpected answer"),
    (TypeError(f"'NoneType' object is not subscriptable {TOKEN}"), "unexpected answer"),
    (AttributeError(TOKEN), "unexpected answer"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, TOKEN), "unexpected answer"),
    (RuntimeError(TOKEN), "unexpected answer"),
    (RecursionError(TOKEN), "unexpected answer"),
    (Exception(TOKEN), "unexpected answer"),
    (httpx2.ReadTimeout(f"timed out {TOKEN}"), "did not answer within"),
    (httpx2.ConnectTimeout(TOKEN), "did not answer within"),
    (httpx2.ConnectError(f"refused {TOKEN}"), "cannot reach https://hub.example"),
    (httpx2.RemoteProtocolError(TOKEN), "cannot reach"),
    (httpx2.DecodingError(TOKEN), "unexpected answer"),
    (httpx2.TooManyRedirects(TOKEN), "unexpected answer"),
    (TimeoutError(TOKEN), "did not answer within"),
    (ConnectionResetError(104, TOKEN), "cannot reach"),
    (OSError(28, f"No space left {TOKEN}"), "cannot reach"),
    (_class("ReadTimeout", OSError, "requests.exceptions")(TOKEN), "did not answer within"),
    (_class("ConnectionError", OSError, "requests.exceptions")(TOKEN), "cannot reach"),
    (_class("ChunkedEncodingError", Exception, "requests.exceptions")(TOKEN), "unexpected"),
    (ValueError(f"Invalid metadata in README.md.\n- {TOKEN} is bad"), "refused the card's"),
    (HubError(f"already a cardgen error {TOKEN}"), "already a cardgen error"),
]


@pytest.mark.parametrize(
    ("error", "message", "how"),
    [(e, m, "--token" if i % 2 else "HF_TOKEN") for i, (e, m) in enumerate(HUB_FAILURES)],
)
def test_hub_failures_are_one_line_without_the_token(
    capsys, caplog, card: Path, monkeypatch: pytest.MonkeyPatch, error, message: str, how: str
) -> None:
    caplog.set_level(logging.DEBUG)
    api = Api(error)
    monkeypatch.setattr(hub_commit, "_default_api", lambda token: api)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("CARDGEN_HUB_TIMEOUT", "1")  # short pauses between tries
    argv = ["push", str(card), "--repo-id", "org/model"]
    if how == "HF_TOKEN":
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    else:
        argv += ["--token", TOKEN]
    code, out, err = run(capsys, *argv)
    assert_input_error(code, out, err, message)
    # a commit is tried again only when it could not connect: then nothing reached the Hub
    tries = 3 if isinstance(error, (httpx2.ConnectError, httpx2.ConnectTimeout)) else 1
    assert TOKEN not in out + err + caplog.text and len(api.calls) == tries
    assert len(err) < 600
    with pytest.raises((HubError, CardError)) as caught:
        push_card(card, "org/model", api=api, token=TOKEN)
    assert TOKEN not in str(caught.value) and caught.value.__cause__ is None


def test_credentials_in_the_endpoint_are_not_shown(card: Path) -> None:
    api = Api(httpx2.ConnectError("refused"))
    api.endpoint = f"https://user:{TOKEN}@hub.example:8443/"
    with pytest.raises(HubError, match=r"cannot reach https://hub.example:8443 ") as caught:
        push_card(card, "org/model", api=api)
    assert TOKEN not in str(caught.value) and "user" not in str(caught.value)


@pytest.mark.parametrize(
    "info",
    [
        None,
        object(),
        type("Info", (), {"commit_url": 123, "pr_url": ["x"]})(),
        type("Info", (), {"commit_url": "https://x\x1b[31m"})(),
    ],
)
def test_odd_commit_answers_are_not_shown(capsys, card: Path, info: Any) -> None:
    result = push_card(card, "org/model", api=Api(info=info))
    assert result.commit_url is None and result.pr_url is None
    assert "committed 2 file(s)" in result.describe()


@pytest.mark.parametrize(
    "token", ["", "has space", "line\nbreak", "tab\t", "é" + TOKEN, "x" * 2000]
)
def test_a_token_that_is_no_token_is_refused_without_echoing_it(
    capsys, card: Path, token: str
) -> None:
    with pytest.raises(UsageError, match="--token is not a Hugging Face access token") as caught:
        push_card(card, "org/model", token=token, dry_run=True)
    assert token not in str(caught.value) or not token
    code, out, err = run(
        capsys, "push", str(card), "--repo-id", "org/model", "--token", token, "--dry-run"
    )
    assert_input_error(code, out, err, "--token is not a Hugging Face access token")
    assert not token or token not in out + err


# --- the real client against a local server that answers badly ----------------------------


class BadHub(BaseHTTPRequestHandler):
    """Answers preupload properly and the commit with ``answer`` (status, type, body)."""

    answer: tuple[int, str, bytes] | None = None

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/api/validate-yaml"):
            status, kind, data = 200, "application/json", b'{"errors": [], "warnings": []}'
        elif "/preupload/" in self.path:
            files = json.loads(body)["files"]
            status, kind, data = (
                200,
                "application/json",
                json.dumps(
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ]
                    }
                ).encode(),
            )
        elif "/commit/" in self.path:
            if self.answer is None:  # hang up without answering
                self.close_connection = True
                return
            status, kind, data = self.answer
        else:
            status, kind, data = 404, "application/json", b"{}"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bad_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[BadHub]]:
    import huggingface_hub.constants as constants

    handler = type("Handler", (BadHub,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, "text/html", b"<html><body>Welcome</body></html>"), "unexpected answer"),
        ((200, "application/json", b"{}"), "unexpected answer"),
        ((200, "application/json", b"[1, 2]"), "unexpected answer"),
        ((200, "application/json", b'{"commitUrl": 5}'), "unexpected answer"),
        ((502, "text/html", b"<html><h1>502 Bad Gateway</h1></html>"), "answered HTTP 502"),
        ((500, "application/json", json.dumps({"error": f"bad {TOKEN}"}).encode()), "HTTP 500"),
        ((400, "application/json", b"not json at all"), "refused the commit"),
        (None, "cannot reach"),
    ],
)
def test_the_real_client_against_bad_answers(
    capsys, caplog, card: Path, bad_hub: type[BadHub], answer, message: str
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_hub.answer = answer
    code, out, err = run(capsys, "push", str(card), "--repo-id", "org/model")
    assert TOKEN not in out + err + caplog.text
    assert "Traceback" not in out + err
    assert_input_error(code, out, err, message)
