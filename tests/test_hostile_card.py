"""Model cards under hostile input: every string from data, models and files is escaped in
the Markdown and sanitized in the HTML; paths from results stay inside their directories;
sections, templates, front matter, training logs and outputs fail with a CardgenError."""

from __future__ import annotations

import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import make_results, run_cli, save_run
from markdown_it import MarkdownIt

from cardgen.cards.export import card_to_html
from cardgen.cards.render import build_card, render_card
from cardgen.cards.sections import split_front_matter
from cardgen.cards.templating import cell, code, escape_markdown
from cardgen.cards.training import load_hyperparameters, load_training_history
from cardgen.errors import CardError, OutputError, ResultsError, UsageError
from cardgen.results.schema import Metric, ProbeResult, ProbeTerm

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</table><script>alert(1)</script>",
    "</td></tr></table><img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    '"><svg onload=alert(1)>',
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "<details open ontoggle=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    "<form action=javascript:alert(1)><button>go</button></form>",
    "<object data=javascript:alert(1)></object>",
    '<meta http-equiv=refresh content="0;url=javascript:alert(1)">',
    "<base href='javascript:/'>",
    "<input autofocus onfocus=alert(1)>",
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "\u202e<img src=x onerror=alert(1)>",
    "<img\u200b src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "[click](javascript:alert(1))",
    "![img](javascript:alert(1))",
    "[x]: javascript:alert(1)",
    "<https://evil.example/x>",
    "<javascript:alert(1)>",
    "a | b | c",
    "a \\| b",
    "x\\",
    "line one\nline two\r\n| x | y |\n|---|---|",
    "`code` ``` ~~~",
    "*bold* _it_ __init__ ~~gone~~",
    "# heading",
    "- item",
    "> quote",
    "---",
    "1. first",
    "<!-- cardgen:end summary -->",
    "\n<!-- cardgen:begin injected -->\n",
    "<!--",
    "{{ 7 * 7 }} {% raw %}",
    "$\\foo$ 100%",
    "\x00\x1b[31mred\x07",
    "L" * 5000,
]
IDS = [f"p{i}" for i in range(len(PAYLOADS))]
FORBIDDEN_TAGS = {
    *("script", "style", "iframe", "svg", "math", "object", "embed", "form", "input"),
    *("button", "meta", "base", "link", "textarea", "select", "frame", "frameset", "mi"),
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "content"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def parse_html(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def markdown_as_html(card: str) -> str:
    """The card body the way a Markdown renderer that allows raw HTML shows it."""
    _, body = split_front_matter(card)
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(body)


def live_markup(html: str, *, images: set[str] | None) -> list[str]:
    """Every tag, attribute or URL in ``html`` that could run script or load from elsewhere."""
    problems = []
    for tag, attrs in parse_html(html).tags:
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None:
                plain = re.sub(r"[\x00-\x20\u200b]", "", value).lower()
                if plain.startswith(("javascript:", "vbscript:", "data:")):
                    problems.append(f"<{tag} {name}={value!r}>")
        src = attrs.get("src")
        relative = src is None or (":" not in src.split("/")[0] and not src.startswith(("/", "\\")))
        if tag == "img" and (src not in images if images is not None else not relative):
            problems.append(f"<img src={src!r}>")
        href = attrs.get("href")
        if tag == "a" and href is not None and not href.startswith("https://huggingface.co/"):
            problems.append(f"<a href={attrs.get('href')!r}>")
    return problems


def table_shapes(html: str) -> list[list[int]]:
    return [[len(row) for row in table] for table in parse_html(html).tables]


def collapsed(text: str) -> str:
    return " ".join(text.split())


def probe(payload: str) -> ProbeResult:
    terms = [
        ProbeTerm(payload, payload, {payload: 0.1, "ok": 0.9}, 0.05, [0.1, 0.1]),
        ProbeTerm("Japan", "asia", {payload: 0.5, "ok": 0.5}, 0.02, [0.5, 0.5]),
    ]
    return ProbeResult(
        name=payload,
        target_label=payload,
        templates=[payload, "a story set in {term}."],
        terms=terms,
        range=Metric(0.4, 0.3, 0.5),
        std=0.2,
        flip_rate=0.25,
        lowest=[(payload, 0.1)],
        highest=[("Japan", 0.5)],
        group_means={payload: 0.1, "asia": 0.5},
        group_gap=0.4,
        expected_label=payload,
        failure_rate=0.5,
        plot="probes/plot.png",
        term_kind=payload,
    )


def hostile_results(payload: str):  # type: ignore[no-untyped-def]
    """Results whose every free-text field holds ``payload``."""
    results = make_results(labels=[payload, "ok"], model_id=payload, probes={"p": probe(payload)})
    results.label_mapping.strategy = payload
    results.label_mapping.model_to_dataset = {payload: "ok", "ok": payload}
    dataset = results.dataset
    dataset.name = dataset.config = dataset.split = payload
    dataset.source = f"hub:{payload}"
    dataset.text_column = dataset.label_column = dataset.fingerprint = payload
    model = results.model
    model.revision = model.architecture = model.base_model = model.weights_hash = payload
    results.warnings = [payload]
    results.environment[payload] = payload
    assert results.timing is not None
    results.timing.hardware = results.timing.device = results.timing.dtype = payload
    results.created_at = results.cardgen_version = payload
    return results


IMAGES = {"confusion_matrix.png", "reliability.png", "probes/plot.png"}


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Atomic writes fsync every file; these tests write hundreds of throwaway cards."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture(scope="module")
def baseline_shapes() -> tuple[list[list[int]], list[list[int]]]:
    """Table shapes of the same card with a harmless word in place of the payload."""
    card = build_card(hostile_results("harmless"), hyperparameters={"a": "x", "ok": "y"}).text
    return table_shapes(markdown_as_html(card)), table_shapes(card_to_html(card))


# ---------------------------------------------------------------- escaping, one value


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_escaped_text_renders_as_exactly_that_text_and_nothing_else(payload: str) -> None:
    html = (
        MarkdownIt("commonmark", {"html": True})
        .enable("table")
        .render(f"before {escape_markdown(payload)} after")
    )
    parsed = parse_html(html)
    assert [tag for tag, _ in parsed.tags] == ["p"] and not parsed.comments
    text = re.sub(r"<[^>]+>", "", html)
    import html as html_module

    shown = html_module.unescape(text).strip()
    expected = re.sub(r"\s+", " ", payload)
    expected = re.sub(
        "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202e]", lambda m: f"\\u{ord(m.group()):04x}", expected
    )
    assert shown == f"before {expected} after"


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_a_cell_never_breaks_its_table(payload: str) -> None:
    table = f"| a | b |\n|---|---|\n| {cell(payload)} | {cell(payload)} |\n| x | y |\n"
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(table)
    parsed = parse_html(html)
    assert table_shapes(html) == [[2, 2, 2]]
    assert {tag for tag, _ in parsed.tags} <= {"table", "thead", "tbody", "tr", "th", "td"}


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_a_code_span_holds_the_whole_value(payload: str) -> None:
    html = MarkdownIt("commonmark", {"html": True}).render(f"x {code(payload)} y")
    parsed = parse_html(html)
    assert [tag for tag, _ in parsed.tags] == ["p", "code"]


# ---------------------------------------------------------------- whole cards


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_hostile_strings_everywhere_stay_text_in_markdown_and_html(
    payload: str, baseline_shapes: tuple[list[list[int]], list[list[int]]]
) -> None:
    with pytest.warns(UserWarning, match="not a Hub model id"):
        markdown = build_card(
            hostile_results(payload), hyperparameters={payload: payload, "ok": [payload]}
        ).text
    rendered = markdown_as_html(markdown)
    assert live_markup(rendered, images=IMAGES) == []
    assert table_shapes(rendered) == baseline_shapes[0]
    comments = [c.strip() for c in parse_html(rendered).comments]
    marker = r"cardgen:(begin \S+|end \S+ sha256:[0-9a-f]{16}|model \S+)"
    assert all(re.fullmatch(marker, c) for c in comments), comments
    labels = [row[1] for row in parse_html(rendered).tables[0][1:]]
    shown = re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202e]", "", collapsed(payload))
    assert [re.sub(r"\\u[0-9a-f]{4}", "", label) for label in labels] == [shown, "ok"]

    page = card_to_html(markdown)
    assert live_markup(page.split("<main>", 1)[1], images=IMAGES) == []
    assert table_shapes(page) == baseline_shapes[1]
    assert "<!--" not in page.split("<main>", 1)[1]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_cli_writes_hostile_runs_as_safe_cards(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = "</td><img src=x onerror=alert(1)>|[x](javascript:alert(1))\n# h"
    run = save_run(hostile_results(payload), tmp_path / "run")
    output = tmp_path / "card" / f"README.{fmt}"
    code_, _, err = run_cli(capsys, "card", str(run), "--output", str(output), "--format", fmt)
    assert code_ == 0 and "not a Hub model id" in err, err
    text = output.read_text()
    html = markdown_as_html(text) if fmt == "md" else text.split("<main>", 1)[1]
    assert live_markup(html, images=IMAGES) == []
    assert (tmp_path / "card" / "probes" / "plot.png").is_file()


SECTION_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src='https://tracker.example/pixel.png'>",
    "<img src='//tracker.example/pixel.png'>",
    "<img src='/etc/passwd'>",
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](java\tscript:alert(1))",
    "![x](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='&#x6A;avascript:alert(1)'>x</a>",
    "<a href=' javascript:alert(1)'>x</a>",
    "<a href='java\u200bscript:alert(1)'>x</a>",
    "<a href='data:text/html,<script>alert(1)</script>'>x</a>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<table><tr><td onmouseover=alert(1)>x</td></tr></table>",
    "</main></body><script>alert(1)</script>",
    "<details ontoggle=alert(1) open>x</details>",
    "<object data='javascript:alert(1)'></object>",
    "<form action='javascript:alert(1)'><input type=submit></form>",
    "<base href='https://evil.example/'>",
    "<meta http-equiv='refresh' content='0;url=https://evil.example'>",
]


@pytest.mark.parametrize("payload", SECTION_PAYLOADS)
def test_raw_html_in_section_files_is_sanitized_in_the_html_export(
    payload: str, card_run: Path, tmp_path: Path
) -> None:
    page = render_card(
        card_run,
        output=tmp_path / "card.html",
        output_format="html",
        sections={"intended_uses": f"Text before.\n\n{payload}\n\nText after."},
    )
    body = page.split("<main>", 1)[1]
    assert live_markup(body, images=None) == []
    assert "Text before." in body and "Text after." in body
    assert page.count("<main>") == 1 and page.count("</main>") == 1


def test_the_model_id_in_code_examples_is_a_string_literal(tmp_path: Path) -> None:
    results = make_results(model_id='x", trust_remote_code=True)\nimport os  # ```')
    results.model.revision = "main"
    text = build_card(results, model_name='me/x"); import os; ("').text
    assert 'model="me/x\\"); import os; (\\"")' in text
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0


# ---------------------------------------------------------------- paths from results

BAD_NAMES = [
    "../outside.png",
    "../../outside.png",
    "sub/../../outside.png",
    "/etc/passwd.png",
    "/tmp/absolute.png",
    "a\x00b.png",
    "x" * 5000 + ".png",
    "//server/share.png",
]


def write_run(results, directory: Path) -> Path:  # type: ignore[no-untyped-def]
    """results.json plus the images whose names are harmless (nothing outside is created)."""
    directory.mkdir(parents=True, exist_ok=True)
    results.save(directory)
    from PIL import Image

    for name in ("confusion_matrix.png", "reliability.png"):
        Image.new("RGB", (2, 2)).save(directory / name)
    return directory


@pytest.mark.parametrize("name", ["results.json", "predictions.jsonl", "reliability.png"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_card_never_replaces_a_file_of_its_own_run(
    name: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results()
    results.files["predictions"] = "predictions.jsonl"
    run = write_run(results, tmp_path / "run")
    (run / "predictions.jsonl").write_text("{}\n")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    args = ["--output", str(run / name), "--format", fmt, "--overwrite"]
    code_, out, err = run_cli(capsys, "card", str(run), *args)
    assert code_ == 2 and err.count("error:") == 1, err  # was 0: results.json became a card
    assert f"is the run's own {name}, not a card" in err and str(run / "README.md") in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


TAMPERED_VALUES = {
    "accuracy 5": (lambda r: r["metrics"]["accuracy"].update(value=5), "is 5, outside its range"),
    "negative f1": (lambda r: r["per_class"][0].update(f1=-0.2), r"f1\[negative\]' in .* -0.2"),
    "recall 1.5": (lambda r: r["per_class"][1].update(recall=1.5), "is 1.5, outside its range"),
    "reversed CI": (
        lambda r: r["metrics"]["macro_f1"].update(ci_low=0.9, ci_high=0.2),
        r"'macro_f1' .* \[0.9, 0.2\], low above high",
    ),
    "reversed accuracy CI": (
        lambda r: r["metrics"]["accuracy"].update(ci_low=0.5, ci_high=0.4),
        r"'accuracy' .* \[0.5, 0.4\], low above high",
    ),
    "ece -1": (lambda r: r["metrics"]["ece"].update(value=-1), "is -1, outside its range"),
}


@pytest.mark.parametrize(("edit", "message"), TAMPERED_VALUES.values(), ids=list(TAMPERED_VALUES))
def test_tampered_values_are_refused_before_a_card_shows_them(
    edit, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = save_run(make_results(), tmp_path / "run")
    data = json.loads((run / "results.json").read_text())
    edit(data)
    (run / "results.json").write_text(json.dumps(data))
    out_dir = tmp_path / "card"
    code_, out, err = run_cli(capsys, "card", str(run), "--output", str(out_dir / "README.md"))
    assert code_ == 2 and err.count("error:") == 1, err  # was 0: the card showed the number
    assert re.search(message, err) and "re-run `cardgen evaluate`" in err, err
    assert not out_dir.exists()


@pytest.mark.parametrize("name", BAD_NAMES, ids=[f"n{i}" for i in range(len(BAD_NAMES))])
@pytest.mark.parametrize("where", ["files", "probe plot", "other files"])
def test_image_paths_that_leave_the_run_are_refused(
    name: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results()
    if where == "files":
        results.files["evil"] = name
    elif where == "other files":
        results.files["predictions"] = name.removesuffix(".png") + ".jsonl"
    else:
        results.probes = {"country": probe("term")}
        results.probes["country"].plot = name
    with pytest.raises(ResultsError, match="outside|not a usable file name|not a .png"):
        render_card(results)
    run = write_run(results, tmp_path / "run")
    (tmp_path / "outside.png").write_bytes(b"secret")
    card_dir = tmp_path / "deep" / "card"
    code_, out, err = run_cli(capsys, "card", str(run), "--output", str(card_dir / "README.md"))
    assert code_ == 2 and err.startswith("error:") and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert sorted(os.listdir(tmp_path)) == ["outside.png", "run"]


def test_an_image_reached_through_a_link_out_of_the_run_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.png").write_bytes(b"secret")
    results = make_results()
    results.files["evil"] = "link/x.png"
    run = write_run(results, tmp_path / "run")
    (run / "link").symlink_to(outside)
    with pytest.raises(ResultsError, match="leads outside .* through a link"):
        render_card(run, output=tmp_path / "card" / "README.md")


def test_images_are_not_copied_through_a_link_out_of_the_card_directory(tmp_path: Path) -> None:
    results = make_results(probes={"p": probe("term")})
    run = save_run(results, tmp_path / "run")
    card = tmp_path / "card"
    card.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (card / "probes").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CardError, match="leads outside .* through a link"):
        render_card(run, output=card / "README.md")
    assert os.listdir(tmp_path / "elsewhere") == [] and not (card / "README.md").exists()


def test_odd_but_inside_image_names_are_linked_encoded(tmp_path: Path) -> None:
    results = make_results()
    results.files = {"confusion_matrix": "a b(1)<x>.png", "reliability": "javascript:x.png"}
    run = save_run(results, tmp_path / "run")
    text = render_card(run, output=tmp_path / "card" / "README.md")
    assert "(a%20b%281%29%3Cx%3E.png)" in text and "(javascript%3Ax.png)" in text
    assert (tmp_path / "card" / "a b(1)<x>.png").is_file()


# ---------------------------------------------------------------- sections

BAD_SECTIONS = [
    ("<!-- cardgen:begin x -->\ntext\n<!-- cardgen:end x -->", "cardgen marker"),
    ("text\n<!-- cardgen:end intended_uses -->\nmore", "cardgen marker.*line 2"),
    ("<!-- cardgen:end summary -->", "cardgen marker"),
    ("<!--cardgen:begin a-->", "cardgen marker"),
    ("   <!-- CARDGEN:END a -->", "cardgen marker"),
    ("<!-- cardgen:model other/model -->", "cardgen marker"),
    ("```python\nprint('never closed')", r"code block \('```'\) on line 1"),
    ("text\n~~~\nnever closed", r"code block \('~~~'\) on line 2"),
    ("````\n```\n", r"code block \('````'\)"),
    ("<!-- hides the rest of the card", "HTML comment"),
    ("ok\n<details>\n<summary>more</summary>\nnever closed", "HTML <details> element on line 2"),
    ("<table><tr><td>cell", "HTML <table> element"),
    ("a NUL \x00 byte", "NUL"),
    ("x" * (2**20 + 1), "over cardgen's limit"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SECTIONS, ids=[m for _, m in BAD_SECTIONS])
def test_section_text_that_would_break_the_card_is_refused(
    text: str, message: str, card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CardError, match=message):
        render_card(card_run, sections={"intended_uses": text})
    notes = tmp_path / "notes.md"
    notes.write_text(text, encoding="utf-8")
    output = tmp_path / "README.md"
    code_, _, err = run_cli(
        capsys, "card", str(card_run), "--output", str(output), "--section", f"risks={notes}"
    )
    assert code_ == 2 and err.startswith("error:") and not output.exists(), err


@pytest.mark.parametrize(
    "text",
    [
        "```\ncode\n```",
        "~~~python\nx = 1\n~~~",
        "Use `cardgen:begin` markers with care.",
        "<!-- a note for editors -->",
        "```\n<!-- shown as code, not a comment\n```",
        "`<details>` in a code span, \\<div> escaped",
        "````\n```\n````",
    ],
)
def test_ordinary_section_markdown_is_kept(text: str, card_run: Path) -> None:
    assert text in render_card(card_run, sections={"intended_uses": text})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--section", "citation=notes.md"], "unknown section 'citation'.*intended_uses, "),
        (["--section", "risks"], "--section takes NAME=FILE"),
        (["--section", "=notes.md"], "--section takes NAME=FILE"),
        (["--section", "risks=notes.md", "--section", "risks=notes.md"], "given twice"),
        (["--section", "risks=missing.md"], "does not exist"),
        (["--section", "risks=."], "is a directory"),
        (["--section", "risks=latin1.md"], "is not utf-8 text"),
    ],
)
def test_bad_section_options_are_one_error_line(
    args: list[str],
    message: str,
    card_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("Fine notes.")
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    code_, _, err = run_cli(capsys, "card", str(card_run), "--output", "README.md", *args)
    assert code_ == 2 and err.startswith("error:") and re.search(message, err), err
    assert not (tmp_path / "README.md").exists()


# ---------------------------------------------------------------- refreshing another model's card


def test_refreshing_the_card_of_another_model_is_refused(tmp_path: Path) -> None:
    first = save_run(make_results(model_id="org/first"), tmp_path / "first")
    second = save_run(make_results(model_id="org/second"), tmp_path / "second")
    output = tmp_path / "README.md"
    render_card(first, output=output, license="mit", base_model="org/base")
    before = output.read_text()
    with pytest.raises(CardError, match="card of model 'org/first'.*'org/second'.*--overwrite"):
        render_card(second, output=output)
    assert output.read_text() == before
    with pytest.raises(CardError, match="card of model"):
        render_card(second, output=output, sections={"risks": "x"}, license="apache-2.0")
    render_card(second, output=output, overwrite=True)
    assert "org/base" not in output.read_text() and "license: mit" not in output.read_text()
    render_card(second, output=output)  # now the card of the second model: a refresh


def test_a_new_revision_of_the_same_model_refreshes(tmp_path: Path) -> None:
    output = tmp_path / "README.md"
    results = make_results(model_id="org/model")
    render_card(save_run(results, tmp_path / "a"), output=output, license="mit")
    results.model.revision = "fedcba9"
    render_card(save_run(results, tmp_path / "b"), output=output)
    assert "license: mit" in output.read_text() and "`fedcba9`" in output.read_text()


@pytest.mark.parametrize(
    "model_id",
    ["a --> <!-- cardgen:model b", "x\n<!-- cardgen:model y -->", "spaced name/x y", "../../up"],
)
def test_model_ids_that_imitate_the_tag_cannot_fool_the_check(
    model_id: str, tmp_path: Path
) -> None:
    output = tmp_path / "README.md"
    render_card(make_results(model_id=model_id), output=output)
    render_card(make_results(model_id=model_id, seed=1), output=output)  # same model: fine
    with pytest.raises(CardError, match="card of model"):
        render_card(make_results(model_id="b"), output=output)
    with pytest.raises(CardError, match="card of model"):
        render_card(make_results(model_id="y"), output=output)


def test_a_card_without_the_model_comment_still_refreshes(card_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "README.md"
    render_card(make_results(model_id="org/other"), output=output)
    text = re.sub(r"<!-- cardgen:model .* -->\n", "", output.read_text())
    text = re.sub(r" sha256:[0-9a-f]{16} -->", " -->", text)  # as an older cardgen wrote it
    output.write_text(text)
    render_card(card_run, output=output)
    assert "<!-- cardgen:model cardgen-test/tiny-sentiment -->" in output.read_text()


# ---------------------------------------------------------------- outputs


def test_html_never_replaces_a_file_cardgen_did_not_write(card_run: Path, tmp_path: Path) -> None:
    hand = tmp_path / "hand-written.md"
    hand.write_text("# Mine\n\nWritten by hand.\n")
    with pytest.raises(CardError, match="not an HTML card written by cardgen.*--overwrite"):
        render_card(card_run, output=hand, output_format="html")
    assert hand.read_text() == "# Mine\n\nWritten by hand.\n"
    markdown = tmp_path / "README.md"
    render_card(card_run, output=markdown)
    with pytest.raises(CardError, match="--overwrite"):
        render_card(card_run, output=markdown, output_format="html")
    page = tmp_path / "card.html"
    render_card(card_run, output=page, output_format="html")
    render_card(card_run, output=page, output_format="html")  # its own page: replaced
    with pytest.raises(CardError, match="no cardgen sections"):
        render_card(card_run, output=page)
    render_card(card_run, output=hand, output_format="html", overwrite=True)
    assert hand.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_output_problems_are_exit_code_2(
    fmt: str, card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    latin = tmp_path / "latin1.md"
    latin.write_bytes(b"caf\xe9")
    cases = [
        (directory, "is a directory"),
        (a_file / "README.md", "cannot write"),
        (latin, "not utf-8 text.*--overwrite"),
    ]
    for output, message in cases:
        with pytest.raises((OutputError, CardError), match=message):
            render_card(card_run, output=output, output_format=fmt)
        code_, _, err = run_cli(
            capsys, "card", str(card_run), "--output", str(output), "--format", fmt
        )
        assert code_ == 2 and err.startswith("error:") and "Traceback" not in err, err
    assert os.listdir(directory) == [] and a_file.read_text() == "x"


def test_an_existing_card_over_the_size_limit_is_refused(card_run: Path, tmp_path: Path) -> None:
    output = tmp_path / "README.md"
    with output.open("wb") as handle:
        handle.truncate(33 * 2**20)  # sparse: no time spent writing it
    with pytest.raises(CardError, match="over cardgen's limit"):
        render_card(card_run, output=output)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_directory_is_exit_code_2(
    card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code_, _, err = run_cli(capsys, "card", str(card_run), "--output", str(locked / "README.md"))
    assert code_ == 2 and err.startswith("error:")


# ---------------------------------------------------------------- front matter of an existing card

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
BAD_FRONT_MATTER = [
    (LAUGHS, "aliases"),
    ("a: " + "[" * 200 + "]" * 200 + "\n", "nests deeper"),
    ("1: x\n", "key 1 of type int"),
    ("? [a, b]\n: x\n", "unhashable key"),
    ("- a\n- b\n", "is a list"),
    ("just a sentence\n", "is a str"),
    ("a: [unclosed\n", "not valid YAML"),
    ("a: !!python/object:os.system x\n", "not valid YAML"),
    ("a: b: c\n", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("front", "message"), BAD_FRONT_MATTER, ids=[m for _, m in BAD_FRONT_MATTER]
)
def test_hostile_front_matter_of_an_existing_card_is_refused_briefly(
    front: str, message: str, card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "README.md"
    card = f"---\n{front}---\n<!-- cardgen:begin summary -->\nold\n<!-- cardgen:end summary -->\n"
    output.write_text(card)
    with pytest.raises(CardError, match=message) as caught:
        render_card(card_run, output=output)
    assert len(str(caught.value)) < 600 and "--overwrite" in str(caught.value)
    code_, _, err = run_cli(capsys, "card", str(card_run), "--output", str(output))
    assert code_ == 2 and len(err) < 800 and output.read_text() == card


# ---------------------------------------------------------------- user templates


def write_template(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.md.j2"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "---\n{{ card_data }}\n---\n"
BAD_TEMPLATES = [
    (HEAD + '{% include "nope.j2" %}', r"mine.md.j2, line 4: nope.j2 not found.*'nope.j2'"),
    (HEAD + '{% include ["a.j2", "b.j2"] %}', "not found.*'a.j2' or 'b.j2'"),
    (HEAD + '{% include "../../../etc/passwd" %}', "not found"),
    (HEAD + '{% include "/etc/passwd" %}', "not found"),
    (HEAD + '{% import "missing.j2" as m %}', "missing.j2 not found"),
    ('{% extends "base-missing.j2" %}', "base-missing.j2 not found"),
    ("---\n1: x\n{{ card_data }}\n---\n", "template .*mine.md.j2.*key 1 of type int"),
    ("---\n- a\n- b\n---\n", "template .*mine.md.j2.* is a list"),
    ("---\njust words\n---\n", "template .*mine.md.j2.* is a str"),
    ("---\n" + LAUGHS + "---\n", "template .*mine.md.j2.*aliases"),
    ("---\n~\n---\n", "metadata has model-index=None"),
    ("---\nmodel-index: 5\n---\n", "mine.md.j2.*metadata"),
    ("---\nmodel-index: [{results: 5}]\n---\n", "mine.md.j2.*metadata"),
    (HEAD + '{{ "x" * 100000000 }}', "over 1,000,000"),
    (HEAD + "{{ 10 ** 100000000 }}", "exponent"),
    (HEAD + "{% for i in range(10**9) %}{% endfor %}", "range"),
    (HEAD + "{{ ''.__class__.__mro__ }}", "unsafe|access to attribute"),
    (HEAD + "{{ cycler.__init__.__globals__ }}", "undefined|unsafe|access"),
    (HEAD + "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
]


@pytest.mark.parametrize(
    ("text", "message"), BAD_TEMPLATES, ids=[f"t{i}" for i in range(len(BAD_TEMPLATES))]
)
def test_bad_user_templates_are_card_errors(
    text: str, message: str, card_run: Path, tmp_path: Path
) -> None:
    template = write_template(tmp_path, text)
    with pytest.raises(CardError, match=message) as caught:
        render_card(card_run, template=template)
    assert len(str(caught.value)) < 1200


def test_template_files_that_cannot_be_templates(card_run: Path, tmp_path: Path) -> None:
    with pytest.raises(CardError, match="is a directory"):
        render_card(card_run, template=tmp_path)
    latin = tmp_path / "latin.j2"
    latin.write_bytes(b"---\n{{ card_data }}\n---\ncaf\xe9\n")
    with pytest.raises(CardError, match="UnicodeDecodeError"):
        render_card(card_run, template=latin)
    big = tmp_path / "big.j2"
    with big.open("wb") as handle:
        handle.truncate(2**20 + 1)
    with pytest.raises(CardError, match="over cardgen's limit"):
        render_card(card_run, template=big)


def test_user_templates_print_data_escaped(card_run: Path, tmp_path: Path) -> None:
    results = make_results(labels=["<script>x</script>", "a|b"])
    template = write_template(
        tmp_path, HEAD + "{% for label in results.labels %}{{ label }};{% endfor %}\n"
    )
    text = render_card(results, template=template)
    assert "\\<script>x\\</script>;a\\|b;" in text


# ---------------------------------------------------------------- training logs

STATE_ENTRY = {"epoch": 1.0, "step": 10, "loss": 0.5}


def state(*entries: object, **extra: object) -> str:
    return json.dumps({"log_history": list(entries), **extra})


BAD_HISTORIES = [
    ("trainer_state.json", state(), "non-empty list"),
    ("trainer_state.json", json.dumps({"log_history": {"a": 1}}), "non-empty list.*dict"),
    ("trainer_state.json", json.dumps({"log_history": "x"}), "non-empty list.*str"),
    ("trainer_state.json", state([1, 2]), r"log_history\[0\] is a list, not an object"),
    ("trainer_state.json", state(STATE_ENTRY, "x"), r"log_history\[1\] is a str"),
    (
        "trainer_state.json",
        state({**STATE_ENTRY, "epoch": "one"}),
        r"\['epoch'\] is 'one', not a number",
    ),
    ("trainer_state.json", state({**STATE_ENTRY, "epoch": None}), "'epoch'.*None, not a number"),
    ("trainer_state.json", state({**STATE_ENTRY, "epoch": True}), "'epoch'.*True, not a number"),
    ("trainer_state.json", state({**STATE_ENTRY, "step": "10"}), "'step'.*not a number"),
    ("trainer_state.json", state({**STATE_ENTRY, "loss": "0.5"}), "'loss'.*not a number"),
    (
        "trainer_state.json",
        state({**STATE_ENTRY, "loss": float("nan")}),
        "'loss'.*nan, not a finite",
    ),
    (
        "trainer_state.json",
        state({**STATE_ENTRY, "loss": float("inf")}),
        "'loss'.*inf, not a finite",
    ),
    ("trainer_state.json", state({"step": 1, "loss": 0.5}), "has no 'epoch'"),
    ("trainer_state.json", state({"epoch": 1, "eval_loss": 0.5}), "has no 'step'"),
    (
        "trainer_state.json",
        state({"epoch": 1, "step": 1, "eval_acc": "high"}),
        "'eval_acc'.*not a number",
    ),
    (
        "trainer_state.json",
        state({"epoch": 1, "step": 1, "eval_acc": [0.1]}),
        "'eval_acc'.*not a number",
    ),
    ("trainer_state.json", state({"epoch": 1, "step": 1, "eval_acc": {"a": 1}}), "not a number"),
    ("trainer_state.json", state({"train_runtime": 3.0}), "no training loss and no evaluation"),
    (
        "trainer_state.json",
        state(STATE_ENTRY, train_batch_size="16"),
        "'train_batch_size'.*not a number",
    ),
    ("trainer_state.json", state(STATE_ENTRY, num_train_epochs=float("nan")), "not a finite"),
    ("trainer_state.json", "[" * 10000 + "]" * 10000, "nests deeper"),
    ("trainer_state.json", "{not json", "is not valid JSON"),
    ("trainer_state.json", "", "is not valid JSON"),
    ("trainer_state.json", "[1, 2]", "neither a trainer_state.json"),
    ("trainer_state.json", "null", "neither a trainer_state.json"),
    ("history.json", json.dumps({"loss": []}), "lists are empty"),
    ("history.json", json.dumps({"loss": [1, 2], "val_loss": [1]}), "different lengths"),
    ("history.json", json.dumps({"loss": ["a"]}), r"'loss'\[0\] is 'a', not a number"),
    ("history.json", json.dumps({"loss": [float("nan")]}), "not a finite"),
    ("history.json", json.dumps({"loss": [[1]]}), "not a number"),
    ("history.json", json.dumps({"loss": [True]}), "not a number"),
    ("history.json", json.dumps({"": [1]}), "empty name"),
    ("history.json", json.dumps({"loss": 1}), "neither a trainer_state.json"),
    ("history.json", json.dumps({f"m{i}": [1] for i in range(101)}), "over cardgen's limit of 100"),
    ("history.json", json.dumps({"loss": [1] * 10001}), "10,001 rows"),
    ("history.csv", "loss,acc\n1,2\n", "'epoch' column"),
    ("history.csv", "", "'epoch' column"),
    ("history.csv", "epoch,loss\n", "no rows"),
    ("history.csv", "epoch,loss\n0,0.5,9\n", "line 2: 3 fields where the header has 2"),
    ("history.csv", "epoch,loss,acc\n0,0.5\n", "line 2: 2 fields where the header has 3"),
    ("history.csv", "epoch,loss\none,0.5\n", "epoch 'one' is not a whole number"),
    ("history.csv", "epoch,loss\n1.5,0.5\n", "epoch '1.5' is not a whole number"),
    ("history.csv", "epoch,loss\n-1,0.5\n", "epoch '-1' is not a whole number"),
    ("history.csv", "epoch,loss\n0,0.5\n0,0.4\n", "line 3: epoch 0 appears twice"),
    ("history.csv", "epoch,loss\n0,abc\n", "'loss' is 'abc', not a number"),
    ("history.csv", "epoch,loss\n0,nan\n", "not a finite"),
    ("history.csv", "epoch,loss\n0,-inf\n", "not a finite"),
    ("history.csv", "epoch,loss,loss\n0,1,2\n", "empty or repeated column"),
    ("history.csv", "epoch,,loss\n0,1,2\n", "empty or repeated column"),
    ("history.csv", "epoch\n0\n", "no metric columns"),
    ("history.csv", "epoch,loss\n0,0.5\x00\n", "not a number|NUL"),
]


@pytest.mark.parametrize(
    ("name", "content", "message"), BAD_HISTORIES, ids=[f"h{i}" for i in range(len(BAD_HISTORIES))]
)
def test_bad_training_histories_are_card_errors(
    name: str, content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CardError, match=message) as caught:
        load_training_history(path)
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize("name", ["trainer_state.json", "history.csv"])
def test_unreadable_training_histories(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CardError, match="not utf-8 text"):
        load_training_history(path)
    with pytest.raises(CardError, match="is a directory"):
        load_training_history(tmp_path)
    with path.open("wb") as handle:
        handle.truncate(65 * 2**20)
    with pytest.raises(CardError, match="over cardgen's limit"):
        load_training_history(path)


def test_keras_csv_with_a_bom_and_missing_values_is_read(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("\ufeffepoch,loss,val_loss\n1,0.5,NA\n0,0.9,\n", encoding="utf-8")
    history = load_training_history(path)
    assert history.columns == ["Epoch", "Training Loss", "Validation Loss"]
    assert history.rows == [
        {"Epoch": 1, "Training Loss": 0.9, "Validation Loss": None},
        {"Epoch": 2, "Training Loss": 0.5, "Validation Loss": None},
    ]


def test_metric_names_that_collide_with_fixed_columns_keep_their_own_name(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(state({"epoch": 1, "step": 1, "eval_epoch": 9, "eval_loss": 0.2}))
    history = load_training_history(path)
    assert history.columns == ["Training Loss", "Epoch", "Step", "Validation Loss", "eval_epoch"]
    assert history.rows[0]["Epoch"] == 1 and history.rows[0]["eval_epoch"] == 9


def test_hostile_training_log_keys_are_escaped_in_the_card(card_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [0.5], "val_<img src=x onerror=alert(1)>|x": [0.1]}))
    text = render_card(card_run, training_history=path)
    assert "Validation \\<img src=x onerror=alert(1)>\\|x" in text
    assert table_shapes(markdown_as_html(text))[-1] == [3, 3]


BAD_HYPERPARAMETERS = [
    ("[1, 2]", "must hold a JSON object.*found a list"),
    ('"lr"', "found a str"),
    ("3", "found a int"),
    ("null", "found a NoneType"),
    ('{"lr": NaN}', "'lr'.*not a finite"),
    ('{"lr": Infinity}', "not a finite"),
    ('{"opt": {"betas": [0.9, -Infinity]}}', "'opt'.*not a finite"),
    ('{"": 1}', "name ''; names must be non-empty strings"),
    ('{"  ": 1}', "non-empty strings"),
    ("{nope", "is not valid JSON"),
    ("[" * 100 + "]" * 100, "nests deeper"),
    (json.dumps({f"k{i}": i for i in range(1001)}), "1,001 hyperparameters"),
]


@pytest.mark.parametrize(
    ("content", "message"), BAD_HYPERPARAMETERS, ids=[m for _, m in BAD_HYPERPARAMETERS]
)
def test_bad_hyperparameter_files_are_card_errors(
    content: str, message: str, card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "params.json"
    path.write_text(content)
    with pytest.raises(CardError, match=message):
        load_hyperparameters(path)
    code_, _, err = run_cli(
        capsys,
        "card",
        str(card_run),
        "--output",
        str(tmp_path / "c.md"),
        "--hyperparameters",
        str(path),
    )
    assert code_ == 2 and err.startswith("error:") and "Traceback" not in err


def test_hyperparameter_files_that_cannot_be_read(tmp_path: Path, card_run: Path) -> None:
    path = tmp_path / "params.json"
    with path.open("wb") as handle:
        handle.truncate(2**20 + 1)
    with pytest.raises(CardError, match="over cardgen's limit"):
        load_hyperparameters(path)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(CardError, match="not utf-8 text"):
        load_hyperparameters(path)
    with pytest.raises(CardError, match="is a directory"):
        load_hyperparameters(tmp_path)
    with pytest.raises(CardError, match="names must be non-empty strings"):
        render_card(card_run, hyperparameters={1: "x"})  # type: ignore[dict-item]


def test_cli_training_history_errors_are_one_line(
    card_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(state({**STATE_ENTRY, "epoch": "one"}))
    code_, _, err = run_cli(
        capsys,
        "card",
        str(card_run),
        "--output",
        str(tmp_path / "c.md"),
        "--training-history",
        str(path),
    )
    assert code_ == 2 and err.startswith("error:") and "'one', not a number" in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- metadata options


@pytest.mark.parametrize("base", ["<img src=x>", "a/b/c", "../x", "x y", "javascript:alert(1)"])
def test_a_base_model_that_is_not_a_hub_id_is_refused(base: str, card_run: Path) -> None:
    with pytest.raises(UsageError, match="--base-model must be a Hub model id"):
        render_card(card_run, base_model=base)


# ---------------------------------------------------------------- terminal tables and plots


def test_terminal_tables_show_hostile_labels_as_text() -> None:
    from rich.console import Console

    from cardgen.display.tables import (
        confusion_table,
        metrics_table,
        per_class_table,
        probe_summary_table,
    )

    labels = ["[/bold]", "[link=javascript:alert(1)]x[/link]\x1b[31m\x07"]
    results = make_results(labels=labels, model_id="[red]model[/red]", probes={"p": probe("[b]")})
    console = Console(file=io.StringIO(), width=200, color_system=None)
    for table in (
        metrics_table(results),
        per_class_table(results),
        confusion_table(results),
        probe_summary_table(results.probes),
    ):
        console.print(table)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[/bold]" in out and "[red]model[/red]" in out and "\\x1b[31m\\x07" in out
    assert "\x1b" not in out and "\x07" not in out


@pytest.mark.parametrize("k", [60, 61, 1000])
def test_a_confusion_matrix_of_many_labels_is_drawn_without_their_names(
    k: int, tmp_path: Path
) -> None:
    """Thousands of tick labels took minutes to lay out (1,000 labels: 31 s of plots)."""
    from cardgen.display.plots import MAX_TICK_LABELS, confusion_matrix_figure, save_figure
    from cardgen.results.schema import ConfusionMatrix

    labels = [f"<b>{i}</b>" for i in range(k)]
    figure = confusion_matrix_figure(ConfusionMatrix(labels, np.eye(k, dtype=int).tolist()))
    for ax in figure.axes[:2]:  # the two matrices, not their colour bars
        names = [t.get_text() for t in ax.get_xticklabels()]
        assert names == (labels if k <= MAX_TICK_LABELS else [])
        assert (f"{k:,} labels in the order of the per-class table" in ax.get_xlabel()) == (
            k > MAX_TICK_LABELS
        )
    save_figure(figure, tmp_path / "cm.png")


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [(0.9, 0.95, 0.97), (0.5, 0.1, 0.3), (0.7, 0.7, 0.7), (1.0, 0.0, 1.0)],
    ids=["above", "below", "a point", "all"],
)
def test_intervals_that_leave_out_their_value_are_drawn_as_they_are(
    value: float, low: float, high: float, tmp_path: Path
) -> None:
    """A bootstrap percentile CI need not hold its point estimate (--bootstrap 1 always,
    skewed metrics sometimes); the plots crashed on it (exit 70)."""
    from cardgen.analysis.plots import slices_figure
    from cardgen.display.plots import save_figure
    from cardgen.display.plots_multilabel import label_f1_figure
    from cardgen.results.schema import ClassMetrics, LabelDetail, SliceResult, SliceValue

    ci = Metric(value, low, high)
    slices = [SliceResult("source", "column", 1, [SliceValue("web", 9, ci, ci)])]
    rows = [ClassMetrics("a", value, value, value, 9)]
    details = [LabelDetail("a", 0.5, 5, 1, 1, 3, f1_ci=(low, high))]
    for i, figure in enumerate([slices_figure(slices), label_f1_figure(rows, details)]):
        (bars,) = [c for c in figure.axes[0].collections if c.get_segments()]
        ((start, _), (end, _)) = bars.get_segments()[0]
        assert (start, end) == pytest.approx((low, high))
        save_figure(figure, tmp_path / f"{i}.png")


@pytest.mark.parametrize("char", ["\u200b", "\u200e", "\u061c", "\u2028", "\u2066", "\ufeff"])
def test_terminal_tables_show_invisible_characters_escaped(char: str) -> None:
    from rich.console import Console

    from cardgen.display.tables import per_class_table

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(per_class_table(make_results(labels=["z", f"z{char}"])))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert char not in out and f"z\\u{ord(char):04x}" in out  # not two rows that look alike


def test_plots_draw_dollar_signs_literally(tmp_path: Path) -> None:
    from cardgen.display.plots import confusion_matrix_figure, probe_figure, save_figure

    results = make_results(labels=["$\\foo$", "a$b", "_hidden"])
    save_figure(confusion_matrix_figure(results.confusion_matrix), tmp_path / "cm.png")
    save_figure(probe_figure(probe("$\\undefined{x}$")), tmp_path / "probe.png")
    assert (tmp_path / "cm.png").stat().st_size > 0 and (tmp_path / "probe.png").is_file()


PLOT_LABELS = {
    "30 characters": ["x" * 30, "y" * 30],
    "200 characters": ["L" * 200, "short", "M" * 199],
    "controls": ["\x1b]0;title\x07a", "b\u202ec", "zero\u200bwidth"],
    "markup": ["{{ 7*7 }}{% if 1 %}x{% endif %}", "<script>alert(1)</script>"],
}


@pytest.mark.parametrize("labels", list(PLOT_LABELS.values()), ids=list(PLOT_LABELS))
def test_plots_of_long_or_hostile_labels_draw_without_a_warning(
    labels: list[str], tmp_path: Path
) -> None:
    import warnings

    from cardgen.analysis.plots import slices_figure
    from cardgen.display.plots import confusion_matrix_figure, probe_figure, save_figure
    from cardgen.results.schema import SliceResult, SliceValue

    values = [SliceValue(label, 40, Metric(0.5, 0.3, 0.7), Metric(0.5)) for label in labels]
    figures = [
        confusion_matrix_figure(make_results(labels=labels).confusion_matrix),
        slices_figure([SliceResult("source", "column", 30, values)]),
        probe_figure(probe(labels[0])),
    ]
    drawn = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was: axes collapsed to nothing; raw ESC in a warning
        for i, figure in enumerate(figures):
            axes = figure.axes
            ticks = [t for ax in axes for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
            drawn += [t.get_text() for t in ticks]
            save_figure(figure, tmp_path / f"{i}.png")
    assert drawn and all(len(text) <= 60 for text in drawn), max(drawn, key=len)
    assert not any(re.search("[\x00-\x1f\u200b\u202e]", text) for text in drawn)


def test_cli_warnings_print_hostile_text_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results()
    results.model.base_model = "[/bold][link=x]\x1b[31m"
    run = save_run(results, tmp_path / "run")
    code_, out, err = run_cli(capsys, "card", str(run), "--output", str(tmp_path / "c.md"))
    assert code_ == 0 and "'[/bold][link=x]\\x1b[31m' is not a Hub model id" in err, err
    assert "\x1b" not in err
