"""Hostile probe files, templates and lexicons: every one stops with a ProbeError that quotes
what was found (the CLI: exit 2 and one ``error:`` line); terms with markup are plain data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from cardgen.errors import ProbeError
from cardgen.models.base import RunStats
from cardgen.probes import (
    Lexicon,
    load_lexicon,
    load_probe_file,
    measure_probes,
    parse_lexicon,
    resolve_probes,
    template_probe,
)
from cardgen.results.schema import ModelInfo


class EchoModel:
    """Positive probability = share of 'a' in the text; records what it was asked."""

    score_kind = "probability"
    labels = ["negative", "positive"]

    def __init__(self) -> None:
        self.texts: list[str] = []

    def predict_scores(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False
    ) -> tuple[np.ndarray, RunStats]:
        self.texts.extend(texts)
        p = np.array([t.count("a") / max(len(t), 1) for t in texts])
        return np.stack([1 - p, p], axis=1), RunStats("cpu", "float64", len(texts), 0.0)

    def info(self) -> ModelInfo:
        return ModelInfo(id="echo", framework="stub", labels=self.labels)


T = '[probes.x]\ntemplates = ["In {CITY}."]\n'  # a good start that cases extend


def lex(value: str) -> str:
    return T + f"lexicons = {{CITY = {value}}}\n"


TOML_CASES = [
    # templates of the wrong type or shape
    ("[probes.x]\ntemplates = 5\n", "needs 'templates', a non-empty list of sentences, got 5"),
    ("[probes.x]\ntemplates = true\n", "needs 'templates', .* got True"),
    ("[probes.x]\ntemplates = {a = 1}\n", r"needs 'templates', .* got \{'a': 1\}"),
    ("[probes.x]\ntemplates = []\n", r"needs 'templates', .* got \[\]"),
    ("[probes.x]\ntemplates = [1, 2]\n", r"every template must be a sentence \(text\), or every one a pair .*; got 1"),
    ('[probes.x]\ntemplates = [["In {COUNTRY}."]]\n', r"got \['In \{COUNTRY\}.'\]"),
    ('[probes.x]\ntemplates = ""\n', "template must be non-empty text, got ''"),
    ('[probes.x]\ntemplates = ["   "]\n', "template must be non-empty text, got '   '"),
    ('[probes.x]\ntemplates = ["No placeholder."]\n', "no template has a placeholder"),
    ('[probes.x]\ntemplates = ["In {COUNTRY}.", "Plain."]\n', "'Plain.' has no placeholder"),
    ('[probes.x]\ntemplates = ["In {PLANET}."]\n', r"unknown placeholder \{PLANET\}"),
    ('[probes.x]\ntemplates = ["In {country}."]\n', r"write \{COUNTRY\}: .* upper-case"),
    # braces that are not placeholders, including str.format attacks
    ('[probes.x]\ntemplates = ["In {COUNTRY"]\n', r"has '\{COUNTRY', which is not a place"),
    ('[probes.x]\ntemplates = ["In {COUNTRY}, {"]\n', r"has '\{', which is not a placeholder"),
    ('[probes.x]\ntemplates = ["In {COUNTRY} }"]\n', r"has '\}', which is not a placeholder"),
    ('[probes.x]\ntemplates = ["{COUNTRY.__class__}"]\n', r"'\{COUNTRY.__class__\}', which"),
    ('[probes.x]\ntemplates = ["{COUNTRY} {0}"]\n', r"has '\{0\}', which is not"),
    ('[probes.x]\ntemplates = ["{COUNTRY} {}"]\n', r"has '\{\}', which is not"),
    ('[probes.x]\ntemplates = ["{COUNTRY!r:>10}"]\n', r"has '\{COUNTRY!r:>10\}'"),
    ('[probes.x]\ntemplates = ["{{COUNTRY}}"]\n', r"has '\{\}', which is not"),
    ('[probes.x]\ntemplates = ["{COUNTRY[0]}"]\n', r"has '\{COUNTRY\[0\]\}'"),
    (
        '[probes.x]\ntemplates = ["{COUNTRY.__init__.__globals__}"]\n',
        r"'\{COUNTRY.__init__.__globals__\}', which is not a placeholder",
    ),
    ('[probes.x]\ntemplates = ["In {COUNTRY}\\nnext"]\n', "without control characters"),
    ('[probes.x]\ntemplates = ["In {COUNTRY}\\u0000"]\n', "without control characters"),
    (
        '[probes.x]\ntemplates = ["' + "x" * 2000 + ' {COUNTRY}"]\n',
        r"at most 1,000 characters",
    ),
    (
        "[probes.x]\ntemplates = [" + ", ".join(['"{COUNTRY}."'] * 1001) + "]\n",
        "has 1,001 templates, over cardgen's limit of 1,000",
    ),
    # lexicons of the wrong type or content
    (T + "lexicons = 5\n", "'lexicons' must map each placeholder .* got 5"),
    (T + 'lexicons = ["a", "b"]\n', r"'lexicons' must map .* got \['a', 'b'\]"),
    (lex("5"), "must be a list of terms, a term -> group table or a file, got 5"),
    (lex("true"), "must be a list of terms, .* got True"),
    (lex("[]"), "lexicon CITY of probe 'x' in .* is empty"),
    (lex('["Paris"]'), "has only one term"),
    (lex("[1, 2]"), "term must be non-empty text, got 1"),
    (lex('["a", ""]'), "term must be non-empty text, got ''"),
    (lex('["a", "a"]'), "lists 'a' twice"),
    (lex('["a", " a "]'), "lists 'a' twice"),
    (lex('[["a"], ["b"]]'), r"term must be non-empty text, got \['a'\]"),
    (lex('["a\\nb", "c"]'), "without control characters"),
    (lex('["a\\u0000", "c"]'), "without control characters"),
    (lex('["' + "x" * 1000 + '", "b"]'), "at most 500 characters"),
    (lex("{a = 1, b = 2}"), "the group of 'a' must be non-empty text, got 1"),
    (lex('{a = "", b = "x"}'), "the group of 'a' must be non-empty text, got ''"),
    (lex('{a = ["g"], b = "x"}'), r"got \['g'\]"),
    (T + 'lexicons = {city = ["a", "b"]}\n', "placeholder 'city' must be upper-case"),
    (T + 'lexicons = {CITY = ["a", "b"], TOWN = ["c", "d"]}\n', "TOWN is not used by any"),
    # lexicon files that point outside the probe file's folder or are unreadable
    (lex('"../outside.txt"'), "points outside .*; put the lexicon file next to the probe file"),
    (lex('"/etc/hostname"'), "points outside"),
    (lex('"sub/../../outside.txt"'), "points outside"),
    (lex('"link.txt"'), "leads outside .* through a link"),
    (lex('""'), "is not a usable file name"),
    (lex('"bad\\u0000.txt"'), "is not a usable file name"),
    (lex('"' + "n" * 300 + '"'), "is not a usable file name"),
    (lex('"none.txt"'), "lexicon file .*none.txt does not exist"),
    (lex('"sub"'), "lexicon file .*sub is a directory"),
    (lex('"latin1.txt"'), "lexicon file .*latin1.txt is not utf-8 text"),
    (lex('"million.txt"'), "has more than 100,000 terms, over cardgen's limit"),
    (lex('"wrong.txt"'), "declares placeholders TOWN, not CITY"),
    # labels
    (T.replace("In {CITY}", "In {COUNTRY}") + "target_label = 1\n", "target_label must be a "),
    (T.replace("In {CITY}", "In {COUNTRY}") + 'target_label = ""\n', "got ''"),
    (T.replace("In {CITY}", "In {COUNTRY}") + 'target_label = "  "\n', "got '  '"),
    (T.replace("In {CITY}", "In {COUNTRY}") + 'expected_label = ["a"]\n', r"got \['a'\]"),
    (
        T.replace("In {CITY}", "In {COUNTRY}") + 'expected_label = "a\\nb"\n',
        "expected_label 'a\\\\nb' must be one line",
    ),
    # the file's structure
    ("", "must hold one table 'probes'"),
    ("probes = 5\n", "must hold one table 'probes'"),
    ("probes = []\n", "must hold one table 'probes'"),
    ('x = 1\n[probes.a]\ntemplates = ["In {COUNTRY}."]\n', "must hold one table 'probes'"),
    ("[probes]\n", "defines no probes"),
    ("[probes]\nx = 5\n", r"probe 'x' in .* must be a table of templates, .* got 5"),
    ("[probes]\nx = []\n", r"must be a table of templates, .* got \[\]"),
    ('[probes.x]\ntemplate = ["In {COUNTRY}."]\n', "unknown key 'template'"),
    ('[probes."  "]\ntemplates = ["In {COUNTRY}."]\n', "a probe name must be non-empty text"),
    ('[probes."a\\nb"]\ntemplates = ["In {COUNTRY}."]\n', "without control characters"),
    (f'[probes.{"n" * 200}]\ntemplates = ["In {{COUNTRY}}."]\n', "at most 100 characters"),
    ("[probes.x\n", "is not valid TOML"),
    ("[probes.x]\ntemplates = [\n", "is not valid TOML"),
    ("a = " + "[" * 500 + "]" * 500 + "\n", "nests deeper than|is not valid TOML"),
    (
        "\n".join(f'[probes.p{i}]\ntemplates = ["In {{COUNTRY}}."]' for i in range(1001)),
        "defines 1,001 probes, over cardgen's limit of 1,000",
    ),
]


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    """A folder beside which lives a secret, with lexicon files good and bad."""
    folder = tmp_path / "probes"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("# placeholder: CITY\nsecret\nvalue\n")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "sub").mkdir()
    (folder / "latin1.txt").write_bytes("# placeholder: CITY\nK\xf6ln\nParis\n".encode("latin-1"))
    (folder / "million.txt").write_text("# placeholder: CITY\n" + "t\n" * 100_001)
    (folder / "wrong.txt").write_text("# placeholder: TOWN\na\nb\n")
    return folder


@pytest.mark.parametrize(("content", "message"), TOML_CASES)
def test_hostile_toml_probe_files(probe_dir: Path, content: str, message: str) -> None:
    path = probe_dir / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProbeError, match=message):
        load_probe_file(path)


BOMB = (
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    + "probes: {x: {templates: *i}}\n"
)

YAML_CASES = [
    (BOMB, "more than 64 YAML aliases, cardgen's limit"),
    ("probes: " + "[" * 1000 + "]" * 1000 + "\n", "nests deeper than 64 levels"),
    ("probes: !!python/object/apply:os.system ['echo hi']\n", "is not valid YAML"),
    ("probes: {x: {templates: !!python/name:os.system }}\n", "is not valid YAML"),
    ("probes: {x: {templates: !!set {'In {COUNTRY}.': null}}}\n", r"needs 'templates', .* got"),
    ("probes: {x: {templates: !!binary aGVsbG8=}}\n", r"needs 'templates', .* got b'hello'"),
    ("probes: {x: {templates: 2024-01-01}}\n", r"got datetime.date\(2024, 1, 1\)"),
    ("probes: {x: {templates: ['In {COUNTRY}.']}}\n---\nprobes: {}\n", "is not valid YAML"),
    ("probes: {~: {templates: ['In {COUNTRY}.']}}\n", "probe names must be text, got None"),
    ("probes: {[a, b]: {templates: ['x']}}\n", "is not valid YAML|probe names must be text"),
    ("probes: {x: {templates: ['In {COUNTRY}.'], 3: 4}}\n", "unknown key '3'"),
    ("probes: {x: {templates: ['In {CITY}.'], lexicons: {1: [a, b]}}}\n", "got 1"),
    ("probes: {x: {templates: ['In {CITY}.'], lexicons: {CITY: {a: ~, b: ~}}}}\n", "got None"),
    ("probes:\n  x:\n\ttemplates: []\n", "is not valid YAML"),
    ("", "must hold one table 'probes'"),
    ("just text\n", "must hold one table 'probes'"),
]


@pytest.mark.parametrize(("content", "message"), YAML_CASES)
def test_hostile_yaml_probe_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProbeError, match=message):
        load_probe_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.toml", None, "probe file .*missing.toml does not exist"),
        ("folder.yaml", "dir", "probe file .*folder.yaml is a directory"),
        ("latin.yml", b"probes: {K\xf6ln: 1}\n", "is not utf-8 text"),
        ("probes.json", "{}", r"must end in .toml, .yaml, .yml"),
    ],
)
def test_unreadable_probe_files(tmp_path: Path, name: str, content: object, message: str) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    with pytest.raises(ProbeError, match=message):
        load_probe_file(path)


def test_upper_case_suffixes_are_probe_files(tmp_path: Path) -> None:
    path = tmp_path / "MINE.YAML"
    path.write_text("probes: {x: {templates: ['In {COUNTRY}.']}}\n")
    assert [p.name for p in resolve_probes([path])] == ["x"]


# --- fills: templates x terms are bounded ----------------------------------------------------


def _lexicon(n: int, placeholder: str = "NAME") -> Lexicon:
    terms = tuple(f"t{i}" for i in range(n))
    return Lexicon(name="many", terms=terms, groups=(None,) * n, placeholders=(placeholder,))


def test_one_probe_with_too_many_fills_says_which_limit() -> None:
    templates = [f"Text {i} by {{NAME}}." for i in range(101)]
    with pytest.raises(
        ProbeError, match="has 101 templates x 1,000 terms = 101,000 fills, over cardgen's limit"
    ):
        template_probe("big", templates, lexicons={"NAME": _lexicon(1000)})


def test_too_many_fills_over_all_probes_of_a_run() -> None:
    many = _lexicon(1000)
    probes = [
        template_probe(f"p{k}", [f"T{i}{k} {{NAME}}." for i in range(60)], lexicons={"NAME": many})
        for k in range(2)
    ]
    with pytest.raises(ProbeError, match="the 2 probes make 120,000 fills .* per run"):
        resolve_probes(probes)


def test_a_lexicon_of_a_million_terms_is_refused_early() -> None:
    with pytest.raises(ProbeError, match="over cardgen's limit of 100,000; use a sample"):
        _lexicon(1_000_000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# placeholder: CITY\n" + "x\n" * 100_001, "has more than 100,000 terms"),
        ("# placeholders: " + " ".join(f"P{i}" for i in range(17)) + "\na\nb\n", "declares 17"),
        ("# placeholders: A A\na/b\nc/d\n", "names a placeholder twice"),
        ("# placeholders: A B\na/b\nc/\n", "term 'c/' must have 2 forms"),
        ("# placeholders: A B\na/b\nc/d/e\n", "term 'c/d/e' must have 2 forms"),
        ("# placeholder: " + "A" * 100 + "\na\nb\n", "must be upper-case letters"),
        ("# placeholder: CITY\na\x01b\nc\n", "without control characters"),
        ("# placeholder: CITY\na\tg\x01\nc\tg\n", "group 'g\\\\x01' must be one line"),
        ("# placeholder: CITY\n" + "y" * 600 + "\nc\n", "at most 500 characters"),
        ("# placeholder: CITY\na\t" + "g" * 600 + "\nc\tg\n", "at most 500 characters"),
    ],
)
def test_hostile_lexicon_files(text: str, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        parse_lexicon(text, name="l.txt")


def test_lexicon_files_are_read_with_bounds(tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(ProbeError, match="lexicon file .*dir.txt is a directory"):
        load_lexicon(tmp_path / "dir.txt", placeholder="CITY")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00x")
    with pytest.raises(ProbeError, match="is not utf-8 text"):
        load_lexicon(tmp_path / "bin.txt", placeholder="CITY")


# --- the library API with hostile values -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "templates", "message"),
    [
        ("x", 5, "templates must be a list of sentences, got 5"),
        ("x", None, "templates must be a list of sentences, got None"),
        ("x", [None], "template must be non-empty text, got None"),
        ("x", [b"In {COUNTRY}."], "template must be non-empty text, got b'In"),
        ("x", ["In {COUNTRY.__class__}."], r"'\{COUNTRY.__class__\}', which is not a place"),
        ("", ["In {COUNTRY}."], "a probe name must be non-empty text"),
        (5, ["In {COUNTRY}."], "a probe name must be non-empty text, got 5"),
        ("a\tb", ["In {COUNTRY}."], "without control characters"),
    ],
)
def test_hostile_template_probes(name: object, templates: object, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        template_probe(name, templates)  # type: ignore[arg-type]


def test_a_single_template_string_is_one_template() -> None:
    assert template_probe("x", "In {COUNTRY}.").templates == ("In {COUNTRY}.",)


@pytest.mark.parametrize("spec", [5, None, b"country", ["country"]])
def test_resolve_refuses_specs_of_the_wrong_type(spec: object) -> None:
    with pytest.raises(ProbeError, match="a probe must be a built-in name, a probe file or"):
        resolve_probes([spec])  # type: ignore[list-item]


def test_a_target_label_the_model_lacks_is_refused_before_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[probes.x]\ntemplates = ["In {COUNTRY}."]\ntarget_label = "happy"\n')
    model = EchoModel()
    with pytest.raises(ProbeError, match="target label 'happy' is not a label of the model"):
        measure_probes(model, load_probe_file(path))
    assert model.texts == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "has no 'positive' label, so say which label the probes measure: pass --target-label"),
        (["--target-label", "happy"], "target label 'happy' is not a label of the model"),
        (["--target-label", "positive"], "target label 'positive' is not a label of the model"),
        (["--target-label", " "], "--target-label is empty"),
        (["--target-label", "LABEL_1", "--probes", ""], "--probes names no probe (got '')"),
    ],
)
def test_evaluate_checks_the_probes_target_before_it_predicts(
    generic_model: Path,
    sentiment_file: Path,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    """evaluate had no --target-label, which its error asked for, and found out only after
    predicting the whole dataset; a model without 'positive' could not be probed there."""

    def predicted(*_: object) -> None:
        raise AssertionError("predicted before the probes' labels were checked")

    monkeypatch.setattr("cardgen.evaluation.run._predict_and_analyse", predicted)
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(generic_model), "--dataset", str(sentiment_file),
        "--probes", "country", *args, "--output-dir", str(tmp_path / "run"), "--bootstrap", "0",
        "--no-progress",
    )  # fmt: skip
    assert code == 2 and err.count("error:") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_evaluate_probes_measure_the_target_label(
    generic_model: Path, sentiment_file: Path
) -> None:
    import cardgen

    probe = template_probe("in", ["It was filmed in {COUNTRY}.", "{COUNTRY} is lovely."])
    results = cardgen.evaluate(
        generic_model,
        sentiment_file,
        label_map={"LABEL_0": "negative", "LABEL_1": "positive"},
        probes=[probe],
        target_label="label_1",
        n_bootstrap=0,
    )
    assert results.probes["in"].target_label == "LABEL_1"


# --- terms with markup are data, filled by plain replacement ---------------------------------

MARKUP_TERMS = [
    "<script>alert(1)</script>",
    "**bold** _it_",
    "[link](http://example.com)",
    "| a | b |",
    "{COUNTRY}",
    "{0}",
    "{COUNTRY.__class__}",
    "\\1 \\g<0>",
    "$(rm -rf /)",
    "'; DROP TABLE x; --",
    "&amp; &lt;",
    "🙂 مرحبا עברית",
    "%s %d %(x)s",
    "{{ 7*7 }} {% if %}",
]


def test_terms_with_markup_fill_literally(tmp_path: Path) -> None:
    path = tmp_path / "markup.yaml"
    import yaml

    spec = {
        "probes": {
            "m": {
                "templates": ["{WORD} was here.", "It is {WORD}, said {WORD}."],
                "lexicons": {"WORD": MARKUP_TERMS},
            }
        }
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    (probe,) = load_probe_file(path)
    model = EchoModel()
    run = measure_probes(model, [probe], n_bootstrap=0)
    expected = [
        template.replace("{WORD}", term) for template in probe.templates for term in MARKUP_TERMS
    ]
    expected = [
        t[:1].upper() + t[1:] if i < len(MARKUP_TERMS) else t for i, t in enumerate(expected)
    ]
    assert model.texts == expected
    assert [row["term"] for row in run.fills[: len(MARKUP_TERMS)]] == MARKUP_TERMS


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "In {COUNTRY.__class__}."], "which is not a placeholder"),
        (["--template", "In {0} {COUNTRY}."], "'{0}', which is not a placeholder"),
        (["--template", "In {country}."], "write {COUNTRY}: placeholders are upper-case"),
        (["--template", "In {COUNTRY}.", "--name", "a\nb"], "without control characters"),
        (["--probe", "FILE:templates = 5"], "needs 'templates', a non-empty list"),
        (["--probe", "FILE:templates = [1]"], "every template must be a sentence"),
        (
            ["--probe", "FILE:templates = ['{COUNTRY}']\nlexicons = {COUNTRY = '/etc/passwd'}"],
            "points outside",
        ),
        (["--lexicon", "CITY=missing.txt", "--template", "{CITY}"], "does not exist"),
    ],
)
def test_cli_hostile_probes_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    skops_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = list(args)
    for i, arg in enumerate(args):
        if arg.startswith("FILE:"):
            path = tmp_path / "p.toml"
            path.write_text("[probes.x]\n" + arg.removeprefix("FILE:") + "\n")
            args[i] = str(path)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        capsys, "probe", "--model", str(skops_model), *args, "--output-dir", str(out_dir),
        "--no-progress",
    )  # fmt: skip
    assert code == 2, err
    assert err.count("error:") == 1 and message in " ".join(err.split()), err
    assert "Traceback" not in out + err
    assert not (out_dir / "probes.json").exists()
