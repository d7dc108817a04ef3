"""Cards, the images they link and run files under hostile links: a link out of the directory
the user named, a directory link on the way, a FIFO or other non-regular file in place of a
file. Each is refused with exit 2 and one `error:` line that names the path but never what the
link points to; nothing is written through a link and nothing blocks."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import make_results, results_from_predictions, run_cli, save_run

from cardgen.cards.file import linked_images, read_card_text
from cardgen.cards.merge import merge_file
from cardgen.cards.render import render_card
from cardgen.errors import CardError, CardgenError, ResultsError
from cardgen.results.predictions import load_predictions, read_prediction_codes
from cardgen.results.schema import load_results
from cardgen.trust.atomic import write_jsonl

SECRET = "TOP-SECRET-7f3a9c"
LABELS = ["neg", "pos"]
GOLD = ["neg"] * 20 + ["pos"] * 20
PREDICTED = ["pos"] * 3 + GOLD[3:]
fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def refused(code: int, out: str, err: str, path: Path) -> None:
    """Exit 2, one `error:` line naming ``path``, and nothing of the secret anywhere."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert path.name in errors[0], errors[0]
    assert SECRET not in out + err


@contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail, rather than hang the suite, when cardgen blocks (e.g. opening a FIFO)."""

    def fail(*_: object) -> None:
        raise TimeoutError("cardgen blocked")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def prediction_run(directory: Path, predicted: list[str] = PREDICTED) -> Path:
    """results.json and predictions.jsonl of a made-up binary run."""
    directory.mkdir(parents=True)
    results_from_predictions(GOLD, predicted, labels=LABELS).save(directory)
    rows = [
        {
            "index": i,
            "gold": g,
            "predicted": p,
            "probabilities": {p: 0.9, "neg" if p == "pos" else "pos": 0.1},
        }
        for i, (g, p) in enumerate(zip(GOLD, predicted, strict=True))
    ]
    write_jsonl(directory / "predictions.jsonl", rows)
    return directory


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return save_run(make_results(), tmp_path / "run")


@pytest.fixture
def secret_card(run: Path, tmp_path: Path) -> Path:
    """A valid card outside every directory the tests name, with a secret line in it."""
    card = tmp_path / "outside" / "notes.md"
    render_card(run, output=card)
    card.write_text(card.read_text() + f"\n{SECRET}\n")
    return card


@pytest.fixture
def project(tmp_path: Path, secret_card: Path) -> Path:
    """A folder whose README.md is a link to the secret card outside it."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "README.md").symlink_to(secret_card)
    return folder


# --- the existing card, and the output card -----------------------------------------------------


def test_merge_refuses_an_existing_card_that_links_out(
    run: Path, project: Path, secret_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = secret_card.read_text()
    card = project / "README.md"
    code, out, err = run_cli(capsys, "card", str(run), "--merge", "--output", str(card))
    refused(code, out, err, card)
    assert card.is_symlink() and secret_card.read_text() == before


@pytest.mark.parametrize(
    "options",
    [{"merge": True}, {}, {"overwrite": True}, {"output_format": "html", "overwrite": True}],
    ids=["merge", "refresh", "overwrite", "html"],
)
def test_a_linked_output_card_is_refused_and_never_written_through(
    run: Path, project: Path, secret_card: Path, options: dict[str, object]
) -> None:
    before = secret_card.read_text()
    card = project / "README.md"
    with pytest.raises(CardgenError, match="README.md is a symbolic link") as caught:
        render_card(run, output=card, **options)  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)
    assert card.is_symlink() and secret_card.read_text() == before
    with pytest.raises(CardError, match="symbolic link"):
        merge_file(card, "# new\n")


def test_an_output_card_linked_inside_its_folder_is_refused_too(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "project"
    render_card(run, output=folder / "docs" / "card.md")
    (folder / "README.md").symlink_to(Path("docs") / "card.md")
    code, out, err = run_cli(capsys, "card", str(run), "--output", str(folder / "README.md"))
    refused(code, out, err, folder / "README.md")
    assert "docs/card.md" not in err  # where the link points is not shown either
    assert (folder / "README.md").is_symlink()


def test_cards_read_through_a_link_out_are_refused(
    run: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = project / "README.md"
    with pytest.raises(CardError, match="leads outside .* through a link") as caught:
        read_card_text(card)
    assert SECRET not in str(caught.value)
    code, out, err = run_cli(capsys, "push", str(card), "--repo-id", "me/m", "--dry-run")
    refused(code, out, err, card)
    argv = ["gate", str(run), "--baseline", str(card), "--max-drop", "accuracy=0.5"]
    refused(*run_cli(capsys, *argv), card)


def test_a_card_linked_inside_its_folder_is_read(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    render_card(run, output=folder / "docs" / "card.md")
    (folder / "README.md").symlink_to(Path("docs") / "card.md")
    assert read_card_text(folder / "README.md") == (folder / "docs" / "card.md").read_text()


@fifo_only
def test_a_fifo_in_place_of_a_card_is_refused_without_blocking(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "README.md"
    os.mkfifo(fifo)
    with no_hang():
        refused(*run_cli(capsys, "card", str(run), "--output", str(fifo)), fifo)
        refused(*run_cli(capsys, "card", str(run), "--overwrite", "--output", str(fifo)), fifo)
        refused(*run_cli(capsys, "push", str(fifo), "--repo-id", "me/m", "--dry-run"), fifo)
        with pytest.raises(CardError, match="not a regular file"):
            read_card_text(fifo)
    assert fifo.is_fifo()


# --- images ---------------------------------------------------------------------------------------


def card_linking(tmp_path: Path, run: Path, image: str) -> Path:
    card = tmp_path / "project" / "README.md"
    render_card(run, output=card)
    card.write_text(card.read_text() + f"\n![x]({image})\n")
    return card


def test_a_linked_image_that_links_out_is_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "key.png").write_text(SECRET)
    card = card_linking(tmp_path, run, "leak.png")
    (card.parent / "leak.png").symlink_to(tmp_path / "outside" / "key.png")
    with pytest.raises(CardError, match="outside the card's folder"):
        linked_images(card)
    refused(*run_cli(capsys, "push", str(card), "--repo-id", "me/m", "--dry-run"), card)


def test_a_linked_image_under_a_directory_link_out_is_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "key.png").write_text(SECRET)
    card = card_linking(tmp_path, run, "img/key.png")
    (card.parent / "img").symlink_to(tmp_path / "outside")
    refused(*run_cli(capsys, "push", str(card), "--repo-id", "me/m", "--dry-run"), card)


@fifo_only
def test_a_linked_image_that_is_a_fifo_is_refused(run: Path, tmp_path: Path) -> None:
    card = card_linking(tmp_path, run, "pipe.png")
    os.mkfifo(card.parent / "pipe.png")
    with (
        no_hang(),
        pytest.raises(CardError, match="pipe.png does not exist as a file: it is a FIFO"),
    ):
        linked_images(card)


def test_a_run_image_that_links_out_is_not_copied(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "key.png").write_text(SECRET)
    (run / "confusion_matrix.png").unlink()
    (run / "confusion_matrix.png").symlink_to(tmp_path / "outside" / "key.png")
    card = tmp_path / "card" / "README.md"
    code, out, err = run_cli(capsys, "card", str(run), "--output", str(card))
    refused(code, out, err, Path("confusion_matrix.png"))
    assert not (tmp_path / "card").exists() or os.listdir(tmp_path / "card") == []


def test_a_link_in_place_of_a_copied_image_is_refused(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "mine.png").write_text("my own picture")
    (folder / "confusion_matrix.png").symlink_to("mine.png")
    with pytest.raises(CardgenError, match="confusion_matrix.png is a symbolic link"):
        render_card(run, output=folder / "README.md")
    assert (folder / "mine.png").read_text() == "my own picture"
    assert (folder / "confusion_matrix.png").is_symlink() and not (folder / "README.md").exists()


@fifo_only
def test_a_fifo_in_place_of_a_copied_image_is_refused(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    os.mkfifo(folder / "reliability.png")
    with no_hang(), pytest.raises(CardgenError, match="reliability.png is not a regular file"):
        render_card(run, output=folder / "README.md")
    assert (folder / "reliability.png").is_fifo()


# --- run files: results.json, predictions -----------------------------------------------------


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A whole run outside the directories the tests name."""
    return prediction_run(tmp_path / "outside" / "run")


@pytest.mark.parametrize("command", ["card", "gate", "compare"])
def test_a_results_file_that_links_out_is_refused(
    command: str, elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    linked = tmp_path / "run"
    linked.mkdir()
    (linked / "results.json").symlink_to(elsewhere / "results.json")
    argv = {
        "card": ["card", str(linked), "--output", str(tmp_path / "card" / "README.md")],
        "gate": ["gate", str(linked), "--min", "accuracy=0.1"],
        "compare": ["compare", str(prediction_run(tmp_path / "other")), str(linked)],
    }[command]
    refused(*run_cli(capsys, *argv), linked / "results.json")
    with pytest.raises(ResultsError, match="results.json leads outside .* through a link"):
        load_results(linked)


@pytest.mark.parametrize("command", ["gate", "compare"])
def test_predictions_that_link_out_are_refused(
    command: str, elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = prediction_run(tmp_path / "baseline", GOLD)
    linked = prediction_run(tmp_path / "run")
    (linked / "predictions.jsonl").unlink()
    (linked / "predictions.jsonl").symlink_to(elsewhere / "predictions.jsonl")
    argv = {
        "gate": ["gate", str(linked), "--baseline", str(baseline), "--max-drop", "accuracy=0.5"],
        "compare": ["compare", str(baseline), str(linked)],
    }[command]
    refused(*run_cli(capsys, *argv), linked / "predictions.jsonl")
    with pytest.raises(ResultsError, match="leads outside .* through a link"):
        load_predictions(linked)
    with pytest.raises(ResultsError, match="leads outside .* through a link"):
        read_prediction_codes(linked, LABELS)


def parquet_predictions(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = load_predictions(prediction_run(path.parent / f".{path.name}.source"))
    columns = {
        "index": [r["index"] for r in rows],
        "gold": [r["gold"] for r in rows],
        "predicted": [r["predicted"] for r in rows],
        "probabilities": [list(r["probabilities"].items()) for r in rows],
    }
    schema = pa.schema(
        [
            ("index", pa.int64()),
            ("gold", pa.string()),
            ("predicted", pa.string()),
            ("probabilities", pa.map_(pa.string(), pa.float64())),
        ]
    )
    path.mkdir(parents=True)
    pq.write_table(pa.table(columns, schema=schema), path / "part-0.parquet")


@pytest.mark.parametrize("where", ["the directory", "a part"])
def test_parquet_predictions_reached_through_a_link_out_are_refused(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyarrow")
    outside = tmp_path / "outside" / "predictions.parquet"
    parquet_predictions(outside)
    baseline = prediction_run(tmp_path / "baseline", GOLD)
    linked = prediction_run(tmp_path / "run")
    (linked / "predictions.jsonl").unlink()
    if where == "the directory":
        (linked / "predictions.parquet").symlink_to(outside)
    else:
        (linked / "predictions.parquet").mkdir()
        (linked / "predictions.parquet" / "part-0.parquet").symlink_to(outside / "part-0.parquet")
    refused(*run_cli(capsys, "compare", str(baseline), str(linked)), linked / "predictions.parquet")
    with pytest.raises(ResultsError, match="leads outside .* through a link"):
        read_prediction_codes(linked, LABELS)


@fifo_only
def test_a_fifo_in_place_of_predictions_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = prediction_run(tmp_path / "baseline", GOLD)
    linked = prediction_run(tmp_path / "run")
    (linked / "predictions.jsonl").unlink()
    os.mkfifo(linked / "predictions.jsonl")
    argv = ["gate", str(linked), "--baseline", str(baseline), "--max-drop", "accuracy=0.5"]
    with no_hang():
        refused(*run_cli(capsys, *argv), linked / "predictions.jsonl")


def test_run_files_linked_inside_the_run_are_read(tmp_path: Path) -> None:
    run = prediction_run(tmp_path / "run")
    (run / "archive").mkdir()
    for name in ("results.json", "predictions.jsonl"):
        (run / name).rename(run / "archive" / name)
        (run / name).symlink_to(Path("archive") / name)
    assert load_results(run).labels == LABELS
    assert len(load_predictions(run)) == len(GOLD)
