from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from huggingface_hub import ModelCard

from cardgen import push_card
from cardgen.cards.file import (
    card_metadata_problems,
    card_metric_values,
    linked_images,
    validate_card,
)
from cardgen.cli import main
from cardgen.errors import CardError, HubError, UsageError

TOKEN = "hf_cardgenTestSecret0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

CARD = """\
---
license: apache-2.0
pipeline_tag: text-classification
model-index:
- name: my-model
  results:
  - task:
      type: text-classification
    dataset:
      name: Reviews
      type: reviews.jsonl
      split: test
    metrics:
    - type: accuracy
      name: Accuracy
      value: 0.91
    - type: macro_f1
      name: Macro F1
      value: 0.9
---
# my-model

![confusion matrix](plots/confusion_matrix.png "rows: gold")
<img src="reliability.png" width="400">
![badge](https://img.shields.io/badge/cardgen-yes-green)
![again](plots/confusion_matrix.png)
"""


@pytest.fixture
def card(tmp_path: Path) -> Path:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "confusion_matrix.png").write_bytes(PNG)
    (tmp_path / "reliability.png").write_bytes(PNG[::-1])
    path = tmp_path / "README.md"
    path.write_text(CARD)
    return path


# --- validation -----------------------------------------------------------------------------


def test_a_good_card_validates_and_yields_its_metric_values(card: Path) -> None:
    assert validate_card(card)["license"] == "apache-2.0"
    assert card_metric_values(card) == {"accuracy": 0.91, "macro_f1": 0.9}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "      value: 0.91",
            "      value: '0.91'",
            r"metrics\[0\]\.value must be a finite number, got '0.91'",
        ),
        (
            "      value: 0.91",
            "      value: .nan",
            r"metrics\[0\]\.value must be a finite number, got nan",
        ),
        (
            "      value: 0.91",
            "      value: true",
            r"metrics\[0\]\.value must be a finite number, got True",
        ),
        ("    - type: accuracy\n", "    - kind: accuracy\n", r"metrics\[0\]\.type is missing"),
        ("      type: reviews.jsonl\n", "", r"dataset\.type is missing"),
        (
            "  - task:\n      type: text-classification\n",
            "  - task: {}\n",
            r"task\.type is missing",
        ),
        ("- name: my-model\n", "- title: my-model\n", r"model-index\[0\]\.name is missing"),
        ("model-index:", "index:", "model-index is missing"),
        ("license: apache-2.0", "license: [a, b]", "license must be a string"),
        (
            "pipeline_tag: text-classification",
            "tags: {a: 1}",
            "tags must be a string or a list of strings",
        ),
        ("    metrics:\n", "    metrics: []\n    other:\n", r"metrics must be a non-empty list"),
    ],
)
def test_bad_metadata_is_refused_before_anything_is_sent(
    card: Path, old: str, new: str, message: str
) -> None:
    assert old in CARD
    card.write_text(CARD.replace(old, new, 1))
    api = RecordingApi()
    with pytest.raises(CardError, match=message):
        push_card(card, "org/model", api=api)
    assert api.calls == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no metadata\n", "has no YAML metadata block"),
        ("---\nlicense: [unclosed\n---\n", "is not valid YAML"),
        ("---\n- a list\n---\n", "must be a YAML mapping"),
    ],
)
def test_unreadable_metadata(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(CardError, match=message):
        validate_card(path)


def test_missing_card(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="no model card at"):
        validate_card(tmp_path / "README.md")


def test_problems_are_all_listed() -> None:
    problems = card_metadata_problems({"model-index": [{"results": [{"metrics": [{}]}]}]})
    assert problems == [
        "model-index[0].name is missing (the model's name)",
        "model-index[0].results[0].task.type is missing (e.g. text-classification)",
        "model-index[0].results[0].dataset is missing (name and type)",
        "model-index[0].results[0].metrics[0].type is missing (the results key, e.g. accuracy)",
        "model-index[0].results[0].metrics[0].value must be a finite number, got None",
    ]


def test_a_card_with_two_values_for_one_metric_is_no_baseline(card: Path) -> None:
    text = CARD.replace(
        "      value: 0.9\n", "      value: 0.9\n    - type: accuracy\n      value: 0.8\n"
    )
    card.write_text(text)
    with pytest.raises(
        CardError, match=r"several values for the same metric \(accuracy: \[0.8, 0.91\]\)"
    ):
        card_metric_values(card)


# --- images ---------------------------------------------------------------------------------


def test_linked_images_are_local_unique_and_relative(card: Path) -> None:
    assert linked_images(card) == [
        ("plots/confusion_matrix.png", card.parent / "plots" / "confusion_matrix.png"),
        ("reliability.png", card.parent / "reliability.png"),
    ]


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("missing.png", r"links image 'missing.png' but .*missing.png does not exist"),
        ("../outside.png", r"links image '../outside.png' outside the card's folder"),
        ("/etc/hosts", r"links image '/etc/hosts' outside the card's folder"),
    ],
)
def test_bad_image_links(card: Path, link: str, message: str) -> None:
    (card.parent.parent / "outside.png").write_bytes(PNG)
    card.write_text(CARD + f"\n![x]({link})\n")
    with pytest.raises(CardError, match=message):
        linked_images(card)


# --- push with an injected api --------------------------------------------------------------


@dataclass
class RecordingApi:
    """Stands in for HfApi: records create_commit calls."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append({"repo_id": repo_id, "operations": list(operations), **kwargs})

        @dataclass
        class Info:
            commit_url: str = "https://hub/org/model/commit/1"
            pr_url: str | None = (
                "https://hub/org/model/discussions/1" if kwargs["create_pr"] else None
            )

        return Info()


def test_push_commits_the_card_and_its_images_in_one_commit(card: Path) -> None:
    api = RecordingApi()
    result = push_card(card, "org/model", api=api, create_pr=True)
    (call,) = api.calls
    assert call["repo_id"] == "org/model" and call["create_pr"] is True and call["revision"] is None
    paths = {op.path_in_repo: Path(op.path_or_fileobj).read_bytes() for op in call["operations"]}
    assert paths == {
        "README.md": CARD.encode(),
        "plots/confusion_matrix.png": PNG,
        "reliability.png": PNG[::-1],
    }
    assert result.pr_url == "https://hub/org/model/discussions/1"
    assert "committed 3 file(s) as a pull request against org/model@main" in result.describe()


def test_dry_run_sends_nothing(card: Path) -> None:
    api = RecordingApi()
    result = push_card(card, "org/model", api=api, dry_run=True, revision="dev")
    assert api.calls == []
    text = result.describe()
    assert text.startswith("would commit 3 file(s) to org/model@dev:")
    assert f"README.md  ({len(CARD.encode()):,} bytes)" in text and "reliability.png" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repo_id": "../model"}, "--repo-id must look like ORG/NAME"),
        ({"repo_id": "org/model", "create_pr": True, "revision": "dev"}, "drop --revision dev"),
    ],
)
def test_push_usage_errors(card: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        push_card(card, api=RecordingApi(), **kwargs)


def test_no_token_is_a_clear_error(
    card: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(HubError, match="no Hugging Face token found: set HF_TOKEN"):
        push_card(card, "org/model")


# --- the real huggingface_hub client against a local server ---------------------------------


@dataclass
class FakeHub:
    """Answers what HfApi.create_commit calls, and records what arrives."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    commit_status: int = 200
    yaml_errors: list[str] = field(default_factory=list)
    head: str = "1" * 40  # the commit main points to
    readme: bytes | None = None  # the repo's README.md at head
    concurrent: bytes | None = None  # a README someone commits right after ours is read
    files: dict[str, bytes] = field(default_factory=dict)  # .eval_results/NAME -> bytes at head

    def answer(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, Any]:
        if path == "/api/models/org/model/revision/main":
            return 200, {"id": "org/model", "sha": self.head}
        if path == f"/api/models/org/model/tree/{self.head}/.eval_results":
            if not self.files:
                return 404, ({"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            return 200, [
                {"type": "file", "path": name, "size": len(data), "oid": "0" * 40}
                for name, data in self.files.items()
            ]
        if path.startswith(f"/org/model/resolve/{self.head}/.eval_results/"):
            name = path.split("/", 5)[5]
            if name not in self.files:
                return 404, ({"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            return 200, (self.files[name], {"X-Repo-Commit": self.head})
        if path == f"/org/model/resolve/{self.head}/README.md":
            if self.readme is None:
                return 404, ({"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            readme = self.readme
            if self.concurrent is not None and method == "GET":
                self.readme, self.head, self.concurrent = self.concurrent, "2" * 40, None
            etag = f'"{len(readme)}-{hash(readme) & 0xFFFF}"'
            return 200, (readme, {"ETag": etag, "X-Repo-Commit": self.head_for(path)})
        if method == "POST" and path == "/api/validate-yaml":
            errors = [{"message": m} for m in self.yaml_errors]
            return 400 if errors else 200, {"errors": errors, "warnings": []}
        parts = path.split("/")
        if method == "POST" and path.startswith("/api/models/") and parts[-2] == "preupload":
            files = json.loads(body)["files"]
            return 200, {
                "files": [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                    for f in files
                ]
            }
        if method == "POST" and path.startswith("/api/models/") and parts[-2] == "commit":
            if self.commit_status != 200:
                return self.commit_status, {"error": "refused"}
            parent = json.loads(body.splitlines()[0])["value"].get("parentCommit")
            if parent is not None and parent != self.head:
                return 412, {"error": "A commit has happened since. Please refresh and try again."}
            pr = query.get("create_pr") == ["1"]
            return 200, {
                "commitUrl": f"{self.url}/org/model/commit/{'0' * 40}",
                "commitOid": "0" * 40,
                "pullRequestUrl": f"{self.url}/org/model/discussions/1" if pr else None,
            }
        return 404, {"error": "not found"}

    def head_for(self, path: str) -> str:
        return path.split("/")[4]

    def commits(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "/commit/" in r["path"]]


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    hub = FakeHub()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            hub.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            status, payload = hub.answer(self.command, url.path, query, body)
            headers = {"Content-Type": "application/json"}
            if isinstance(payload, tuple):
                payload, extra = payload
                headers.update(extra)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    _point_the_client_at(hub.url, monkeypatch)
    yield hub
    server.shutdown()
    server.server_close()


def _point_the_client_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    template = url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def _decoded_files(commit: dict[str, Any]) -> dict[str, bytes]:
    lines = [json.loads(line) for line in commit["body"].splitlines() if line.strip()]
    assert lines[0]["key"] == "header"
    return {
        item["value"]["path"]: base64.b64decode(item["value"]["content"])
        for item in lines
        if item["key"] == "file"
    }


@pytest.mark.parametrize("create_pr", [False, True])
def test_real_client_commits_to_a_local_hub(
    capsys, caplog, card: Path, fake_hub: FakeHub, create_pr: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    argv = ["push", str(card), "--repo-id", "org/model"] + (["--create-pr"] if create_pr else [])
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    (commit,) = fake_hub.commits()
    assert commit["path"] == "/api/models/org/model/commit/main"
    assert (commit["query"].get("create_pr") == ["1"]) is create_pr
    assert _decoded_files(commit) == {
        "README.md": CARD.encode(),
        "plots/confusion_matrix.png": PNG,
        "reliability.png": PNG[::-1],
    }
    calls = [r for r in fake_hub.requests if r["path"] != "/api/agent-harnesses"]  # client's own
    assert [r["path"].split("/")[-2] for r in calls] == ["api", "preupload", "commit"]
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in calls)
    assert ("discussions/1" in out) is create_pr
    assert TOKEN not in out + err + caplog.text


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "refused the credentials (401 Unauthorized): set HF_TOKEN"),
        (403, "no permission to write to org/model (403 Forbidden)"),
        (404, "repository org/model not found on http://127.0.0.1:"),
        (500, "answered HTTP 500 while committing to org/model"),
    ],
)
def test_hub_refusals_are_one_clear_line_and_exit_2(
    capsys, caplog, card: Path, fake_hub: FakeHub, status: int, message: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_hub.commit_status = status
    code = main(["push", str(card), "--repo-id", "org/model"])
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err and err.count("error:") == 1 and "Traceback" not in out + err
    assert TOKEN not in out + err + caplog.text


def test_metadata_the_hub_refuses_is_a_card_error(capsys, card: Path, fake_hub: FakeHub) -> None:
    fake_hub.yaml_errors = ['"license" must be one of [apache-2.0, mit, ...]']
    code = main(["push", str(card), "--repo-id", "org/model"])
    _, err = capsys.readouterr()
    assert code == 2 and "the Hub refused the card's metadata" in err
    assert '"license" must be one of' in err and fake_hub.commits() == []


def test_an_unreachable_hub_is_one_clear_line(
    capsys, caplog, card: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _point_the_client_at(f"http://127.0.0.1:{port}", monkeypatch)
    code = main(["push", str(card), "--repo-id", "org/model"])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"cannot reach http://127.0.0.1:{port} (ConnectError)" in err
    assert TOKEN not in out + err + caplog.text


def test_cli_dry_run_and_a_bad_card_send_nothing(capsys, card: Path, fake_hub: FakeHub) -> None:
    code = main(["push", str(card), "--repo-id", "org/model", "--dry-run"])
    out, _ = capsys.readouterr()
    assert code == 0 and "would commit 3 file(s) to org/model@main" in out
    card.write_text(CARD.replace("value: 0.91", "value: high"))
    code = main(["push", str(card), "--repo-id", "org/model"])
    _, err = capsys.readouterr()
    assert code == 2 and "value must be a finite number, got 'high'" in err
    assert fake_hub.requests == []


# --- push --merge-with-hub -----------------------------------------------------------------

HUB_README = b"""\
---
license: apache-2.0
tags:
- generated_from_trainer
model-index:
- name: my-model
  results: []
---

# my-model

Written on the Hub by hand.

## Training results

| Epoch | Loss |
|:-----:|:----:|
| 1     | 0.3  |
"""


@pytest.fixture
def cardgen_card(tmp_path: Path) -> Path:
    """A card with cardgen's markers (as `cardgen card` writes it) and one image."""
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "confusion_matrix.png").write_bytes(PNG)
    front, body = CARD.split("---\n# my-model\n")
    card = folder / "README.md"
    card.write_text(
        f"{front}---\n<!-- cardgen:begin summary -->\n# my-model\n\nA summary.\n"
        "<!-- cardgen:model my-model -->\n<!-- cardgen:end summary -->\n\n"
        "<!-- cardgen:begin evaluation -->\n## Evaluation results\n\n"
        "![confusion matrix](confusion_matrix.png)\n<!-- cardgen:end evaluation -->\n"
    )
    return card


def test_merge_with_hub_dry_run_shows_the_diff_and_commits_nothing(
    capsys, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    fake_hub.readme = HUB_README
    code = main(
        ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"--- a/README.md (org/model@{'1' * 12})" in out and "+++ b/README.md (merged)" in out
    assert "+<!-- cardgen:begin evaluation -->" in out and "+A summary." in out
    assert "-  results: []" in out and "-Written on the Hub by hand." not in out
    assert f"merged with README.md at commit {'1' * 12}" in out
    assert fake_hub.commits() == []


def test_merge_with_hub_commits_the_merged_card_onto_the_commit_it_read(
    capsys, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    fake_hub.readme = HUB_README
    code = main(["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (commit,) = fake_hub.commits()
    header = json.loads(commit["body"].splitlines()[0])["value"]
    assert header["parentCommit"] == "1" * 40
    files = _decoded_files(commit)
    assert (
        set(files) == {"README.md", "confusion_matrix.png"} and files["confusion_matrix.png"] == PNG
    )
    merged = files["README.md"].decode()
    hub_body = HUB_README.decode().split("---\n")[-1]
    rest = iter(merged.splitlines())
    assert all(any(line == other for other in rest) for line in hub_body.splitlines())
    card = ModelCard(merged)
    assert card.data.tags == ["generated_from_trainer"] and card.data.license == "apache-2.0"
    assert {r.metric_type: r.metric_value for r in card.data.eval_results} == {
        "accuracy": 0.91,
        "macro_f1": 0.9,
    }
    assert merged.index("## Training results") < merged.index("<!-- cardgen:begin evaluation -->")
    assert merged.count("# my-model") == 1  # the Hub card's title; the summary's is left out

    # merging again into what is now on the Hub changes nothing
    fake_hub.readme, fake_hub.requests = files["README.md"], []
    code = main(
        ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and "README.md would not change" in out


def test_a_concurrent_change_on_the_hub_fails_the_commit_cleanly(
    capsys, caplog, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_hub.readme = HUB_README
    fake_hub.concurrent = HUB_README + b"\nA line someone added meanwhile.\n"
    code = main(["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert "changed on http://127.0.0.1:" in err and "nothing was overwritten" in " ".join(
        err.split()
    )
    (refused,) = fake_hub.commits()  # sent with the old parent, refused by the Hub
    assert json.loads(refused["body"].splitlines()[0])["value"]["parentCommit"] == "1" * 40
    assert fake_hub.readme.endswith(b"A line someone added meanwhile.\n")
    assert TOKEN not in out + err + caplog.text

    # run again: it merges into the new README, keeping the other person's line
    code = main(["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"])
    assert code == 0, capsys.readouterr().err
    merged = _decoded_files(fake_hub.commits()[-1])["README.md"].decode()
    assert "A line someone added meanwhile." in merged and "cardgen:begin evaluation" in merged


def test_merge_with_hub_into_a_repo_without_a_readme(
    capsys, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    code = main(["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"])
    assert code == 0, capsys.readouterr().err
    (commit,) = fake_hub.commits()
    assert _decoded_files(commit)["README.md"] == cardgen_card.read_bytes()


@pytest.mark.parametrize(
    ("readme", "message"),
    [
        (b"<div>\n<h1>Model</h1>\n<p>text</p>\n</div>\n", "is an HTML page, not a Markdown card"),
        (b"--- license: mit --- # m " + b"## A heading " * 50, "looks flattened onto one line"),
    ],
)
def test_hub_cards_that_cannot_be_merged_are_refused(
    capsys, cardgen_card: Path, fake_hub: FakeHub, readme: bytes, message: str
) -> None:
    fake_hub.readme = readme
    code = main(["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub"])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and "README.md of org/model@main on the Hub" in err
    assert fake_hub.commits() == []


def test_merge_with_hub_needs_a_cardgen_card(capsys, card: Path, fake_hub: FakeHub) -> None:
    fake_hub.readme = HUB_README
    code = main(["push", str(card), "--repo-id", "org/model", "--merge-with-hub"])
    _, err = capsys.readouterr()
    assert code == 2 and "has no cardgen sections to merge" in err
    assert fake_hub.requests == []


def test_the_diff_of_a_hostile_hub_readme_cannot_drive_the_terminal(
    capsys, cardgen_card: Path, fake_hub: FakeHub
) -> None:
    fake_hub.readme = HUB_README + b"\x1b]0;owned\x07 text \x1b[2J\n"
    code = main(
        ["push", str(cardgen_card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\\u001b]0;owned\\u0007" in out
