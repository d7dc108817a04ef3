"""Golden files: each sample_cards/*/README.md and its .eval_results/*.yaml, re-rendered from
its committed inputs.

scripts/build_sample_cards.py trains, evaluates and renders each sample. This test repeats
only the rendering, with the same ``cardgen card`` command line, from the committed
results.json (which freezes the timings, dates and hardware of the build), training files and
skops model. The ``sklearn`` section (skops' hyperparameter table and scikit-learn's HTML
diagram) changes with the installed scikit-learn and skops, so its content is masked here;
test_card.py checks it. After a deliberate change to the cards, rewrite them with

    pytest tests/test_sample_cards.py --update-golden
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub import parse_eval_result_entries

from cardgen.cards.sections import find_blocks
from cardgen.cli import main

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location(
    "build_sample_cards", ROOT / "scripts" / "build_sample_cards.py"
)
assert _spec is not None and _spec.loader is not None
samples = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = samples  # dataclasses look their module up there
_spec.loader.exec_module(samples)

MASKED = ("sklearn",)


def masked(card: str) -> str:
    """The card with the content of the version-dependent sections replaced by a mark."""
    for block in reversed(list(find_blocks(card, source="card").values())):
        if block.name in MASKED:
            card = f"{card[: block.start]}<masked {block.name}>{card[block.end :]}"
    return card


@pytest.mark.parametrize("name", list(samples.SHAPES))
def test_sample_card_matches_its_golden_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    shape = samples.SHAPES[name]
    notes = tmp_path / "intended_uses.md"
    notes.write_text(samples.notes(shape), encoding="utf-8")
    golden = shape.directory / "README.md"
    update = request.config.getoption("--update-golden")
    output = golden if update else tmp_path / "README.md"
    assert main(samples.card_args(shape, notes, output)) == 0, capsys.readouterr().err
    rendered = output.read_text(encoding="utf-8")
    assert masked(rendered) == masked(golden.read_text(encoding="utf-8"))
    assert ("<!-- cardgen:begin sklearn -->" in rendered) == shape.sklearn
    rendered_results = eval_results(output.parent)
    assert rendered_results == eval_results(golden.parent)
    (text,) = rendered_results.values()  # one file: the headline metric on the sample's dataset
    (entry,) = parse_eval_result_entries(yaml.safe_load(text))
    assert entry.dataset_id == shape.dataset_id and entry.source_name.startswith("cardgen ")


def eval_results(folder: Path) -> dict[str, str]:
    """The ``.eval_results`` files beside a card: name -> text."""
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((folder / ".eval_results").glob("*"))
    }


def test_every_sample_is_linked_from_the_readme_with_its_images() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for shape in samples.SHAPES.values():
        assert f"(sample_cards/{shape.name}/README.md)" in readme, shape.name
        card = (shape.directory / "README.md").read_text(encoding="utf-8")
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card):
            assert (shape.directory / image).is_file(), (shape.name, image)
