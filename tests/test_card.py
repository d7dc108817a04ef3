from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_results, save_run
from huggingface_hub import ModelCard

import cardgen
from cardgen.cards.conventions import metric_key
from cardgen.cards.render import render_card
from cardgen.cards.sections import find_blocks, split_front_matter
from cardgen.errors import CardError, UsageError
from cardgen.results.schema import Metric, ProbeResult, ProbeTerm, load_results


def outside_sections(card: str) -> list[str]:
    """The text of a card body outside its cardgen sections, piece by piece."""
    _, body = split_front_matter(card)
    pieces, position = [], 0
    for block in find_blocks(body, source="card").values():
        pieces.append(body[position : block.start])
        position = block.end
    return [*pieces, body[position:]]


def test_metadata_round_trips_through_huggingface_hub_model_card(
    card_run: Path, tmp_path: Path
) -> None:
    results = load_results(card_run)
    output = tmp_path / "card" / "README.md"
    render_card(card_run, output=output, license="apache-2.0", base_model="distilbert-base-uncased")
    card = ModelCard.load(output)
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "text-classification"
    assert data.license == "apache-2.0" and data.base_model == "distilbert-base-uncased"
    assert data.datasets == ["glue"] and "text-classification" in data.tags
    assert data.model_name == "cardgen-test/tiny-sentiment"
    reported = {metric_key(r.metric_type, r.metric_args): r for r in data.eval_results}
    assert set(reported) == {
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "macro_precision",
        "macro_recall",
        "roc_auc",
    }
    for key, result in reported.items():
        assert result.metric_value == round(results.metrics[key].value, 4)
        assert isinstance(result.metric_value, float)  # a CI never goes into the metadata
        assert (result.dataset_type, result.dataset_name) == ("glue", "glue (sst2)")
        assert (result.dataset_config, result.dataset_split) == ("sst2", "validation")
        assert result.task_type == "text-classification"
    assert reported["macro_f1"].metric_name == "Macro F1"
    assert (reported["macro_f1"].metric_type, reported["macro_f1"].metric_args) == (
        "f1",
        {"average": "macro"},
    )
    assert reported["macro_recall"].metric_type == "recall"
    assert reported["roc_auc"].metric_args is None  # binary: a plain ROC AUC


def test_body_has_metrics_with_cis_the_per_class_report_and_linked_images(
    card_run: Path, tmp_path: Path
) -> None:
    results = load_results(card_run)
    output = tmp_path / "out" / "README.md"
    text = render_card(card_run, output=output)
    assert output.read_text() == text
    accuracy = results.metrics["accuracy"]
    assert (
        f"| Accuracy | {accuracy.value:.4f} | [{accuracy.ci_low:.4f}, {accuracy.ci_high:.4f}] |"
        in text
    )
    for row in results.per_class:
        assert (
            f"| {row.label} | {row.precision:.4f} | {row.recall:.4f} | {row.f1:.4f} | "
            f"{row.support} |" in text
        )
    macro = [results.metrics[f"macro_{m}"].value for m in ("precision", "recall", "f1")]
    assert "| **macro avg** | {:.4f} | {:.4f} | {:.4f} | 200 |".format(*macro) in text
    counts = results.confusion_matrix.counts
    assert f"| **negative** | {counts[0][0]} | {counts[0][1]} |" in text
    assert "![Confusion matrix: counts and row-normalised rates](confusion_matrix.png)" in text
    assert "![Reliability diagram](reliability.png)" in text
    assert f"**{results.calibration.ece:.4f}**" in text
    assert "Test CPU, 2 CPU cores" in text and "400.0 examples/s" in text
    assert "(test split" not in text and "glue (sst2) (validation split, 200 rows)" in text
    for image in ("confusion_matrix.png", "reliability.png"):
        assert (output.parent / image).read_bytes() == (card_run / image).read_bytes()
    assert 'pipeline("text-classification", model="cardgen-test/tiny-sentiment")' in text


def test_rendering_twice_gives_the_same_card(card_run: Path) -> None:
    assert render_card(card_run) == render_card(card_run)


def test_hand_edits_outside_the_markers_survive_a_refresh_byte_for_byte(
    card_run: Path, tmp_path: Path
) -> None:
    output = tmp_path / "README.md"
    render_card(card_run, output=output, license="mit")
    front, body = split_front_matter(output.read_text())
    hand = [
        "A paragraph a person wrote above everything.",
        "  An indented line with trailing spaces.   ",
        "| a hand | table |",
        "## Citation",
        "Cite this model as you like.",
    ]
    body = f"{hand[0]}\n\n{body}"
    body = body.replace(
        "<!-- cardgen:begin evaluation -->",
        f"{hand[1]}\n{hand[2]}\n\n<!-- cardgen:begin evaluation -->",
    )
    edited = f"---\n{front}language: en\n---\n{body}\n{hand[3]}\n\n{hand[4]}\n"
    output.write_text(edited)

    save_run(make_results(seed=1), card_run)  # new results for the same run
    new_accuracy = load_results(card_run).metrics["accuracy"].value
    render_card(card_run, output=output, license="apache-2.0")
    refreshed = output.read_text()

    assert outside_sections(refreshed) == outside_sections(edited)
    lines = refreshed.splitlines()
    assert all(line in lines for line in hand)
    assert f"| Accuracy | {new_accuracy:.4f} |" in refreshed
    card = ModelCard.load(output)
    assert card.data.license == "apache-2.0" and card.data.language == "en"
    assert {r.metric_value for r in card.data.eval_results} >= {round(new_accuracy, 4)}


def test_a_section_whose_markers_were_removed_belongs_to_the_person(
    card_run: Path, tmp_path: Path
) -> None:
    output = tmp_path / "README.md"
    render_card(card_run, output=output)
    text = output.read_text()
    start = text.index("<!-- cardgen:begin intended_uses -->")
    end = text.index("-->", text.index("<!-- cardgen:end intended_uses ")) + len("-->")
    mine = "## Intended uses & limitations\n\nOnly for English movie reviews."
    output.write_text(text[:start] + mine + text[end:])
    with pytest.warns(UserWarning, match="no 'intended_uses' section"):
        render_card(card_run, output=output, sections={"intended_uses": "Generated text."})
    refreshed = output.read_text()
    assert mine in refreshed and "Generated text." not in refreshed
    assert refreshed.count("## Intended uses") == 1


def test_sections_the_template_no_longer_has_are_removed(card_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "README.md"
    output.write_text(
        "intro\n<!-- cardgen:begin old -->\nstale\n<!-- cardgen:end old -->\n"
        "<!-- cardgen:begin summary -->\nold summary\n<!-- cardgen:end summary -->\noutro\n"
    )
    text = render_card(card_run, output=output)
    _, body = split_front_matter(text)
    assert body.startswith("intro\n<!-- cardgen:begin summary -->\n# cardgen-test/tiny-sentiment")
    assert re.search(r"<!-- cardgen:end summary sha256:[0-9a-f]{16} -->\noutro\n\Z", body)
    assert "stale" not in text


def test_a_card_without_sections_is_replaced_only_with_overwrite(
    card_run: Path, tmp_path: Path
) -> None:
    output = tmp_path / "README.md"
    output.write_text("# My model\n\nWritten by hand.\n")
    with pytest.raises(CardError, match="has no cardgen sections.*--merge.*--overwrite"):
        render_card(card_run, output=output)
    assert output.read_text() == "# My model\n\nWritten by hand.\n"
    render_card(card_run, output=output, overwrite=True)
    assert "Written by hand" not in output.read_text()


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("<!-- cardgen:begin a -->\nx\n", "section 'a' has no `<!-- cardgen:end a -->`"),
        ("<!-- cardgen:end a -->\n", "line 1: `<!-- cardgen:end a -->` has no matching"),
        (
            "<!-- cardgen:begin a -->\n<!-- cardgen:begin b -->\n",
            "line 2: section 'b' begins inside section 'a'",
        ),
        (
            "<!-- cardgen:begin a -->\n<!-- cardgen:end a -->\n" * 2,
            "line 3: section 'a' appears twice",
        ),
        ("---\n[unclosed\n---\n<!-- cardgen:begin a -->\n<!-- cardgen:end a -->\n", "YAML"),
    ],
)
def test_broken_cards_are_refused_and_left_untouched(
    card_run: Path, tmp_path: Path, card: str, message: str
) -> None:
    output = tmp_path / "README.md"
    output.write_text(card)
    with pytest.raises(CardError, match=re.escape(message)):
        render_card(card_run, output=output)
    assert output.read_text() == card


def country_probe(plot: str | None = "probes/country.png") -> ProbeResult:
    terms = [
        ProbeTerm("Afghanistan", "asia", {"negative": 0.92, "positive": 0.08}, 0.05, [0.1, 0.06]),
        ProbeTerm("Japan", "asia", {"negative": 0.5, "positive": 0.5}, 0.02, [0.5, 0.5]),
        ProbeTerm("France", "europe", {"negative": 0.11, "positive": 0.89}, 0.03, [0.9, 0.88]),
    ]
    return ProbeResult(
        name="country",
        target_label="positive",
        templates=["the film was shot in {term}.", "a story set in {term}."],
        terms=terms,
        range=Metric(0.81, 0.7, 0.9),
        std=0.33,
        flip_rate=0.25,
        lowest=[("Afghanistan", 0.08), ("Japan", 0.5)],
        highest=[("France", 0.89), ("Japan", 0.5)],
        group_means={"asia": 0.29, "europe": 0.89},
        group_gap=0.6,
        plot=plot,
    )


def test_probe_results_are_described_in_plain_words(tmp_path: Path) -> None:
    run = save_run(make_results(probes={"country": country_probe()}), tmp_path / "run")
    output = tmp_path / "card" / "README.md"
    text = render_card(run, output=output)
    risks = text[text.index("<!-- cardgen:begin risks -->") :]
    assert (
        "positive probability ranges from 0.08 (Afghanistan) to 0.89 (France) for sentences "
        "that differ only in which country they mention" in risks
    )
    assert "across 3 terms:** 0.81 (95% CI [0.70, 0.90])" in risks
    assert "**Flip rate:** 25.0% of template sentences" in risks
    assert "**Group gap:** 0.60" in risks and "asia 0.29, europe 0.89" in risks
    assert '"the film was shot in {term}.", "a story set in {term}."' in risks
    assert "![Country probe](probes/country.png)" in risks
    assert (output.parent / "probes" / "country.png").is_file()
    assert "No bias probe was run" not in text


def test_without_probes_the_card_says_none_was_run(card_run: Path) -> None:
    text = render_card(card_run)
    risks = text[text.index("<!-- cardgen:begin risks -->") :]
    assert "No bias probe was run for this card" in risks


def test_training_history_and_hyperparameters_tables(card_run: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.61,0.9,0.7,0.8\n1,0.8,0.5,0.75,0.6\n"
    )
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"learning_rate": 2e-05, "optimizer": "Adam | clipped"}))
    text = render_card(card_run, training_history=history, hyperparameters=params)
    assert "| learning_rate | 2e-05 |" in text and "| optimizer | Adam \\| clipped |" in text
    assert "| Epoch | Training Loss | Accuracy | Validation Loss | Validation Accuracy |" in text
    assert "| 1 | 0.9 | 0.61 | 0.8 | 0.7 |" in text and "| 2 | 0.5 | 0.8 | 0.6 | 0.75 |" in text
    assert "Read from `history.csv` (a Keras training history)" in text


def test_user_sections_fill_the_default_template(card_run: Path) -> None:
    text = render_card(
        card_run,
        sections={"intended_uses": "Only for **English** reviews.", "risks": "Sarcasm fools it."},
    )
    uses = text[text.index("## Intended uses") : text.index("<!-- cardgen:end intended_uses")]
    assert "Only for **English** reviews." in uses and "[More Information Needed]" not in uses
    assert "Sarcasm fools it." in text
    with pytest.raises(UsageError, match="unknown section 'citation'.*intended_uses"):
        render_card(card_run, sections={"citation": "x"})


def write_template(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "my_card.md.j2"
    path.write_text("---\n{{ card_data }}\n---\n" + body)
    return path


def test_user_templates_render_and_may_include_default_partials(
    card_run: Path, tmp_path: Path
) -> None:
    template = write_template(
        tmp_path,
        "# {{ model.name }}\n<!-- cardgen:begin evaluation -->\n"
        '{% include "partials/evaluation.md.j2" %}\n<!-- cardgen:end evaluation -->\n'
        "{{ sections.extra }}\n",
    )
    text = render_card(card_run, template=template, sections={"extra": "My own section."})
    assert "# cardgen-test/tiny-sentiment" in text and "### Per-class results" in text
    assert text.rstrip().endswith("My own section.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "line one\n{{ modle.name }}\n",
            "my_card.md.j2, line 5: 'modle' is undefined; a template can use: calibration, card_data",
        ),
        ("{{ model.nmae }}\n", "my_card.md.j2, line 4: 'dict object' has no attribute 'nmae'"),
        ("{% for x in labels %}\n", "my_card.md.j2, line 4: Unexpected end of template"),
        (
            "{{ model.__class__.__mro__ }}\n",
            "my_card.md.j2, line 4: access to attribute '__class__'",
        ),
        ("{{ sections.update(x=1) }}\n", "line 4: access to attribute 'update' of 'dict'"),
        ("{{ results.save('x') }}\n", "line 4: 'dict object' has no attribute 'save'"),
        ('{% include "nope.j2" %}\n', "my_card.md.j2, line 4: nope.j2"),
        ("{{ 1 / 0 }}\n", "my_card.md.j2, line 4: ZeroDivisionError"),
    ],
)
def test_user_template_errors_name_the_template_line_and_problem(
    card_run: Path, tmp_path: Path, body: str, message: str
) -> None:
    template = write_template(tmp_path, body)
    with pytest.raises(CardError, match=re.escape(message)):
        render_card(card_run, template=template)


def test_a_template_must_keep_the_metadata(card_run: Path, tmp_path: Path) -> None:
    template = tmp_path / "t.md.j2"
    template.write_text("# {{ model.name }}\n")
    with pytest.raises(CardError, match="no YAML front matter"):
        render_card(card_run, template=template)
    template.write_text("---\nlibrary_name: keras\n---\n")
    with pytest.raises(CardError, match="metadata has model-index=None"):
        render_card(card_run, template=template)
    with pytest.raises(CardError, match="template .*missing.j2 does not exist"):
        render_card(card_run, template=tmp_path / "missing.j2")


def test_html_export(card_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "site" / "card.html"
    page = render_card(card_run, output=output, output_format="html")
    assert output.read_text() == page and page.startswith("<!DOCTYPE html>")
    assert "<title>cardgen-test/tiny-sentiment</title>" in page
    assert (  # a card not named README names its images after it (see test_card_images.py)
        '<img src="card.confusion_matrix.png"' in page
        and (output.parent / "card.reliability.png").is_file()
    )
    assert "<th>metric</th>" in page and "<summary>Metadata (YAML front matter)</summary>" in page
    with pytest.raises(UsageError, match="--format must be 'md' or 'html'"):
        render_card(card_run, output_format="pdf")


def test_results_passed_as_an_object_are_linked_but_nothing_is_copied(tmp_path: Path) -> None:
    text = render_card(make_results(), output=tmp_path / "README.md")
    assert "(confusion_matrix.png)" in text and not (tmp_path / "confusion_matrix.png").exists()


def test_a_listed_image_missing_from_the_run_is_not_linked(card_run: Path) -> None:
    (card_run / "reliability.png").unlink()
    with pytest.warns(UserWarning, match="reliability.png is listed in the results but missing"):
        text = render_card(card_run)
    assert "reliability.png" not in text


@pytest.fixture(scope="module")
def skops_run(
    skops_model: Path, topic_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("skops-run")
    cardgen.evaluate(skops_model, topic_file, output_dir=out, n_bootstrap=50)
    return out


def test_sklearn_cards_take_hyperparameters_and_diagram_from_skops(skops_run: Path) -> None:
    text = render_card(skops_run, model_name="me/topics")
    section = text[text.index("<!-- cardgen:begin sklearn -->") :]
    rows = {
        cells[0]: cells[1]
        for line in section.splitlines()
        if (cells := [c.strip() for c in line.strip("|").split("|")]) and len(cells) == 2
    }
    assert rows["logisticregression__max_iter"] == "500"
    assert rows["tfidfvectorizer__lowercase"] == "True"
    assert "TfidfVectorizer" in section and "sk-container-id-1" in section
    assert "sk-container-id-2" not in section  # ids numbered per card, not per process
    assert render_card(skops_run, model_name="me/topics") == text
    assert 'hf_hub_download("me/topics", "topics.skops")' in text
    assert "sio.load(path, trusted=untrusted)" in text and "from transformers" not in text
    card = ModelCard(text)
    assert card.data.library_name == "sklearn" and "skops" in card.data.tags


def test_a_sklearn_model_file_that_is_gone_leaves_a_note(skops_run: Path, tmp_path: Path) -> None:
    results = load_results(skops_run)
    results.model.id = str(tmp_path / "gone.skops")
    with pytest.warns(UserWarning, match="gone.skops was not found"):
        text = render_card(results)
    assert "Not shown: the model file" in text


def test_rendering_never_imports_torch(card_run: Path, skops_run: Path, tmp_path: Path) -> None:
    code = (
        "import sys, cardgen\n"
        f"cardgen.render_card({str(card_run)!r}, output={str(tmp_path / 'a.md')!r})\n"
        f"cardgen.render_card({str(skops_run)!r}, output={str(tmp_path / 'b.html')!r}, "
        "output_format='html')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert "<table>" in (tmp_path / "b.html").read_text()


def test_render_card_is_public_api() -> None:
    assert "render_card" in cardgen.__all__ and cardgen.render_card is render_card
