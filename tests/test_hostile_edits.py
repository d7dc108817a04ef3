"""Losing what a person wrote: hand edits inside cardgen's sections, front matter and line
endings a merge rewrites, markers shown in code, merged metadata the Hub refuses, and runs
merged into the card of another model. Each test is one class of the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_results, run_cli, save_run

from cardgen.cards.file import validate_card
from cardgen.cards.markdown import scan
from cardgen.cards.render import render_card
from cardgen.cards.sections import find_blocks, split_front_matter
from cardgen.errors import CardError

TITLE = "# cardgen-test/tiny-sentiment"
HUB_PARAGRAPH = "A paragraph written on the Hub, right under the title."


def card_of(card_run: Path, tmp_path: Path, **options: object) -> Path:
    card = tmp_path / "card" / "README.md"
    card.parent.mkdir(exist_ok=True)
    render_card(card_run, output=card, **options)  # type: ignore[arg-type]
    return card


def live_lines(text: str) -> list[str]:
    """The lines of a card body that are outside code blocks and comments."""
    return [line.text for line in scan(split_front_matter(text)[1])[0] if line.top]


# ----------------------------------------------------------- 1. edits inside cardgen's sections


def test_a_paragraph_under_the_title_is_kept_and_the_refresh_refused(
    capsys: pytest.CaptureFixture[str], card_run: Path, tmp_path: Path
) -> None:
    card = card_of(card_run, tmp_path)
    edited = card.read_text().replace(f"{TITLE}\n", f"{TITLE}\n\n{HUB_PARAGRAPH}\n", 1)
    card.write_text(edited)
    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card))
    assert code == 2 and err.count("error:") == 1
    assert "'summary'" in err and "--discard-edits" in err and "edited" in err
    assert card.read_text() == edited

    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card), "--discard-edits")
    assert code == 0, err
    assert HUB_PARAGRAPH not in card.read_text()
    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card))
    assert code == 0, err  # what cardgen wrote is never taken for an edit


def test_an_edit_in_any_section_is_caught_even_after_new_results(
    card_run: Path, tmp_path: Path
) -> None:
    card = card_of(card_run, tmp_path)
    text = card.read_text()
    edited = re.sub(r"(\| Accuracy \| )\d\.\d{4}", r"\g<1>0.9999", text, count=1)
    assert edited != text
    card.write_text(edited)
    save_run(make_results(seed=1), card_run)
    with pytest.raises(CardError, match=r"section 'evaluation' \(lines \d+-\d+\)"):
        render_card(card_run, output=card)
    assert card.read_text() == edited
    render_card(card_run, output=card, discard_edits=True)
    assert "0.9999" not in card.read_text()


def test_line_endings_and_trailing_spaces_are_not_edits(card_run: Path, tmp_path: Path) -> None:
    card = card_of(card_run, tmp_path)
    text = card.read_text()
    card.write_bytes("".join(f"{line}  \r\n" for line in text.splitlines()).encode())
    render_card(card_run, output=card)  # no error, and the card stays CRLF
    refreshed = card.read_bytes()
    assert refreshed.count(b"\r\n") == refreshed.count(b"\n") and b"  \r\n" in refreshed


def test_cards_from_an_older_cardgen_without_hashes_still_refresh(
    card_run: Path, tmp_path: Path
) -> None:
    card = card_of(card_run, tmp_path)
    old = re.sub(r"(<!-- cardgen:(?:begin|end) [\w.-]+) [^>]*-->", r"\1 -->", card.read_text())
    card.write_text(old.replace(f"{TITLE}\n", f"{TITLE}\n\n{HUB_PARAGRAPH}\n", 1))
    refreshed = render_card(card_run, output=card)  # unverifiable: refreshed as before
    assert HUB_PARAGRAPH not in refreshed
    assert re.search(r"<!-- cardgen:end summary sha256:[0-9a-f]{16} -->", refreshed)


def test_an_edit_made_on_the_hub_stops_push_merge_with_hub(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    card_run: Path,
    tmp_path: Path,
) -> None:
    card = card_of(card_run, tmp_path, license="mit")
    hub = card.read_text().replace(f"{TITLE}\n", f"{TITLE}\n\n{HUB_PARAGRAPH}\n", 1)
    monkeypatch.setattr("cardgen.hub.commit.call_hub", lambda *a, **k: ("1" * 40, hub))
    argv = ["push", str(card), "--repo-id", "org/model", "--merge-with-hub", "--dry-run"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and "'summary'" in err and "--discard-edits" in err, err
    code, out, err = run_cli(capsys, *argv, "--discard-edits")
    assert code == 0, err
    assert f"-{HUB_PARAGRAPH}" in out


# ----------------------------------------------------------- 2. front matter and line endings

HAND_FRONT = """\
---
# Written by hand; keep this comment.
language:   en
license: "mit"
tags: [generated_from_trainer, sentiment]
widget: ~
thresholds: {negative: 0.5, positive: 0.5}
datasets:
  - 'glue'
model-index:
- name: tiny-sentiment
  results: []
---
"""
HAND_BODY = """\
# tiny-sentiment

Fine-tuned on reviews.{trailing}

## Training results

| Epoch | Loss |
|:-----:|:----:|
| 1     | 0.3  |
""".format(trailing="   ")


def test_a_merge_keeps_the_front_matter_lines_it_does_not_own(
    card_run: Path, tmp_path: Path
) -> None:
    card = tmp_path / "README.md"
    card.write_text(HAND_FRONT + "\n" + HAND_BODY)
    merged = render_card(card_run, output=card, merge=True)
    front = (split_front_matter(merged)[0] or "").splitlines()
    kept = [line for line in HAND_FRONT.splitlines()[1:-1] if not line.startswith(("tags", "model-index", "- name", "  results"))]
    assert all(line in front for line in kept), front
    (tags,) = [line for line in front if line.startswith("tags:")]
    assert tags.startswith("tags: [generated_from_trainer, sentiment,") and "cardgen" in tags
    assert is_subsequence(kept, front)
    assert is_subsequence(HAND_BODY.splitlines(), split_front_matter(merged)[1].splitlines())


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(line == other for other in rest) for line in needle)


@pytest.mark.parametrize("merge", [True, False], ids=["merge", "refresh"])
def test_a_repeated_front_matter_key_is_refused_by_name_and_line(
    capsys: pytest.CaptureFixture[str], card_run: Path, tmp_path: Path, merge: bool
) -> None:
    card = card_of(card_run, tmp_path)
    body = split_front_matter(card.read_text())[1] if not merge else HAND_BODY
    text = f"---\nlicense: mit\nlanguage: en\nlicense: apache-2.0\n---\n{body}"
    card.write_text(text)
    code, _, err = run_cli(
        capsys, "card", str(card_run), "--output", str(card), *(["--merge"] if merge else [])
    )
    assert code == 2 and "'license'" in err and "line 4" in err and "line 2" in err, err
    assert card.read_text() == text


def test_push_refuses_a_repeated_front_matter_key_too(card_run: Path, tmp_path: Path) -> None:
    card = card_of(card_run, tmp_path, license="mit")
    card.write_text(card.read_text().replace("license: mit\n", "license: mit\nlicense: gpl\n"))
    with pytest.raises(CardError, match=r"repeats the key 'license' on line \d+ \(first on line"):
        validate_card(card)


def test_a_crlf_card_stays_crlf_through_a_merge_and_a_refresh(
    card_run: Path, tmp_path: Path
) -> None:
    card = tmp_path / "README.md"
    original = (HAND_FRONT + "\n" + HAND_BODY).replace("\n", "\r\n").encode()
    card.write_bytes(original)
    render_card(card_run, output=card, merge=True)
    merged = card.read_bytes()
    assert merged.count(b"\n") == merged.count(b"\r\n") > original.count(b"\n")
    assert is_subsequence(original.split(b"\n")[13:], merged.split(b"\n"))
    save_run(make_results(seed=1), card_run)
    render_card(card_run, output=card)
    refreshed = card.read_bytes()
    assert refreshed.count(b"\n") == refreshed.count(b"\r\n") and refreshed != merged


def test_a_refresh_keeps_unchanged_front_matter_and_body_bytes(
    card_run: Path, tmp_path: Path
) -> None:
    card = card_of(card_run, tmp_path)
    front, body = split_front_matter(card.read_text())
    mine = "pipeline_tag:   text-classification   # mine\nextra: [1, 2]\n"
    front = (front or "").replace("pipeline_tag: text-classification\n", mine)
    text = f"---\n{front}---\n{body}"
    card.write_text(text)
    assert render_card(card_run, output=card, license="mit").count(mine) == 1


# ----------------------------------------------------------- 3. markers shown in code

DOCUMENTING = """\
# tiny-sentiment

This card documents how cardgen marks its sections:

{fence}markdown
<!-- cardgen:begin evaluation -->
(cardgen writes the evaluation here)
<!-- cardgen:end evaluation -->
{fence}

## Evaluation results

Our own numbers.
"""


@pytest.mark.parametrize("fence", ["```", "~~~~"])
def test_markers_shown_in_a_code_block_are_not_live(
    card_run: Path, tmp_path: Path, fence: str
) -> None:
    card = tmp_path / "README.md"
    original = DOCUMENTING.format(fence=fence)
    card.write_text(original)
    merged = render_card(card_run, output=card, merge=True)
    example = original[original.index(fence) : original.rindex(fence) + len(fence)]
    assert example in merged and "(cardgen writes the evaluation here)" in merged
    live = live_lines(merged)
    begin = next(i for i, line in enumerate(live) if line.startswith("<!-- cardgen:begin evaluation"))
    assert live.index("Our own numbers.") < begin and "| Accuracy |" in "\n".join(live)
    assert render_card(card_run, output=card) == merged  # refreshing finds the live markers


def test_a_refresh_leaves_markers_in_a_code_block_alone(card_run: Path, tmp_path: Path) -> None:
    card = card_of(card_run, tmp_path)
    notes = "\n## Notes\n\n```\n<!-- cardgen:begin summary -->\nan example\n<!-- cardgen:end summary -->\n```\n"
    card.write_text(card.read_text() + notes)
    assert render_card(card_run, output=card).endswith(notes)


def test_markers_in_a_comment_of_the_person_are_not_live() -> None:
    text = "<!-- Note to editors: cardgen's sections start with a line like\n<!-- cardgen:begin summary -->\n"
    assert find_blocks(text, source="card") == {}


# ----------------------------------------------------------- 4. metadata the Hub would refuse

MAPPING_METRICS = """\
---
model-index:
- name: tiny-sentiment
  results:
  - task: {type: text-classification}
    dataset: {name: IMDb, type: imdb, split: test}
    metrics: {accuracy: 0.88}
---
# tiny-sentiment
"""


def test_a_merge_that_writes_metadata_the_hub_refuses_is_refused(
    capsys: pytest.CaptureFixture[str], card_run: Path, tmp_path: Path
) -> None:
    card = tmp_path / "README.md"
    card.write_text(MAPPING_METRICS)
    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card), "--merge")
    assert code == 2 and err.count("error:") == 1
    assert "model-index[0].results[0].metrics must be a non-empty list" in err
    assert "would be refused by the Hub" in err
    assert card.read_text() == MAPPING_METRICS


# ----------------------------------------------------------- 5. a run that does not fit the card

TOPICS = [f"topic.{i}" for i in range(20)]
LABEL_TABLE = "| id | label |\n|---:|---|\n" + "".join(f"| {i} | {t} |\n" for i, t in enumerate(TOPICS))
ID2LABEL = '```json\n{"id2label": {' + ", ".join(f'"{i}": "{t}"' for i, t in enumerate(TOPICS)) + "}}\n```\n"


@pytest.mark.parametrize(
    ("card_text", "found"),
    [
        (f"# tiny-sentiment\n\n## Labels\n\n{LABEL_TABLE}", "20 labels"),
        (f"# tiny-sentiment\n\n## Config\n\n{ID2LABEL}", "20 labels"),
        ("---\nmodel-index:\n- name: newsgroups-topics\n  results: []\n---\n# m\n", "newsgroups-topics"),
        (
            "---\nmodel-index:\n- name: tiny-sentiment\n  results:\n  - task: {type: text-classification}\n"
            "    dataset: {name: IMDb, type: imdb, split: test}\n    metrics:\n"
            "    - {type: accuracy, value: 0.88}\n---\n# m\n",
            "imdb",
        ),
    ],
    ids=["label table", "id2label", "model name", "dataset"],
)
def test_merging_a_run_that_does_not_fit_the_card_warns_and_says_so_in_the_card(
    capsys: pytest.CaptureFixture[str], card_run: Path, tmp_path: Path, card_text: str, found: str
) -> None:
    card = tmp_path / "README.md"
    card.write_text(card_text)
    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card), "--merge")
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any(found in line for line in warning), err
    merged = card.read_text()
    blocks = find_blocks(split_front_matter(merged)[1], source="card")
    evaluation = merged[merged.index("<!-- cardgen:begin evaluation") :]
    assert "evaluation" in blocks and found in evaluation[: evaluation.index("<!-- cardgen:end")]


def test_a_run_that_fits_the_card_merges_without_a_word(
    capsys: pytest.CaptureFixture[str], card_run: Path, tmp_path: Path
) -> None:
    card = tmp_path / "README.md"
    card.write_text(
        "---\nmodel-index:\n- name: tiny-sentiment\n  results: []\n---\n# tiny-sentiment\n\n"
        "| label | precision |\n|---|---|\n| negative | 0.9 |\n| positive | 0.8 |\n| macro avg | 0.85 |\n"
    )
    code, _, err = run_cli(capsys, "card", str(card_run), "--output", str(card), "--merge")
    assert code == 0 and "warning:" not in err, err
