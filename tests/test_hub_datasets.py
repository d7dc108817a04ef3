"""Hub dataset names when the Hub cannot be reached: a clear error within seconds, not after a
minute of retries, and cached copies still load."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from cardgen.data.hub import HUB_PROBE_SECONDS, hub_unreachable
from cardgen.data.load import load_data
from cardgen.errors import DataError

MESSAGE = "is neither a local file or directory nor a loadable `datasets` name"


@pytest.fixture
def silent_hub() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def closed_hub() -> str:
    """An endpoint where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Offline mode off (the tests' default is on), with empty caches; returns a function that
    points the Hub at an endpoint."""
    import datasets
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")

    def point_at(endpoint: str) -> None:
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_ENDPOINT", endpoint)

    return point_at


@pytest.mark.parametrize("hub", ["silent_hub", "closed_hub"])
def test_an_unreachable_hub_fails_within_seconds(
    hub: str, online, request: pytest.FixtureRequest, capsys
) -> None:
    endpoint = request.getfixturevalue(hub)
    online(endpoint)
    start = time.perf_counter()
    with pytest.raises(DataError, match=MESSAGE) as error:
        load_data("glue/sst2", split="validation")
    assert time.perf_counter() - start < 10  # was about 50 s refused, minutes unanswered
    assert f"the Hub at {endpoint} is unreachable" in str(error.value)
    assert str(error.value).endswith("without network only cached datasets load")
    start = time.perf_counter()
    code, _, err = run_cli(
        capsys, "evaluate", "--model", "unused", "--dataset", "glue/sst2", "--split", "validation"
    )
    assert code == 2 and err.startswith("error: dataset 'glue/sst2'") and MESSAGE in err
    assert time.perf_counter() - start < 10


def test_offline_mode_fails_at_once_without_asking_the_hub(
    online, silent_hub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    online(silent_hub)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # as HF_DATASETS_OFFLINE=1 sets
    start = time.perf_counter()
    assert hub_unreachable("glue/sst2") == (
        "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    )
    with pytest.raises(DataError, match=MESSAGE):
        load_data("glue/sst2", split="validation")
    assert time.perf_counter() - start < HUB_PROBE_SECONDS  # no request waited on the silent hub


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def cache_hub_dataset(hub: Path, rows: list[dict], commit: str = COMMIT) -> Path:
    """Dataset cardgen-test/reviews in the hub cache ``hub``, as a download of its test split
    at ``commit`` leaves it; returns the snapshot folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = hub / "datasets--cardgen-test--reviews"
    snapshot = repo / "snapshots" / commit
    (snapshot / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), snapshot / "data" / "test-00000-of-00001.parquet")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_a_cached_dataset_loads_while_the_hub_is_unreachable(
    online, closed_hub: str, tmp_path: Path
) -> None:
    rows = [{"text": "good film", "label": 1}, {"text": "bad film", "label": 0}]
    cache_hub_dataset(tmp_path / "hub", rows)
    online(closed_hub)
    start = time.perf_counter()
    data = load_data("cardgen-test/reviews", split="test")
    assert (
        data.texts == ["good film", "bad film"] and data.info.source == "hub:cardgen-test/reviews"
    )
    assert data.info.revision == COMMIT  # the cached snapshot's commit
    assert time.perf_counter() - start < 10


def test_a_dataset_datasets_cached_by_its_hub_name_keeps_its_commit(
    online, closed_hub: str, tmp_path: Path
) -> None:
    """A dataset loaded by name before (``datasets`` keeps it under its commit) loads from that
    cache offline, with that commit."""
    import datasets

    snapshot = cache_hub_dataset(tmp_path / "elsewhere", [{"text": "good film", "label": 1}])
    builder = datasets.load_dataset_builder(str(snapshot))
    builder.download_and_prepare()
    cached = tmp_path / "datasets-cache" / "cardgen-test___reviews" / "default" / "0.0.0" / COMMIT
    cached.mkdir(parents=True)
    for file in Path(builder.cache_dir).iterdir():  # the names datasets gives the repo's files
        name = f"reviews-{file.name.split('-', 1)[1]}" if file.suffix == ".arrow" else file.name
        file.rename(cached / name)
    online(closed_hub)
    data = load_data("cardgen-test/reviews", split="test")
    assert data.texts == ["good film"] and data.info.revision == COMMIT


def test_evaluate_records_the_hub_datasets_commit_and_card_writes_it_to_eval_results(
    online,
    closed_hub: str,
    tmp_path: Path,
    tiny_model: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml
    from huggingface_hub import parse_eval_result_entries

    from cardgen.demo.synthetic import sentiment_corpus

    cache_hub_dataset(tmp_path / "hub", sentiment_corpus(20, seed=3))
    online(closed_hub)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(tiny_model),
        "--dataset",
        "cardgen-test/reviews",
        "--split",
        "test",
        "--output-dir",
        str(run),
        "--bootstrap",
        "20",
        "--no-progress",
    )
    assert code == 0, err
    assert json.loads((run / "results.json").read_text())["dataset"]["revision"] == COMMIT
    code, _, err = run_cli(
        capsys, "card", str(run), "--output", str(tmp_path / "card" / "README.md")
    )
    assert code == 0, err
    written = tmp_path / "card" / ".eval_results" / "cardgen-test--reviews--test.yaml"
    (entry,) = parse_eval_result_entries(yaml.safe_load(written.read_text(encoding="utf-8")))
    assert entry.dataset_id == "cardgen-test/reviews" and entry.dataset_revision == COMMIT


def test_a_hub_that_answers_is_reachable(online, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        online(f"http://127.0.0.1:{server.server_port}")
        assert hub_unreachable("cardgen-test/none") is None  # "not found" is an answer
    finally:
        server.shutdown()
        server.server_close()
