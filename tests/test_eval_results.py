"""``.eval_results/*.yaml``: written beside the card, pushed with it, merged with the Hub's,
and read back by the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import make_results, run_cli, save_run
from huggingface_hub import EvalResultEntry, parse_eval_result_entries
from test_hub import HUB_README, RecordingApi, _decoded_files
from test_hub import FakeHub as FakeHub
from test_hub import fake_hub as fake_hub  # the local Hub fixture

from cardgen import push_card
from cardgen.cards.eval_results import build_eval_results
from cardgen.cards.eval_results_folder import with_eval_results
from cardgen.cards.eval_results_format import eval_results_name, parse_eval_results
from cardgen.errors import CardError
from cardgen.results.schema import load_results

ROOT = Path(__file__).parents[1]
SHA = "5503434ddd753f426f4b38109466949a1217c2bb"
OTHER = b"""\
# results someone else keeps here, formatted their way
- dataset: {id: nyu-mll/glue, task_id: sst2}
  value:   0.93
  source:
    url: https://example.org/logs
    name: My harness
"""


def _entries(path: Path) -> list[EvalResultEntry]:
    return parse_eval_result_entries(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run on GLUE SST-2 validation (``hub:glue``, config sst2), with its plots."""
    return save_run(make_results(), tmp_path / "run")


@pytest.fixture
def card(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The card of ``run`` with its .eval_results file, as `cardgen card` writes them."""
    output = tmp_path / "card" / "README.md"
    code, _, err = run_cli(
        capsys, "card", str(run), "--output", str(output), "--model-name", "org/model"
    )
    assert code == 0, err
    return output


# --- cardgen card ---------------------------------------------------------------------------


def test_a_card_run_writes_eval_results_that_parse_back_to_results_json(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "card" / "README.md"
    code, out, err = run_cli(
        capsys,
        "card",
        str(run),
        "--output",
        str(output),
        "--dataset-id",
        "nyu-mll/glue",
        "--dataset-revision",
        SHA,
    )
    assert code == 0, err
    path = tmp_path / "card" / ".eval_results" / "nyu-mll--glue--sst2--validation.yaml"
    assert f"eval results written to {path}" in " ".join(out.split())
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    results = json.loads((run / "results.json").read_text())
    accuracy = results["metrics"]["accuracy"]
    (entry,) = _entries(path)
    assert entry == EvalResultEntry(
        dataset_id="nyu-mll/glue",
        task_id="sst2",
        value=accuracy["value"],
        dataset_revision=SHA,
        date=results["created_at"],
        source_url="https://huggingface.co/datasets/nyu-mll/glue",
        source_name=f"cardgen {results['cardgen_version']}",
        notes=(
            f"split: validation; metric: accuracy; 95% CI: "
            f"[{accuracy['ci_low']:.4f}, {accuracy['ci_high']:.4f}]"
        ),
    )
    assert parse_eval_results(path.read_text(), source=str(path)) == [entry]


def test_the_commit_a_run_recorded_goes_to_eval_results_unless_another_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results()
    results.dataset.revision = SHA  # `cardgen evaluate` loaded hub:glue at this commit
    run = save_run(results, tmp_path / "run")
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(tmp_path / "README.md"))
    assert code == 0, err
    (entry,) = _entries(tmp_path / ".eval_results" / "glue--sst2--validation.yaml")
    assert entry.dataset_id == "glue" and entry.dataset_revision == SHA
    loaded = load_results(run)
    given = build_eval_results(loaded, dataset_revision="f" * 40)
    assert given is not None and given.entries[0].dataset_revision == "f" * 40
    other = build_eval_results(loaded, dataset_id="nyu-mll/glue")  # not the repo loaded
    assert other is not None and other.entries[0].dataset_revision is None


def test_a_recorded_revision_that_is_no_commit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = save_run(make_results(), tmp_path / "run")
    data = json.loads((run / "results.json").read_text())
    data["dataset"]["revision"] = "main\nevil: 1"
    (run / "results.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(tmp_path / "README.md"))
    assert code == 2 and "dataset.revision must be the 40-character commit id" in err
    assert not (tmp_path / "README.md").exists()


def test_the_metric_can_be_chosen_and_is_checked_before_anything_is_written(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "card" / "README.md"
    code, _, err = run_cli(
        capsys, "card", str(run), "--output", str(output), "--eval-results-metric", "f1"
    )
    assert code == 2 and "--eval-results-metric 'f1' is not a metric of this run" in err
    assert "macro_f1" in err and not (tmp_path / "card").exists()
    code, _, err = run_cli(
        capsys, "card", str(run), "--output", str(output), "--eval-results-metric", "macro_f1"
    )
    assert code == 0, err
    (entry,) = _entries(tmp_path / "card" / ".eval_results" / "glue--sst2--validation.yaml")
    assert entry.value == load_results(run).metrics["macro_f1"].value
    assert entry.notes is not None and "metric: macro_f1;" in entry.notes


def test_a_multi_label_run_reports_micro_f1() -> None:
    results = load_results(ROOT / "sample_cards" / "toxicity-multilabel" / "results.json")
    file = build_eval_results(results, dataset_id="org/moderation")
    assert file is not None and file.name == "org--moderation--test.yaml"
    (entry,) = file.entries
    assert entry.task_id == "default" and entry.value == results.metrics["micro_f1"].value
    assert parse_eval_result_entries(yaml.safe_load(file.text)) == file.entries


def test_a_local_dataset_gets_no_file_and_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results()
    results.dataset.source, results.dataset.name = "reviews.jsonl", "reviews"
    run = save_run(results, tmp_path / "run")
    code, _, err = run_cli(
        capsys, "card", str(run), "--output", str(tmp_path / "card" / "README.md")
    )
    assert code == 0 and "note: no .eval_results file written" in err and "--dataset-id" in err
    assert not (tmp_path / "card" / ".eval_results").exists()
    code, _, err = run_cli(capsys, "card", str(run), "--dataset-revision", SHA)
    assert code == 2 and "--dataset-revision goes with a Hub dataset" in err


@pytest.mark.parametrize(
    ("dataset_id", "config", "split", "name"),
    [
        ("imdb", None, None, "imdb.yaml"),
        ("nyu-mll/glue", "sst2", "validation", "nyu-mll--glue--sst2--validation.yaml"),
        ("org/data", "../../etc", ".hidden split", "org--data--etc--hidden_split.yaml"),
    ],
)
def test_file_names_are_safe_slugs(
    dataset_id: str, config: str | None, split: str | None, name: str
) -> None:
    assert eval_results_name(dataset_id, config, split) == name
    long = eval_results_name("org/data", "c" * 300, "test")
    assert len(long) < 130 and long.endswith(".yaml") and "/" not in long


def test_a_file_of_that_name_that_is_not_cardgens_is_never_replaced(
    card: Path, run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = card.parent / ".eval_results" / "glue--sst2--validation.yaml"
    path.write_bytes(OTHER)
    before = card.read_bytes()
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(card))
    assert code == 2 and "holds results from 'My harness', not only cardgen's" in err
    assert path.read_bytes() == OTHER and card.read_bytes() == before


def test_an_eval_results_link_is_never_followed(
    card: Path, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = card.parent / ".eval_results"
    (tmp_path / "elsewhere").mkdir()
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    folder.symlink_to(tmp_path / "elsewhere")
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(card))
    assert code == 2 and ".eval_results is a link" in err
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dataset: {id: a, task_id: b}\nvalue: 1\n",
            "line 1: an .eval_results file must be a YAML list",
        ),
        (
            "- dataset: {id: a, task_id: b}\n  value: 1\n- value: 2\n",
            "line 3: a result needs a `dataset`",
        ),
        (
            "- dataset: {id: a, task_id: b}\n  value: high\n",
            "line 1: `value` must be a finite number",
        ),
        ("- dataset: {id: a}\n  value: 1\n", "`dataset.task_id` must be a non-empty string"),
        (
            "- dataset: {id: a, task_id: b}\n  value: 1\n  source: {name: x}\n",
            "`source` must be a mapping with a `url`",
        ),
        ("- data: {dataset: {id: a, task_id: b}, value: 1}\n", "no `data` or `error` key"),
        ("- [unclosed\n", "is not valid YAML"),
        ("", "got nothing"),
    ],
)
def test_malformed_files_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(CardError, match="x.yaml") as caught:
        parse_eval_results(text, source="x.yaml")
    assert message in str(caught.value)


# --- cardgen push ---------------------------------------------------------------------------


def test_push_commits_card_images_and_eval_results_in_one_commit(card: Path) -> None:
    (card.parent / ".eval_results" / "mine.yaml").write_bytes(OTHER)  # not cardgen's: left out
    api = RecordingApi()
    result = push_card(card, "org/model", api=api)
    (call,) = api.calls
    sent = {
        op.path_in_repo: op.path_or_fileobj
        if isinstance(op.path_or_fileobj, bytes)
        else Path(op.path_or_fileobj).read_bytes()
        for op in call["operations"]
    }
    mine = card.parent / ".eval_results" / "glue--sst2--validation.yaml"
    assert sent == {
        "README.md": card.read_bytes(),
        "confusion_matrix.png": (card.parent / "confusion_matrix.png").read_bytes(),
        "reliability.png": (card.parent / "reliability.png").read_bytes(),
        ".eval_results/glue--sst2--validation.yaml": mine.read_bytes(),
    }
    text = result.describe()
    assert "committed 4 file(s) to org/model@main" in text
    assert (
        "left out .eval_results/mine.yaml: cardgen pushes only the .eval_results files it" in text
    )


def test_push_refuses_a_malformed_local_file_before_sending(card: Path) -> None:
    (card.parent / ".eval_results" / "broken.yaml").write_text("- dataset: {id: a}\n  value: 1\n")
    api = RecordingApi()
    with pytest.raises(CardError, match=r"broken.yaml, line 1: `dataset.task_id`"):
        push_card(card, "org/model", api=api, dry_run=True)
    assert api.calls == []


def test_merge_with_hub_keeps_other_eval_results_byte_identical(
    card: Path, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.readme = HUB_README
    fake_hub.files = {".eval_results/other.yaml": OTHER}
    code, out, err = run_cli(
        capsys, "push", str(card), "--repo-id", "org/model", "--merge-with-hub"
    )
    assert code == 0, err
    (commit,) = fake_hub.commits()
    operations = [json.loads(line)["key"] for line in commit["body"].splitlines()[1:]]
    assert set(operations) == {"file"}  # nothing deleted
    files = _decoded_files(commit)
    assert set(files) == {
        "README.md",
        "confusion_matrix.png",
        "reliability.png",
        ".eval_results/glue--sst2--validation.yaml",
    }
    assert fake_hub.files == {".eval_results/other.yaml": OTHER}
    assert "keeps 1 other .eval_results file(s) on the Hub: .eval_results/other.yaml" in out

    # the Hub now has cardgen's file too: the next merge replaces it, and only it
    fake_hub.files[".eval_results/glue--sst2--validation.yaml"] = files[
        ".eval_results/glue--sst2--validation.yaml"
    ]
    code, out, err = run_cli(
        capsys, "push", str(card), "--repo-id", "org/model", "--merge-with-hub"
    )
    assert code == 0, err
    assert "replaces cardgen's own .eval_results/glue--sst2--validation.yaml" in out
    assert ".eval_results/other.yaml" not in _decoded_files(fake_hub.commits()[-1])


@pytest.mark.parametrize(
    ("hub_files", "message"),
    [
        (
            {".eval_results/glue--sst2--validation.yaml": OTHER},
            "glue--sst2--validation.yaml of org/model@main on the Hub holds results from "
            "'My harness', not only cardgen's",
        ),
        (
            {".eval_results/other.yaml": b"- dataset: {id: a, task_id: b}\n  value: [1]\n"},
            f".eval_results/other.yaml of org/model@{'1' * 12} on the Hub, line 1: `value` must "
            "be a finite number",
        ),
    ],
)
def test_merge_with_hub_refuses_others_files_and_malformed_ones(
    card: Path,
    fake_hub: FakeHub,
    capsys: pytest.CaptureFixture[str],
    hub_files: dict[str, bytes],
    message: str,
) -> None:
    fake_hub.readme, fake_hub.files = HUB_README, dict(hub_files)
    code, _, err = run_cli(capsys, "push", str(card), "--repo-id", "org/model", "--merge-with-hub")
    assert code == 2 and message in " ".join(err.split()) and err.count("error:") == 1
    assert fake_hub.commits() == [] and fake_hub.files == hub_files


# --- cardgen gate ---------------------------------------------------------------------------


def test_the_gate_reads_a_baseline_cards_eval_results(
    card: Path, run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = load_results(run)
    exact = results.metrics["accuracy"].value
    path = card.parent / ".eval_results" / "glue--sst2--validation.yaml"
    assert with_eval_results({"accuracy": round(exact, 4)}, card) == {"accuracy": exact}
    data = yaml.safe_load(path.read_text())
    data[0]["value"] = exact - 0.05
    data[0]["notes"] = data[0]["notes"].replace("metric: accuracy", "metric: macro_f1")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CardError, match="says macro_f1 is .* in its model-index but"):
        with_eval_results({"macro_f1": exact}, card)
    assert with_eval_results({}, card) == {"macro_f1": exact - 0.05}  # not in the model-index

    data[0]["notes"] = data[0]["notes"].replace("metric: macro_f1", "metric: accuracy")
    path.write_text(yaml.safe_dump(data))
    code, _, err = run_cli(
        capsys, "gate", str(run), "--baseline", str(card), "--max-drop", "accuracy=0.01"
    )
    assert code == 2 and "says accuracy is" in err and ".eval_results/glue--sst2" in err


def test_the_huggingface_hub_floor_has_the_eval_results_types() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"huggingface-hub>=1.4"' in pyproject
