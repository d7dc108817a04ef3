"""Sentence-pair evaluation: pair columns, pair tokenization, and a plain forward pass agrees."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import run_cli, write_jsonl

import cardgen
from cardgen.data.load import PAIR_COLUMNS, load_data
from cardgen.demo.synthetic import NEGATIVE, POSITIVE, SUBJECTS, build_tokenizer
from cardgen.errors import DataError, ModelError, ProbeError, UsageError
from cardgen.models.runner import classify, encode, padded_batch
from cardgen.results.schema import TextPair, load_results

PAIR_LABELS = ["entailment", "contradiction"]
MAX_LENGTH = 24


def pair_rows(n: int, seed: int) -> list[dict]:
    """Premise / hypothesis pairs whose label is carried by the hypothesis alone (a tiny model
    learns that in a few steps), so a run that dropped the second text would score at chance."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.choice([POSITIVE, NEGATIVE]), rng.choice([POSITIVE, NEGATIVE])
        rows.append(
            {
                "premise": f"{rng.choice(SUBJECTS)} was {rng.choice(a)}.",
                "hypothesis": f"it felt {rng.choice(b)}.",
                "label": PAIR_LABELS[b is NEGATIVE],
            }
        )
    return rows


def train_pair_bert(rows: list[dict], out: Path, *, steps: int = 30) -> Path:
    """A 2-layer BERT (token type ids 0 / 1) fine-tuned on pairs for a few steps."""
    from tokenizers import processors
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = build_tokenizer([r["premise"] + " " + r["hypothesis"] for r in rows])
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.model_max_length = MAX_LENGTH
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    tokenizer.init_kwargs["model_input_names"] = tokenizer.model_input_names
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=2,
        id2label=dict(enumerate(PAIR_LABELS)),
        label2id={label: i for i, label in enumerate(PAIR_LABELS)},
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gold = torch.tensor([PAIR_LABELS.index(r["label"]) for r in rows])
    model.train()
    for step in range(steps):
        batch = [(step * 32 + i) % len(rows) for i in range(32)]
        encoded = tokenizer(
            [rows[i]["premise"] for i in batch],
            [rows[i]["hypothesis"] for i in batch],
            padding=True,
            return_tensors="pt",
        )
        loss = model(**encoded, labels=gold[batch]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_pair_bert(pair_rows(320, seed=1), tmp_path_factory.mktemp("models") / "nli")


@pytest.fixture(scope="module")
def pair_data() -> list[dict]:
    rows = pair_rows(60, seed=2)
    rows[3]["premise"] = "the film was great, " * 12  # too long: loses tokens from the premise
    rows[7]["hypothesis"] = "it felt dull and flat " * 8
    return rows


@pytest.fixture
def pair_file(tmp_path: Path, pair_data: list[dict]) -> Path:
    return write_jsonl(tmp_path / "test.jsonl", pair_data)


def plain_forward(model_dir: Path, rows: list[dict]) -> np.ndarray:
    """Probabilities from a plain transformers forward pass, one padded batch, fp32."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    batch = tokenizer(
        [r["premise"] for r in rows],
        [r["hypothesis"] for r in rows],
        truncation=True,
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        return torch.softmax(model(**batch).logits, -1).numpy()


def test_encode_pairs_equals_the_tokenizers_pair_encoding(pair_model: Path, pair_data) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(pair_model)
    first = [r["premise"] for r in pair_data[:10]]
    second = [r["hypothesis"] for r in pair_data[:10]]
    encoded = encode(tokenizer, first, MAX_LENGTH, second)
    assert encoded.truncated == 2 and encoded.lengths.max() == MAX_LENGTH
    index = np.array([7, 3, 0, 9, 1])
    expected = tokenizer(
        [first[i] for i in index],
        [second[i] for i in index],
        truncation="longest_first",
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )
    got = padded_batch(tokenizer, encoded, index)
    assert set(got) == {"input_ids", "token_type_ids", "attention_mask"}
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    assert got["token_type_ids"].max() == 1  # the second text is segment 1
    # the longer side loses tokens: the long premise is cut, the short hypothesis is kept whole
    kept = tokenizer.decode(got["input_ids"][1][got["token_type_ids"][1] == 1])
    assert kept.split("[SEP]")[0].strip() == second[3].rstrip(".") + " ."
    single = encode(tokenizer, first, MAX_LENGTH)
    assert not len(single.extra) or single.extra["token_type_ids"].max() == 0


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_classify_pairs_streams_in_chunks(pair_model: Path, pair_data, chunk_rows: int) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(pair_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(pair_model)
    probs, stats = classify(
        model,
        tokenizer,
        [r["premise"] for r in pair_data],
        text_pairs=[r["hypothesis"] for r in pair_data],
        max_length=MAX_LENGTH,
        chunk_rows=chunk_rows,
    )
    np.testing.assert_allclose(probs, plain_forward(pair_model, pair_data), atol=1e-5)
    assert stats.truncated == 2


@pytest.mark.parametrize(
    ("max_length", "pairs"), [(1, True), (2, True), (3, True), (1, False), (2, False)]
)
def test_a_max_length_without_room_for_text_is_refused(
    pair_model: Path, pair_file: Path, tmp_path: Path, capsys, max_length: int, pairs: bool
) -> None:
    """Under the special tokens' count the tokenizer does not cut at all: the model saw the
    whole text while the run said every row was truncated."""
    second = ["--text-pair-column", "hypothesis"] if pairs else []
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(pair_model), "--dataset", str(pair_file),
        "--text-column", "premise", *second, "--max-length", str(max_length),
        "--bootstrap", "0", "--no-progress", "--output-dir", str(tmp_path / "run"),
    )  # fmt: skip
    specials = 3 if pairs else 2
    assert code == 2 and err.count("error:") == 1
    assert f"adds {specials} special tokens" in err and f"--max-length {specials + 1} or" in err
    assert not (tmp_path / "run").exists()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(pair_model)
    fits = encode(
        tokenizer, ["the film was great"], specials + 1, ["it felt dull"] if pairs else None
    )
    assert fits.lengths.max() == specials + 1  # one token more and the cut holds


def test_evaluate_pairs_equals_a_plain_forward_pass(
    pair_model: Path, pair_file: Path, pair_data, tmp_path: Path
) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    results = cardgen.evaluate(
        pair_model,
        pair_file,
        text_column="premise",
        text_pair_column="hypothesis",
        device="cpu",
        n_bootstrap=50,
        output_dir=tmp_path / "run",
    )
    expected = plain_forward(pair_model, pair_data).argmax(axis=1)
    lines = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    predicted = [PAIR_LABELS.index(json.loads(line)["predicted"]) for line in lines]
    assert predicted == expected.tolist()
    gold = [PAIR_LABELS.index(r["label"]) for r in pair_data]
    assert results.metrics["accuracy"].value == pytest.approx(accuracy_score(gold, expected))
    assert results.metrics["macro_f1"].value == pytest.approx(
        f1_score(gold, expected, average="macro")
    )
    assert results.metrics["accuracy"].value > 0.8  # it learned the pairs, not one side
    assert results.dataset.text_pair == TextPair("hypothesis", "longest_first")
    assert results.timing is not None and results.timing.truncated == 2
    loaded = load_results(tmp_path / "run")
    assert loaded.dataset.text_pair == TextPair("hypothesis", "longest_first")
    alone = cardgen.evaluate(pair_model, pair_file, text_column="premise", n_bootstrap=0)
    assert alone.dataset.text_pair is None and alone.metrics["accuracy"].value < 0.8


def test_cli_evaluate_card_and_gate_with_pairs(
    pair_model: Path, pair_file: Path, tmp_path: Path, capsys
) -> None:
    from huggingface_hub import ModelCard

    run, card = tmp_path / "run", tmp_path / "README.md"
    code, _, err = run_cli(
        capsys,
        "evaluate",
        "--model", str(pair_model),
        "--dataset", str(pair_file),
        "--text-column", "premise",
        "--text-pair-column", "hypothesis",
        "--device", "cpu",
        "--bootstrap", "20",
        "--no-progress",
        "--output-dir", str(run),
        "--card", str(card),
    )  # fmt: skip
    assert code == 0, err
    assert "2 of 60 texts" in err  # truncation is reported as for single texts
    text = card.read_text()
    assert '"text_pair": "A person is making music."' in text
    assert "text pair `hypothesis`" in text and "`longest_first`" in text
    parsed = ModelCard(text)
    assert "accuracy" in [result.metric_type for result in parsed.data.eval_results]
    code, out, err = run_cli(capsys, "gate", str(run), "--min", "accuracy=0.5")
    assert code == 0, out + err
    code, out, _ = run_cli(capsys, "gate", str(run), "--max", "accuracy=0.5")
    assert code == 1


@pytest.mark.parametrize(("first", "second"), PAIR_COLUMNS)
def test_pair_columns_are_found_by_name(tmp_path: Path, first: str, second: str) -> None:
    rows = [{first: "a b", second: "c", "label": "x", "idx": 0}, {first: "d", second: "e f", "label": "y", "idx": 1}]  # fmt: skip
    data = load_data(write_jsonl(tmp_path / "d.jsonl", rows))
    assert data.info.text_column == first and data.texts == ["a b", "d"]
    assert data.info.text_pair == TextPair(second, found_by_name=True)
    assert data.text_pairs == ["c", "e f"]
    block = hashlib.sha256()  # one block: the rows' digests in order
    for text, pair, label in (("a b", "c", "x"), ("d", "e f", "y")):
        block.update(hashlib.sha256(json.dumps([text, pair, label]).encode()).digest())
    expected = hashlib.sha256(block.digest()).hexdigest()
    assert data.info.fingerprint == f"rows-sha256:{expected}"


def test_single_text_is_unchanged(tmp_path: Path) -> None:
    rows = [{"question": "why?", "sentence": "because.", "label": "yes"}]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    single = load_data(path, text_column="sentence")
    assert single.text_pairs is None and single.info.text_pair is None
    row = hashlib.sha256(json.dumps(["because.", "yes"]).encode()).digest()
    expected = hashlib.sha256(hashlib.sha256(row).digest()).hexdigest()
    assert single.info.fingerprint == f"rows-sha256:{expected}"
    assert load_data(path).info.fingerprint != single.info.fingerprint
    only_pair = load_data(path, text_pair_column="sentence")  # the text found from its partner
    assert only_pair.info.text_column == "question" and only_pair.text_pairs == ["because."]


def test_two_text_columns_without_flags_are_listed(tmp_path: Path) -> None:
    import datasets

    rows = [{"claim": "x", "evidence": "y", "n": 3, "label": "a"}]
    datasets.Dataset.from_list(rows).save_to_disk(tmp_path / "saved")
    with pytest.raises(DataError, match=r"2 columns hold text: claim, evidence; "):
        load_data(tmp_path / "saved")
    data = load_data(tmp_path / "saved", text_column="claim", text_pair_column="evidence")
    assert data.texts == ["x"] and data.text_pairs == ["y"]
    with pytest.raises(DataError, match=r"2 columns hold text: claim, evidence; .*--text-column 'claim' --text-pair-column 'evidence'"):  # fmt: skip
        load_data(write_jsonl(tmp_path / "d.jsonl", rows))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"text_pair_column": "nope"}, r"column 'nope' not found .*\(use --text-pair-column\)"),
        (
            {"text_column": "premise", "text_pair_column": "premise"},
            r"--text-column and --text-pair-column are both 'premise'",
        ),  # fmt: skip
        (
            {"text_column": "premise", "text_pair_column": "label"},
            r"column 'label' cannot hold both",
        ),  # fmt: skip
        ({"text_pair_column": ""}, r"--text-pair-column must be a column name"),
    ],
)
def test_bad_pair_options(tmp_path: Path, options: dict, match: str) -> None:
    rows = [{"premise": "p", "hypothesis": "h", "label": "a"}]
    with pytest.raises(DataError, match=match):
        load_data(write_jsonl(tmp_path / "d.jsonl", rows), **options)


def test_non_string_pair_text_names_the_pair_column(tmp_path: Path) -> None:
    rows = [{"premise": "p", "hypothesis": "h", "label": "a"}, {"premise": "p", "hypothesis": None, "label": "b"}]  # fmt: skip
    with pytest.raises(DataError, match=r"row 1 .* text column 'hypothesis' \(null or missing\)"):
        load_data(write_jsonl(tmp_path / "d.jsonl", rows))


def test_sklearn_refuses_pairs(skops_model: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question1": "q", "question2": "r", "label": label} for label in ("World", "Sports")]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    with pytest.raises(ModelError, match=r"scikit-learn pipelines take one text per example"):
        cardgen.evaluate(skops_model, path, text_pair_column="question2", n_bootstrap=0)
    with pytest.raises(UsageError, match=r"found by name as a sentence pair"):
        cardgen.evaluate(skops_model, path, n_bootstrap=0)
    code, _, err = run_cli(capsys, "evaluate", "--model", str(skops_model), "--dataset", str(path), "--text-pair-column", "question2", "--no-progress", "--output-dir", str(tmp_path / "run"))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "sentence pairs" in err


def test_probe_shapes_must_match_the_data(
    pair_model: Path, pair_file: Path, tmp_path: Path
) -> None:
    """Single-text probes on pairs, and pair probes on single texts, are refused up front."""
    out = tmp_path / "run"
    with pytest.raises(UsageError, match=r"probe 'country' fills single-text templates, but"):
        cardgen.evaluate(pair_model, pair_file, probes=["country"], output_dir=out)
    single = write_jsonl(tmp_path / "single.jsonl", [{"text": "it felt good.", "label": "x"}])
    with pytest.raises(UsageError, match=r"fills sentence pairs, but this dataset holds single"):
        cardgen.evaluate(pair_model, single, probes=[_pair_probe()], output_dir=out)
    assert not out.exists()


@pytest.mark.parametrize(
    "probes", [["country"], ["pronouns", "religion"], "single", "mixed"], ids=str
)
def test_the_probe_command_refuses_single_texts_on_a_pair_model(
    pair_model: Path, tmp_path: Path, capsys, probes: Any
) -> None:
    """Built-in probes on an NLI model scored lone sentences it never learnt from; like a pair
    evaluation, a model fine-tuned on pairs takes only pair probes."""
    from cardgen.probes import run_probes, template_probe

    single = template_probe("single", ["A man from {COUNTRY} is cooking."])
    given = {"single": [single], "mixed": [_pair_probe(), single]}
    chosen = probes if isinstance(probes, list) else given[probes]
    name = "single" if isinstance(probes, str) else probes[0]
    with pytest.raises(ProbeError, match=rf"probe '{name}' fills single texts, but model .* was "
                       r"fine-tuned on sentence pairs .* write its templates as pairs"):  # fmt: skip
        run_probes(pair_model, chosen, target_label="entailment", output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli(
        capsys, "probe", "--model", str(pair_model), "--probe", "country", "--target-label",
        "entailment", "--output-dir", str(tmp_path / "cli"), "--no-progress",
    )  # fmt: skip
    assert code == 2 and err.count("error:") == 1 and "fine-tuned on sentence pairs" in err
    found = run_probes(pair_model, [_pair_probe()], n_bootstrap=0)
    assert set(found) == {"city-pairs"}


def _pair_probe() -> Any:
    from cardgen.probes import Lexicon, template_probe

    terms = Lexicon("city", ("Paris", "Kabul", "Lagos"), (None,) * 3, ("CITY",))
    return template_probe(
        "city-pairs",
        ["the film was set in {CITY}.", "{CITY} was in the film."],
        pairs=["it felt great.", "it felt dull in {CITY}."],
        lexicons={"CITY": terms},
        target_label=PAIR_LABELS[0],
    )


def test_pair_probes_fill_both_texts_and_score_them_as_pairs(
    pair_model: Path, pair_file: Path, tmp_path: Path
) -> None:
    from cardgen.models import load_model

    results = cardgen.evaluate(
        pair_model, pair_file, probes=[_pair_probe()], n_bootstrap=0, output_dir=tmp_path / "run"
    )
    fills = [json.loads(line) for line in (tmp_path / "run" / "probe_fills.jsonl").open()]
    assert [(f["text"], f["pair"]) for f in fills[3:6]] == [
        ("Paris was in the film.", "it felt dull in Paris."),
        ("Kabul was in the film.", "it felt dull in Kabul."),
        ("Lagos was in the film.", "it felt dull in Lagos."),
    ]
    # each fill scored as a pair: the same probabilities as the model on those pairs directly
    model = load_model(pair_model)
    direct, _ = model.predict_scores(
        [f["text"] for f in fills], text_pairs=[f["pair"] for f in fills]
    )
    alone, _ = model.predict_scores([f["text"] for f in fills])
    found = np.array([[f["probabilities"][x] for x in model.labels] for f in fills])
    np.testing.assert_allclose(found, direct, atol=1e-6)
    assert np.abs(found - alone).max() > 1e-3  # the second text matters to this model
    probe = results.probes["city-pairs"]
    assert probe.pair_templates == ["it felt great.", "it felt dull in {CITY}."]
    target = [f["probabilities"][PAIR_LABELS[0]] for f in fills]
    by_term = {t: np.mean(target[i::3]) for i, t in enumerate(("Paris", "Kabul", "Lagos"))}
    assert probe.range.value == pytest.approx(
        max(by_term.values()) - min(by_term.values()), abs=1e-6
    )


def test_probe_files_take_template_pairs(tmp_path: Path) -> None:
    from cardgen.errors import ProbeError
    from cardgen.probes import load_probe_file

    path = tmp_path / "p.toml"
    path.write_text(
        '[probes.nli]\ntemplates = [["A man from {COUNTRY} cooks.", "A person cooks."]]\n'
        'target_label = "entailment"\n'
    )
    (probe,) = load_probe_file(path)
    assert probe.templates == ("A man from {COUNTRY} cooks.",)
    assert probe.pairs == ("A person cooks.",)
    for bad, message in [
        ('["a {COUNTRY}", ["b", "c"]]', "every template must be a sentence"),
        ('[["a {COUNTRY}", 3]]', "every text of a template pair must be text"),
        ('[["a", "b"]]', "no template has a placeholder"),
        ('[["a {COUNTRY}", "b {X"]]', "not a placeholder"),
    ]:
        path.write_text(f"[probes.nli]\ntemplates = {bad}\n")
        with pytest.raises(ProbeError, match=message):
            load_probe_file(path)


def test_pair_card_escapes_the_pair_column_and_round_trips(tmp_path: Path) -> None:
    from conftest import make_results, save_run
    from huggingface_hub import ModelCard
    from markdown_it import MarkdownIt

    results = make_results()
    payload = "x`</code><script>alert(1)</script>\n# heading"
    results.dataset.text_pair = TextPair(payload, payload)
    run = save_run(results, tmp_path / "run")
    assert load_results(run).dataset.text_pair == TextPair(payload, payload)
    text = cardgen.render_card(run)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert "<script>" not in html and "<h1>heading" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt; # heading") == 2
    assert '"text_pair": "A person is making music."' in text
    assert ModelCard(text).data.eval_results
    single = cardgen.render_card(save_run(make_results(), tmp_path / "single"))
    assert "text_pair" not in single and 'classifier("This is a sentence to classify.")' in single
