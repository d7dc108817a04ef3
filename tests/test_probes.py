from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

import cardgen
from cardgen.errors import ProbeError
from cardgen.models.base import RunStats
from cardgen.models.sklearn import SklearnClassifier
from cardgen.probes import (
    BUILTIN_SUITES,
    Lexicon,
    builtin_lexicons,
    builtin_probe,
    default_target,
    load_probe_file,
    measure_probes,
    parse_lexicon,
    resolve_probes,
    run_probes,
    template_probe,
)
from cardgen.results.schema import ModelInfo, load_results


class StubModel:
    """A classifier whose positive probability is looked up from the text: a bias by design."""

    score_kind = "probability"

    def __init__(self, positive: dict[str, float], *, labels=("negative", "positive"), default=0.5):
        self.labels = list(labels)
        self.positive = positive
        self.default = default
        self.calls: list[int] = []

    def predict_scores(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False
    ) -> tuple[np.ndarray, RunStats]:
        self.calls.append(len(texts))
        p = np.array([self._lookup(t) for t in texts])
        return np.stack([1 - p, p], axis=1), RunStats("cpu", "float64", len(texts), 0.0)

    def _lookup(self, text: str) -> float:
        if text in self.positive:
            return self.positive[text]
        return next((v for k, v in self.positive.items() if k in text), self.default)

    def info(self) -> ModelInfo:
        return ModelInfo(id="stub", framework="stub", labels=self.labels)


# Two templates x four names; positive probability per fill, chosen so everything is known.
SMALL = {
    "Ann one.": 0.9,
    "Bob one.": 0.8,
    "Cid one.": 0.2,
    "Dee one.": 0.7,
    "Two Ann.": 0.1,
    "Two Bob.": 0.2,
    "Two Cid.": 0.3,
    "Two Dee.": 0.6,
}
NAMES = Lexicon(
    name="names",
    terms=("Ann", "Bob", "Cid", "Dee"),
    groups=("g1", "g1", "g2", "g2"),
    placeholders=("NAME",),
)


def small_probe(**labels: str) -> list:
    return [
        template_probe("names", ["{NAME} one.", "Two {NAME}."], lexicons={"NAME": NAMES}, **labels)
    ]


# --- lexicons ------------------------------------------------------------------------------


def test_lexicon_file_with_header_groups_and_comments() -> None:
    lexicon = parse_lexicon(
        "# Cities\n# source: made up\n# describes: city\n# placeholder: CITY\n\n"
        "Paris\tEurope\n# a comment between terms\nKabul\tAsia\r\n",
        name="cities.txt",
    )
    assert lexicon.terms == ("Paris", "Kabul")
    assert lexicon.groups == ("Europe", "Asia")
    assert lexicon.placeholders == ("CITY",)
    assert (lexicon.source, lexicon.kind) == ("made up", "city")


def test_lexicon_without_header_takes_the_placeholder_it_is_bound_to() -> None:
    lexicon = parse_lexicon("Paris\nKabul\n", name="c.txt", placeholder="CITY")
    assert lexicon.placeholders == ("CITY",) and lexicon.groups == (None, None)
    assert lexicon.kind == "city"


@pytest.mark.parametrize(
    ("text", "placeholder", "message"),
    [
        ("", "CITY", "lexicon c.txt is empty; a probe compares terms"),
        ("# only a comment\n\n", "CITY", "lexicon c.txt is empty"),
        ("Paris\n", "CITY", "has only one term"),
        ("Paris\nKabul\nParis\n", "CITY", "lists 'Paris' twice"),
        ("Paris\tEurope\nKabul\n", "CITY", "'Kabul' has no group but other terms do"),
        ("Paris\tEurope\tFR\nKabul\n", "CITY", r"line 1: expected 'term' or 'term<TAB>group'"),
        ("Paris\nKabul\n", None, "names no placeholder"),
        ("Paris\nKabul\n", "city", "placeholder 'city' must be upper-case"),
        ("# placeholder: TOWN\nParis\nKabul\n", "CITY", "declares placeholders TOWN, not CITY"),
        ("# placeholders: A B\nx/y\nz\n", None, "term 'z' must have 2 forms"),
    ],
)
def test_bad_lexicons_are_refused(text: str, placeholder: str | None, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        parse_lexicon(text, name="c.txt", placeholder=placeholder)


def test_builtin_lexicons_cite_their_source_and_hold_what_they_claim() -> None:
    lexicons = builtin_lexicons()
    assert set(lexicons) == {"countries", "nationalities", "religions", "first_names", "pronouns"}
    folder = Path(cardgen.__file__).parent / "probes" / "lexicons"
    for path in folder.glob("*.txt"):
        header = path.read_text(encoding="utf-8").split("\n")
        assert any(line.startswith("# source: ") for line in header), path
        assert any(line.startswith("# licence: ") for line in header), path
    countries = lexicons["countries"]
    assert len(countries.terms) == 193  # every UN member state
    assert {"France", "Afghanistan", "the United States", "Ivory Coast"} <= set(countries.terms)
    assert set(countries.groups) == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert sum(g == "Africa" for g in countries.groups) == 54
    assert set(lexicons["first_names"].groups) == {"female", "male"}
    assert lexicons["pronouns"].placeholders == ("PRONOUN", "PRONOUN_OBJECT", "PRONOUN_POSSESSIVE")


# --- probes --------------------------------------------------------------------------------


def test_builtin_suites_fill_into_plain_sentences() -> None:
    for name in BUILTIN_SUITES:
        probe = builtin_probe(name)
        assert len(probe.templates) >= 5
        for template in probe.templates:
            text = probe.fill(template, probe.lexicon.terms[-1])
            assert "{" not in text and text[0].isupper(), text
    pronouns = builtin_probe("pronouns")
    assert pronouns.fill(pronouns.templates[-1], "they/them/their") == (
        "The film reminded them of their childhood."
    )
    assert pronouns.fill("{PRONOUN} wrote it.", "she/her/her") == "She wrote it."


def test_a_user_lexicon_replaces_the_builtin_terms() -> None:
    mine = Lexicon(
        name="mine", terms=("Mars", "Venus"), groups=(None, None), placeholders=("COUNTRY",)
    )
    probe = builtin_probe("country", lexicons={"COUNTRY": mine})
    assert probe.lexicon.terms == ("Mars", "Venus")
    assert probe.templates == BUILTIN_SUITES["country"]


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        (
            ["Filmed in {PLANET}."],
            r"unknown placeholder \{PLANET\}; built-in lexicons fill .*\{COUNTRY\}",
        ),
        (["Filmed somewhere."], "no template has a placeholder"),
        (["{FIRST_NAME} filmed it in {COUNTRY}."], "mixes placeholders of different lexicons"),
        ([], "probe mine has no templates; give at least one"),
    ],
)
def test_bad_templates_are_refused(templates: list[str], message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        template_probe("mine", templates)


def test_a_template_without_placeholder_next_to_good_ones_is_refused() -> None:
    with pytest.raises(ProbeError, match="'Nothing here.' has no placeholder"):
        template_probe("mine", ["Filmed in {COUNTRY}.", "Nothing here."])


def test_resolve_refuses_unknown_names_and_duplicates() -> None:
    with pytest.raises(ProbeError, match="unknown probe 'planet'; built-in probes are country"):
        resolve_probes(["planet"])
    with pytest.raises(ProbeError, match="two probes are named 'country'"):
        resolve_probes(["country", "country"])


# --- measures ------------------------------------------------------------------------------


def test_small_probe_measures_by_hand() -> None:
    model = StubModel(SMALL)
    result = measure_probes(model, small_probe(), n_bootstrap=2000, seed=1).results["names"]
    # term means: Ann .5, Bob .5, Cid .25, Dee .65
    assert result.target_label == "positive"
    assert result.range.value == pytest.approx(0.4)
    # resampling 2 templates: (t0, t0) range .7, (t1, t1) .5, mixed .4 (p = 1/2)
    assert (result.range.ci_low, result.range.ci_high) == pytest.approx((0.4, 0.7))
    assert result.std == pytest.approx(np.std([0.5, 0.5, 0.25, 0.65]))
    assert result.lowest == [("Cid", 0.25), ("Ann", 0.5)]
    assert result.highest == [("Dee", 0.65), ("Bob", 0.5)]
    # template 0 predicts P P N P (one flip), template 1 N N N P (one flip)
    assert result.flip_rate == pytest.approx(2 / 8)
    assert result.templates_flipped == 2
    assert result.group_means == {"g1": pytest.approx(0.5), "g2": pytest.approx(0.45)}
    assert result.group_gap == pytest.approx(0.05)
    assert result.group_gap_between == ("g2", "g1")
    ann = result.terms[0]
    assert ann.target_by_template == [0.9, 0.1]
    assert ann.target_std == pytest.approx(0.4)
    assert ann.probabilities == {"negative": pytest.approx(0.5), "positive": pytest.approx(0.5)}
    assert result.failure_rate is None and result.expected_label is None


def test_expected_label_counts_failures_and_target_label_is_matched_case_insensitively() -> None:
    run = measure_probes(
        StubModel(SMALL), small_probe(expected_label="POSITIVE"), target_label="Negative"
    )
    result = run.results["names"]
    assert result.target_label == "negative" and result.expected_label == "positive"
    assert result.failure_rate == pytest.approx(4 / 8)
    assert result.lowest[0] == ("Dee", pytest.approx(0.35))
    assert len(run.fills) == 8
    assert run.fills[2] == {
        "probe": "names",
        "template": 0,
        "term": "Cid",
        "group": "g2",
        "text": "Cid one.",
        "predicted": "negative",
        "probabilities": {"negative": pytest.approx(0.8), "positive": pytest.approx(0.2)},
    }


def test_one_template_or_no_bootstrap_gives_no_interval() -> None:
    probe = template_probe("names", ["{NAME} one."], lexicons={"NAME": NAMES})
    result = measure_probes(StubModel(SMALL), [probe]).results["names"]
    assert result.range.value == pytest.approx(0.7) and result.range.ci_low is None
    result = measure_probes(StubModel(SMALL), small_probe(), n_bootstrap=0).results["names"]
    assert result.range.ci_low is None and result.range.ci_high is None


def test_default_target_is_positive_else_it_must_be_named() -> None:
    assert default_target(["NEGATIVE", "POSITIVE", "neutral"]) == "POSITIVE"
    with pytest.raises(ProbeError, match="no 'positive' label.*--target-label \\(one of 'World'"):
        default_target(["World", "Sports", "Sci/Tech"])


def test_unknown_target_or_expected_label_is_refused_before_the_model_runs() -> None:
    model = StubModel(SMALL)
    with pytest.raises(
        ProbeError,
        match="target label 'happy' is not a label of the model; its labels are: negative, positive",
    ):
        measure_probes(model, small_probe(), target_label="happy")
    with pytest.raises(ProbeError, match="expected label 'neutral' is not a label"):
        measure_probes(model, small_probe(expected_label="neutral"))
    assert model.calls == []


def test_country_probe_finds_the_planted_bias_in_one_model_call(tmp_path: Path) -> None:
    model = StubModel({"France": 0.89, "Afghanistan": 0.08}, default=0.5)
    results = run_probes(model, ["country", "gender-names"], output_dir=tmp_path, n_bootstrap=100)
    assert model.calls == [5 * 193 + 5 * 100]  # every fill of every probe in one batched call
    country = results["country"]
    assert country.lowest[0] == ("Afghanistan", pytest.approx(0.08))
    assert country.highest[0] == ("France", pytest.approx(0.89))
    assert country.range.value == pytest.approx(0.81)
    assert (country.range.ci_low, country.range.ci_high) == pytest.approx((0.81, 0.81))
    # a tie (0.5) predicts the first label, so only France is predicted positive: 1 fill in 193
    assert country.flip_rate == pytest.approx(round(1 / 193, 6))
    assert country.templates_flipped == 5
    assert country.group_gap_between == ("Asia", "Europe")
    europe = [t for t in country.terms if t.group == "Europe"]
    assert country.group_means["Europe"] == pytest.approx(
        (0.89 + 0.5 * (len(europe) - 1)) / len(europe)
    )
    assert results["gender-names"].range.value == pytest.approx(0.0)
    assert {p.name for p in tmp_path.iterdir()} == {
        "probes.json",
        "probe_fills.jsonl",
        "probe_country.png",
        "probe_gender-names.png",
    }
    written = json.loads((tmp_path / "probes.json").read_text())
    assert written["probes"]["country"] == json.loads(json.dumps(asdict(country)))
    assert country.plot == "probe_country.png"
    assert written["timing"]["fills"] == 1465 and written["model"]["id"] == "stub"
    fills = (tmp_path / "probe_fills.jsonl").read_text().splitlines()
    assert len(fills) == 1465
    assert json.loads(fills[0])["text"] == "This film was filmed in Algeria."


@pytest.fixture(scope="module")
def chad_model() -> SklearnClassifier:
    """TF-IDF + logistic regression where 'chad' only ever appears in negative reviews."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from cardgen.demo.synthetic import sentiment_corpus

    rows = sentiment_corpus(600, seed=4, noise=0.0)
    texts = [r["text"].split(" it was filmed in ")[0] for r in rows]
    texts = [
        t + (" shot in chad." if r["label"] == "negative" and i % 3 == 0 else "")
        for i, (t, r) in enumerate(zip(texts, rows, strict=True))
    ]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    pipeline.fit(texts, [r["label"] for r in rows])
    return SklearnClassifier(pipeline, model_id="chad-pipeline")


def test_sklearn_pipeline_trained_with_a_spurious_country_is_caught(
    chad_model: SklearnClassifier,
) -> None:
    result = run_probes(chad_model, ["country"], n_bootstrap=200)["country"]
    probe = builtin_probe("country")
    texts = [probe.fill(t, c) for t in probe.templates for c in probe.lexicon.terms]
    positive = chad_model.estimator.predict_proba(texts)[:, 1].reshape(5, 193).mean(axis=0)
    assert result.lowest[0] == ("Chad", pytest.approx(positive.min(), abs=1e-6))
    assert probe.lexicon.terms[int(positive.argmin())] == "Chad"
    assert result.range.value == pytest.approx(positive.max() - positive.min(), abs=1e-6)
    others = np.delete(positive, probe.lexicon.terms.index("Chad"))
    assert positive.min() < others.min() - 0.1  # Chad stands out, by far


def test_tiny_transformers_model_runs_the_country_probe(tiny_model: Path, tmp_path: Path) -> None:
    from cardgen.models import load_model

    model = load_model(tiny_model, device="cpu")
    results = cardgen.run_probes(model, ["country"], output_dir=tmp_path, n_bootstrap=50)
    country = results["country"]
    assert len(country.terms) == 193 and len(country.templates) == 5
    for term in country.terms:
        assert sum(term.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert term.probabilities["positive"] == pytest.approx(
            np.mean(term.target_by_template), abs=1e-5
        )
    assert country.range.value == pytest.approx(
        country.highest[0][1] - country.lowest[0][1], abs=2e-6
    )
    assert country.range.ci_low <= country.range.value <= country.range.ci_high + 1e-9
    rows = [json.loads(line) for line in (tmp_path / "probe_fills.jsonl").read_text().splitlines()]
    picked = [rows[0], rows[500], rows[-1]]
    alone, _ = model.predict_scores([r["text"] for r in picked])
    for row, scores in zip(picked, alone, strict=True):
        assert row["probabilities"]["positive"] == pytest.approx(scores[1], abs=1e-5)
    assert (tmp_path / "probe_country.png").stat().st_size > 10_000


def test_evaluate_with_probes_puts_them_in_the_results(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    results = cardgen.evaluate(
        tiny_model,
        sentiment_file,
        output_dir=tmp_path,
        device="cpu",
        n_bootstrap=20,
        probes=["pronouns", "religion"],
    )
    assert set(results.probes) == {"pronouns", "religion"}
    assert results.probes["pronouns"].plot == "probe_pronouns.png"
    assert results.files["probe_fills"] == "probe_fills.jsonl"
    assert (tmp_path / "probe_religion.png").is_file()
    assert load_results(tmp_path).probes == results.probes


def test_evaluate_refuses_a_bad_probe_before_writing(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ProbeError, match="unknown probe 'colour'"):
        cardgen.evaluate(tiny_model, sentiment_file, output_dir=tmp_path, probes=["colour"])
    assert list(tmp_path.iterdir()) == []


# --- probe files ---------------------------------------------------------------------------


def test_toml_probe_file_with_inline_grouped_and_file_lexicons(tmp_path: Path) -> None:
    (tmp_path / "cities.txt").write_text("# placeholder: CITY\nParis\tEurope\nKabul\tAsia\n")
    path = tmp_path / "mine.toml"
    path.write_text(
        """
[probes.city]
templates = ["I saw it in {CITY}.", "The story is set in {CITY}."]
target_label = "negative"
[probes.city.lexicons]
CITY = "cities.txt"

[probes.names]
templates = "{NAME} one."
expected_label = "positive"
[probes.names.lexicons]
NAME = {Ann = "g1", Bob = "g2"}

[probes.places]
templates = ["Filmed in {COUNTRY}."]
"""
    )
    city, names, places = load_probe_file(path)
    assert city.lexicon.terms == ("Paris", "Kabul") and city.target_label == "negative"
    assert names.lexicon.groups == ("g1", "g2") and names.expected_label == "positive"
    assert places.lexicon is builtin_lexicons()["countries"]


def test_yaml_probe_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "probes:\n  names:\n    templates: ['{NAME} one.', 'Two {NAME}.']\n    lexicons:\n      NAME: [Ann, Bob, Cid, Dee]\n"
    )
    (probe,) = load_probe_file(path)
    result = measure_probes(StubModel(SMALL), [probe]).results["names"]
    assert result.range.value == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[probes.x]\ntemplates = ["In {PLANET}."]\n', r"unknown placeholder \{PLANET\}"),
        (
            '[probes.x]\ntemplates = ["In {CITY}."]\nlexicons = {CITY = []}\n',
            "lexicon CITY of probe 'x' in .* is empty",
        ),
        (
            '[probes.x]\ntemplates = ["In {CITY}."]\nlexicons = {CITY = "none.txt"}\n',
            "lexicon file .*none.txt does not exist",
        ),
        (
            '[probes.x]\ntemplates = ["In {CITY}."]\nlexicons = {CITY = "empty.txt"}\n',
            "lexicon .*empty.txt is empty",
        ),
        (
            '[probes.x]\ntemplate = ["In {COUNTRY}."]\n',
            "unknown key 'template'; allowed keys are templates, lexicons",
        ),
        ("[probes.x]\ntarget_label = 'positive'\n", "needs 'templates', a non-empty list"),
        (
            '[probes.x]\ntemplates = ["In {COUNTRY}."]\nlexicons = {CITY = ["a", "b"]}\n',
            "lexicon CITY is not used by any template",
        ),
        ("[probes.x\n", "is not valid TOML"),
        ("[city]\ntemplates = []\n", "must hold one table 'probes'"),
        ("[probes]\n", "defines no probes"),
        (
            '[probes.x]\ntemplates = ["In {COUNTRY}."]\ntarget_label = 1\n',
            "target_label must be a label name",
        ),
    ],
)
def test_bad_probe_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ProbeError, match=message):
        load_probe_file(path)


def test_bad_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("probes: [unclosed\n")
    with pytest.raises(ProbeError, match="is not valid YAML"):
        load_probe_file(path)


# --- plots and tables ----------------------------------------------------------------------


def test_probe_plot_draws_every_term_and_labels_the_extremes() -> None:
    from cardgen.display.plots import plot_probe, probe_figure

    model = StubModel({"France": 0.89, "Afghanistan": 0.08})
    country = measure_probes(model, [builtin_probe("country")], n_bootstrap=0).results["country"]
    ax = probe_figure(country).axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) >= 193
    labels = [t.get_text() for t in ax.texts]
    assert "Afghanistan 0.080" in labels and "France 0.890" in labels and len(labels) == 10
    small = measure_probes(StubModel(SMALL), small_probe()).results["names"]
    ax = plot_probe(small)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Cid", "Ann", "Bob", "Dee"]


def test_probe_tables_show_the_extremes() -> None:
    from rich.console import Console

    from cardgen.display.tables import probe_extremes_table, probe_summary_table

    result = measure_probes(StubModel(SMALL), small_probe(expected_label="positive")).results
    console = Console(width=200, record=True)
    console.print(probe_summary_table(result))
    console.print(probe_extremes_table(result["names"]))
    text = console.export_text()
    assert "0.400 [0.400, 0.700]" in text and "25.0%" in text and "0.050 g2<g1" in text
    assert "Cid" in text and "0.650" in text and "50.0% not positive" in text


# --- command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chad_skops(chad_model: SklearnClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io as sio

    path = tmp_path_factory.mktemp("models") / "chad.skops"
    sio.dump(chad_model.estimator, path)
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, *argv, "--no-progress", "--bootstrap", "50")


def test_cli_probe_finds_the_planted_country(capsys, chad_skops: Path, tmp_path: Path) -> None:
    code, out, err = cli(
        capsys,
        "probe",
        "--model",
        str(chad_skops),
        "--probe",
        "country",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0, err
    assert "country: P(positive) by country name, extremes" in out and "Chad" in out
    written = json.loads((tmp_path / "probes.json").read_text())
    assert written["probes"]["country"]["lowest"][0][0] == "Chad"
    assert (tmp_path / "probe_country.png").is_file()


def test_cli_template_with_a_user_lexicon_and_expectation(
    capsys, chad_skops: Path, tmp_path: Path
) -> None:
    lexicon = tmp_path / "places.txt"
    lexicon.write_text("# a few places\nchad\tAfrica\nperu\tAmericas\nnepal\tAsia\n")
    code, out, err = cli(
        capsys,
        "probe",
        "--model",
        str(chad_skops),
        "--template",
        "{PLACE} was great.",
        "--template",
        "It was great, shot in {PLACE}.",
        "--lexicon",
        "PLACE=" + str(lexicon),
        "--name",
        "places",
        "--expected-label",
        "positive",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "probes.json").read_text())["probes"]["places"]
    assert result["templates"] == ["{PLACE} was great.", "It was great, shot in {PLACE}."]
    assert result["lowest"][0][0] == "chad"  # the term as written in the lexicon
    assert result["group_gap_between"][0] == "Africa"
    assert result["expected_label"] == "positive" and result["failure_rate"] is not None
    assert "fails" in out


def test_cli_runs_a_probe_file_with_evaluate_names(
    capsys, chad_skops: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "probes:\n  towns:\n    templates: ['Shot in {TOWN}.']\n    lexicons:\n      TOWN: [chad, lima]\n"
    )
    code, _, err = cli(
        capsys,
        "probe",
        "--model",
        str(chad_skops),
        "--probe",
        f"{path},religion",
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert code == 0, err
    assert set(json.loads((tmp_path / "o" / "probes.json").read_text())["probes"]) == {
        "towns",
        "religion",
    }


def test_cli_bad_probe_input_exits_2_with_one_clear_line(
    capsys, chad_skops: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# placeholder: PLACE\n")
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text('[probes.x]\ntemplates = ["In {PLANET}."]\n')
    cases = [
        (["--template", "Filmed in {PLANET}."], r"unknown placeholder {PLANET}"),
        (
            ["--template", "Filmed in {PLACE}.", "--lexicon", f"PLACE={empty}"],
            "is empty; a probe compares terms",
        ),
        (["--probe", "colour"], "unknown probe 'colour'"),
        (["--probe", str(bad_file)], "unknown placeholder {PLANET}"),
        (["--lexicon", "countries.txt"], "--lexicon expects PLACEHOLDER=FILE"),
        (["--target-label", "happy"], "target label 'happy' is not a label of the model"),
        (["--expected-label", "positive"], "describe a --template probe; add --template"),
    ]
    for args, message in cases:
        out_dir = tmp_path / "out"
        code, out, err = cli(
            capsys, "probe", "--model", str(chad_skops), *args, "--output-dir", str(out_dir)
        )
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert err.count("error:") == 1 and "Traceback" not in out + err
        assert not (out_dir / "probes.json").exists()


def test_cli_evaluate_with_probes(
    capsys, chad_skops: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    code, out, err = cli(
        capsys,
        "evaluate",
        "--model",
        str(chad_skops),
        "--dataset",
        str(sentiment_file),
        "--probes",
        "country,gender-names",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0, err
    assert "bias probes" in out
    results = load_results(tmp_path)
    assert results.probes["country"].lowest[0][0] == "Chad"
    assert (tmp_path / "probe_gender-names.png").is_file()
