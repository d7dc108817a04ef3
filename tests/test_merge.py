from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard

from cardgen.cards.merge import merge_card
from cardgen.cards.render import render_card
from cardgen.cards.sections import BEGIN, END, find_blocks, parse_metadata, split_front_matter
from cardgen.cli import main
from cardgen.errors import CardError, UsageError

# Fixtures in the shapes of the reference cards, with text written for these tests.
TRAINER = """\
---
license: apache-2.0
base_model: distilbert-base-uncased
tags:
- generated_from_trainer
metrics:
- accuracy
model-index:
- name: tiny-sentiment
  results: []
---

<!-- This model card has been generated automatically according to the information the Trainer had access to. You
should probably proofread and complete it, then remove this comment. -->

# tiny-sentiment

This model is a fine-tuned version of [distilbert-base-uncased](https://huggingface.co/distilbert-base-uncased) on a review corpus.
It achieves the following results on the evaluation set:
- Loss: 0.2100
- Accuracy: 0.9100

## Model description

A small sentiment model for film reviews.

## Intended uses & limitations

Reviews in English only; it was never tried on tweets.

## Training and evaluation data

Eight thousand reviews, one thousand held out.

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 3e-05
- train_batch_size: 32
- num_epochs: 2

### Training results

| Training Loss | Epoch | Step | Validation Loss | Accuracy |
|:-------------:|:-----:|:----:|:---------------:|:--------:|
| 0.3100        | 1.0   | 250  | 0.2500          | 0.8900   |
| 0.1900        | 2.0   | 500  | 0.2100          | 0.9100   |


### Framework versions

- Transformers 4.40.0
- Pytorch 2.3.0
"""

KERAS = """\
---
license: mit
tags:
- generated_from_keras_callback
model-index:
- name: topic-model
  results: []
---

<!-- This model card has been generated automatically according to the information Keras had access to. -->

# topic-model

This model was trained from scratch on an unknown dataset.
It achieves the following results on the evaluation set:
- Train Loss: 0.1200
- Validation Accuracy: 0.8800
- Epoch: 3

## Model description

More information needed

## Training procedure

### Training hyperparameters

- optimizer: {'name': 'Adam', 'learning_rate': 0.001}
- training_precision: float32

### Training results

| Train Loss | Validation Accuracy | Epoch |
|:----------:|:-------------------:|:-----:|
| 0.4000     | 0.8100              | 0     |
| 0.1200     | 0.8800              | 3     |

### Framework versions

- Transformers 4.30.0
- TensorFlow 2.13.0
"""

SKOPS = """\
---
library_name: sklearn
tags:
- sklearn
- skops
- text-classification
---

# Model description

A TF-IDF and logistic regression pipeline for four topics.

## Intended uses & limitations

Made for a workshop; not for production.

## Training Procedure

### Hyperparameters

<details>
<summary> Click to expand </summary>

| Hyperparameter | Value |
|----------------|-------|
| memory         |       |
| steps          | [('tfidf', TfidfVectorizer()),
  ('clf', LogisticRegression())] |

</details>

### Model Plot

<style>#sk-1 {color: black;}</style><div id="sk-1"><div class="sk-item"><pre>Pipeline(steps=[('tfidf', TfidfVectorizer()),
# not a heading: this line is inside the diagram's HTML
('clf', LogisticRegression())])</pre></div></div>

## Evaluation Results

| Metric   |   Value |
|----------|---------|
| accuracy | 0.84    |

# How to Get Started with the Model

<details>
<summary> Click to expand </summary>

```python
# not a heading either: a comment in code
import skops.io as sio
```

</details>

# Additional Content

## Confusion matrix

![Confusion matrix](confusion_matrix.png)
"""

HF_MARKDOWN = """\
---
language: en
license: apache-2.0
datasets:
- sst2
---

# Tiny sentiment

## Table of Contents
- [Model Details](#model-details)
- [Risks, Limitations and Biases](#risks-limitations-and-biases)

## Model Details
**Model Description:** a <b>distilled</b> classifier fine-tuned on film reviews.

<div align="center">
<img src="https://example.org/logo.png" width="120">
</div>

## Risks, Limitations and Biases

Place names in a review change its predicted sentiment; see the probe below.

## Training

### Training Data

Film reviews.
"""

JEKYLL = """\
---
layout: model
title: Tiny topic classifier (tiny_topic_classifier)
author: Example Labs
name: tiny_topic_classifier
date: 2022-03-04
tags: [sequence_classification, topics, en, open_source]
task: Text Classification
language: en
edition: Example NLP 1.2
supported: true
article_header:
  type: cover
---

## Description

A tiny classifier for four news topics.

## Predicted Entities

`Business`, `Sports`

{:.btn-box}
<button class="button button-orange" disabled>Live Demo</button>

## How to use

<div class="tabs-box" markdown="1">
{% include programmingLanguageSelectScalaPythonNLU.html %}
```python
## not a heading: a comment in the Python example
pipeline = Pipeline(stages=[document_assembler, classifier])
```
</div>

## Model Information

{:.table-model}
|---|---|
|Model Name:|tiny_topic_classifier|

## Benchmarking

```bash
label  precision recall
Business 0.90 0.91
```
"""

MERGEABLE = {
    "trainer": TRAINER,
    "keras": KERAS,
    "skops": SKOPS,
    "hf-markdown": HF_MARKDOWN,
    "jekyll": JEKYLL,
}


def merge_into(card_run: Path, tmp_path: Path, text: str, **options: Any) -> tuple[Path, str]:
    card = tmp_path / "card" / "README.md"
    card.parent.mkdir(exist_ok=True)
    card.write_text(text)
    return card, render_card(card_run, output=card, merge=True, **options)


def body_lines(text: str) -> list[str]:
    return split_front_matter(text)[1].splitlines()


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    rest = iter(haystack)
    return all(any(line == other for other in rest) for line in needle)


def line_of(text: str, line: str) -> int:
    """The index of ``line`` in ``text``; an end marker matches with its hash too."""
    lines = [re.sub(r" sha256:[0-9a-f]{16} -->$", " -->", other) for other in text.splitlines()]
    return lines.index(line)


@pytest.mark.parametrize("shape", sorted(MERGEABLE))
@pytest.mark.filterwarnings("ignore:.*front-matter key")
def test_a_merge_keeps_every_line_and_key_and_a_second_merge_is_a_no_op(
    card_run: Path, tmp_path: Path, shape: str
) -> None:
    original = MERGEABLE[shape]
    card, merged = merge_into(card_run, tmp_path, original)
    assert card.read_text() == merged

    # every line the person wrote survives, in order
    assert is_subsequence(body_lines(original), body_lines(merged))
    added = len(body_lines(merged)) - len(body_lines(original))
    assert added > 20
    blocks = find_blocks(split_front_matter(merged)[1], source="merged")
    assert list(blocks) == ["summary", "evaluation", "risks", "environment"]

    # every front-matter key survives; lists keep their items; the Hub's parser reads it
    old = parse_metadata(split_front_matter(original)[0] or "", source="original")
    new = parse_metadata(split_front_matter(merged)[0] or "", source="merged")
    ours = parse_metadata(split_front_matter(render_card(card_run))[0] or "", source="ours")
    assert set(new) == set(old) | set(ours)
    for key, value in old.items():
        if isinstance(value, list) and key != "model-index":
            assert new[key][: len(value)] == value
        elif key != "model-index":  # cardgen's value wins, with a warning (tested below)
            assert new[key] == ours.get(key, value), key
    data = ModelCard(merged).data
    assert {r.metric_type for r in data.eval_results} >= {"accuracy", "f1", "roc_auc"}
    assert "cardgen" in data.tags and data.to_dict()["pipeline_tag"] == "text-classification"

    # the card now has markers: merging or refreshing again changes nothing
    assert render_card(card_run, output=card, merge=True) == merged
    assert render_card(card_run, output=card) == merged
    assert card.read_text() == merged


def test_trainer_card_sections_sit_at_their_anchors(card_run: Path, tmp_path: Path) -> None:
    _, merged = merge_into(card_run, tmp_path, TRAINER)
    lines = merged.splitlines()
    # the summary follows the title, without a second title
    title = line_of(merged, "# tiny-sentiment")
    assert lines[title + 2] == BEGIN.format("summary")
    assert lines[title + 3].startswith("`cardgen-test/tiny-sentiment` is a text classifier")
    assert [line for line in lines if line.startswith("# ")] == ["# tiny-sentiment"]
    assert lines[title + 4].startswith("On glue (sst2)")
    # the person's description paragraph follows cardgen's summary
    end = line_of(merged, END.format("summary"))
    assert lines[end + 2].startswith("This model is a fine-tuned version of")
    # evaluation, risks, versions follow "### Training results" (its "## Training procedure"
    # runs to the end of the card), in that order
    begins = [line_of(merged, BEGIN.format(n)) for n in ("evaluation", "risks", "environment")]
    assert line_of(merged, "### Framework versions") < begins[0] < begins[1] < begins[2]
    assert "model-index" in merged and "results: []" not in merged
    index = parse_metadata(split_front_matter(merged)[0] or "", source="merged")["model-index"]
    assert index[0]["name"] == "tiny-sentiment"  # the person's entry, now with results
    assert index[0]["results"][0]["dataset"]["split"] == "validation"


@pytest.mark.filterwarnings("ignore:.*front-matter key")
def test_skops_card_evaluation_goes_beside_its_own_metrics(card_run: Path, tmp_path: Path) -> None:
    _, merged = merge_into(card_run, tmp_path, SKOPS)
    lines = merged.splitlines()
    # no title of the model's own ("# Model description" is a section): summary at the top
    # with its title
    assert split_front_matter(merged)[1].lstrip("\n").startswith(BEGIN.format("summary"))
    assert "# cardgen-test/tiny-sentiment" in lines
    own = line_of(merged, "## Evaluation Results")
    begin = line_of(merged, BEGIN.format("evaluation"))
    assert own < line_of(merged, "| accuracy | 0.84    |") < begin
    assert begin < line_of(merged, "# How to Get Started with the Model")
    # nothing was put inside the HTML diagram or the code block
    assert lines[
        line_of(merged, "# not a heading: this line is inside the diagram's HTML") + 1
    ] == ("('clf', LogisticRegression())])</pre></div></div>")


def test_hf_markdown_card_gets_probes_after_its_risks_section(
    card_run: Path, tmp_path: Path
) -> None:
    _, merged = merge_into(card_run, tmp_path, HF_MARKDOWN)
    own = line_of(merged, "## Risks, Limitations and Biases")
    begin = line_of(merged, BEGIN.format("risks"))
    assert (
        own
        < line_of(
            merged, "Place names in a review change its predicted sentiment; see the probe below."
        )
        < begin
    )
    assert begin < line_of(merged, "## Training")
    # no evaluation heading: evaluation sits right before risks, after the person's risks
    assert line_of(merged, END.format("evaluation")) < begin
    assert line_of(merged, BEGIN.format("environment")) > line_of(merged, END.format("risks"))


def test_jekyll_card_keeps_its_front_matter_dialect_keys(card_run: Path, tmp_path: Path) -> None:
    _, merged = merge_into(card_run, tmp_path, JEKYLL)
    data = ModelCard(merged).data.to_dict()
    assert data["layout"] == "model" and data["article_header"] == {"type": "cover"}
    assert str(data["date"]) == "2022-03-04"
    assert data["tags"][:4] == ["sequence_classification", "topics", "en", "open_source"]
    assert line_of(merged, "## Benchmarking") < line_of(merged, BEGIN.format("evaluation"))
    inside = line_of(merged, "## not a heading: a comment in the Python example")
    assert line_of(merged, BEGIN.format("evaluation")) > inside


def test_model_index_results_for_other_datasets_stay(card_run: Path, tmp_path: Path) -> None:
    other = """\
---
model-index:
- name: tiny
  results:
  - task: {type: text-classification}
    dataset: {name: IMDb, type: imdb, split: test}
    metrics:
    - {type: accuracy, value: 0.88}
  - task: {type: text-classification}
    dataset: {name: GLUE, type: glue, config: sst2, split: validation}
    metrics:
    - {type: accuracy, value: 0.5}
    - {type: loss, value: 0.3}
---
# tiny
"""
    _, merged = merge_into(card_run, tmp_path, other)
    (entry,) = parse_metadata(split_front_matter(merged)[0] or "", source="m")["model-index"]
    assert entry["name"] == "tiny"
    imdb, glue = entry["results"]
    assert imdb["dataset"]["type"] == "imdb" and imdb["metrics"] == [
        {"type": "accuracy", "value": 0.88}
    ]
    metrics = {
        (m["type"], (m.get("args") or {}).get("average")): m["value"] for m in glue["metrics"]
    }
    assert metrics[("accuracy", None)] == 1.0 and metrics[("loss", None)] == 0.3
    assert ("f1", "macro") in metrics and glue["metrics"][-1]["type"] == "loss"
    card = ModelCard(merged)
    assert {(r.dataset_type, r.metric_type) for r in card.data.eval_results} >= {
        ("imdb", "accuracy"),
        ("glue", "loss"),
        ("glue", "f1"),
    }


FLAT = (
    "--- license: mit tags: - generated_from_keras_callback model-index: - name: m results: [] "
    "--- # m This model is a fine-tuned version of a base model. ## Model description "
    + "Words about the model. " * 20
    + "## Training procedure ### Training results | Loss | Epoch | |:--:|:--:| | 0.1 | 0 |"
)
HTML_PAGE = (
    '<div class="model-card-content prose">\n<h1 class="group">\n<span>Tiny model</span>\n</h1>\n'
    "<p><strong>Model Description:</strong> a classifier.</p>\n<ul>\n<li>License: MIT</li>\n"
    "</ul>\n<h2>Risks, Limitations and Biases</h2>\n<p>Mentions of places shift it.</p>\n</div>\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FLAT, r"looks flattened onto one line: line 1 has [\d,]+ characters"),
        (HTML_PAGE, r"is an HTML page, not a Markdown card \(\d+ of its \d+ lines are HTML"),
        ("+++\ntitle = 'x'\n+++\n# x\n", r"has TOML front matter \(`\+\+\+`\)"),
        ("---\nlicense: mit\n# x\n", "its front matter has no closing `---` line"),
        (
            "# x\n\nSome text.\n\n```python\nprint(1)\n",
            r"leaves a code block \('```'\) open from line 5",
        ),
        (
            "# x\n\n<details>\n<summary>More</summary>\n\ntext\n",
            r"leaves an HTML <details> element open from line 3",
        ),
        ("---\n- a\n- b\n---\n# x\n", "is a list"),
    ],
)
def test_cards_that_would_be_mangled_are_refused_untouched(
    card_run: Path, tmp_path: Path, text: str, message: str
) -> None:
    card = tmp_path / "README.md"
    card.write_text(text)
    with pytest.raises(CardError, match=message):
        render_card(card_run, output=card, merge=True)
    assert card.read_text() == text


def test_merge_into_nothing_writes_the_whole_card(card_run: Path, tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    assert render_card(card_run, output=card, merge=True) == render_card(card_run)
    assert merge_card("", "x", source="s") == "x"


def test_merge_with_section_text_adds_that_section_too(card_run: Path, tmp_path: Path) -> None:
    _, merged = merge_into(
        card_run, tmp_path, KERAS, sections={"intended_uses": "Only for news headlines."}
    )
    blocks = find_blocks(split_front_matter(merged)[1], source="merged")
    assert "intended_uses" in blocks and "Only for news headlines." in merged


def test_a_changed_front_matter_value_is_a_warning(card_run: Path, tmp_path: Path) -> None:
    with pytest.warns(
        UserWarning, match="front-matter key 'license' was 'mit' and is now 'apache-2.0'"
    ):
        merge_into(card_run, tmp_path, KERAS, license="apache-2.0")


def test_merge_refuses_other_options(card_run: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--merge adds cardgen's sections"):
        render_card(card_run, output=tmp_path / "x.md", merge=True, overwrite=True)
    with pytest.raises(UsageError, match="--merge adds cardgen's sections"):
        render_card(card_run, merge=True)


def test_cli_merge(capsys, card_run: Path, tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(TRAINER)
    assert main(["card", str(card_run), "--output", str(card)]) == 2
    assert "pass --merge" in capsys.readouterr().err
    assert main(["card", str(card_run), "--output", str(card), "--merge"]) == 0
    merged = card.read_text()
    assert is_subsequence(body_lines(TRAINER), body_lines(merged))
    assert main(["card", str(card_run), "--output", str(card), "--merge", "--overwrite"]) == 2
    assert card.read_text() == merged
