"""Images copied beside a card: named after the card unless it is a README, so that the cards
of several runs in one folder each keep, link and push their own images."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_results, run_cli, save_run
from PIL import Image

from cardgen import push_card
from cardgen.cards.render import render_card

PLOTS = ("confusion_matrix.png", "reliability.png")
COLOURS = {"README.md": "red", "second.md": "green", "third card.md": "blue"}


def coloured_run(directory: Path, colour: str, seed: int) -> Path:
    """A run whose plots are plain ``colour`` PNGs of different sizes, unlike any other run's."""
    run = save_run(make_results(seed=seed), directory)
    for size, plot in enumerate(PLOTS, start=3):
        Image.new("RGB", (size, size), colour).save(run / plot)
    return run


def links(card: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card)


def test_cards_of_three_runs_in_one_folder_keep_their_own_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "cards"
    runs = {
        name: coloured_run(tmp_path / f"run-{i}", colour, seed=i)
        for i, (name, colour) in enumerate(COLOURS.items())
    }
    for name, run in runs.items():
        code, _, err = run_cli(capsys, "card", str(run), "--output", str(folder / name))
        assert code == 0, err
    expected = {
        "README.md": ["confusion_matrix.png", "reliability.png"],
        "second.md": ["second.confusion_matrix.png", "second.reliability.png"],
        "third card.md": ["third%20card.confusion_matrix.png", "third%20card.reliability.png"],
    }
    seen: set[bytes] = set()
    for name, run in runs.items():
        card = folder / name
        assert links(card.read_text(encoding="utf-8")) == expected[name]
        # what `cardgen push` uploads: the card as README.md and the images it links
        pushed = dict(push_card(card, "org/model", dry_run=True).files)
        assert pushed["README.md"] == card
        for plot in PLOTS:
            in_repo = plot if name == "README.md" else f"{card.stem}.{plot}"
            assert pushed[in_repo] == folder / in_repo
            data = pushed[in_repo].read_bytes()
            assert data == (run / plot).read_bytes()
            seen.add(data)
    assert len(seen) == len(runs) * len(PLOTS)  # no card shows another run's image


def test_a_refreshed_card_replaces_only_its_own_images(tmp_path: Path) -> None:
    first = coloured_run(tmp_path / "first", "red", seed=1)
    second = coloured_run(tmp_path / "second", "green", seed=2)
    folder = tmp_path / "cards"
    render_card(first, output=folder / "README.md")
    render_card(first, output=folder / "other.md")
    render_card(second, output=folder / "other.md", overwrite=True)
    assert (folder / "confusion_matrix.png").read_bytes() == (first / PLOTS[0]).read_bytes()
    assert (folder / "other.confusion_matrix.png").read_bytes() == (second / PLOTS[0]).read_bytes()


def test_probe_plots_in_subfolders_are_named_after_the_card_too(tmp_path: Path) -> None:
    from test_card import country_probe

    run = save_run(make_results(probes={"country": country_probe()}), tmp_path / "run")
    text = render_card(run, output=tmp_path / "card" / "model.md")
    assert "![Country probe](probes/model.country.png)" in text
    assert (tmp_path / "card" / "probes" / "model.country.png").is_file()


def test_an_html_card_not_named_readme_names_its_images_too(tmp_path: Path) -> None:
    run = coloured_run(tmp_path / "run", "red", seed=0)
    page = render_card(run, output=tmp_path / "site" / "card.html", output_format="html")
    assert '<img src="card.confusion_matrix.png"' in page
    assert (tmp_path / "site" / "card.reliability.png").is_file()
    assert not (tmp_path / "site" / "reliability.png").exists()
