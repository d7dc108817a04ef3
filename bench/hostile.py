"""Run cardgen on malformed and hostile inputs, one class at a time, and count how each ends.

A case is *handled* when it ends as the contract says: exit 2 with one short ``error:`` line
(or the stated exit code and check for the few inputs that are valid after all), never an
internal error (70), a traceback, exit 1 outside a failed gate, or markup that survives into a
card. Prints a table per class and every unhandled case. Uses the embedded demo model; no
network. ``python bench/hostile.py [-v]``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cardgen.cli import main as cli
from cardgen.demo import DEMO_MODEL

Check = Callable[[Path], bool]


@dataclass
class Case:
    kind: str
    name: str
    argv: Callable[[Path], list[str]]
    code: int = 2
    check: Check | None = None
    env: dict[str, str] | None = None


CASES: list[Case] = []


def case(kind: str, name: str, code: int = 2, check: Check | None = None, env=None):
    def register(argv: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
        CASES.append(Case(kind, name, argv, code, check, env))
        return argv

    return register


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


ROWS = [{"text": t, "label": lab} for t, lab in [("a great film", 1), ("awful", 0)] * 5]


def data(tmp: Path) -> Path:
    return write(tmp / "d.jsonl", "".join(json.dumps(r) + "\n" for r in ROWS))


def evaluate(
    tmp: Path, dataset: Path | str, *extra: str, model: str | Path = DEMO_MODEL
) -> list[str]:
    return [
        "evaluate",
        "--model",
        str(model),
        "--dataset",
        str(dataset),
        "--output-dir",
        str(tmp / "run"),
        "--bootstrap",
        "0",
        "--no-progress",
        *extra,
    ]


# --- options ----------------------------------------------------------------------------------
for flag, value in [
    ("--max-length", "0"),
    ("--max-length", "-1"),
    ("--seed", "-3"),
    ("--bootstrap", "-1"),
    ("--limit", "0"),
    ("--batch-size", "0"),
    ("--batch-size", "x"),
    ("--device", "gpu"),
    ("--dtype", "int8"),
    ("--label-order", "a,a"),
    ("--seed", str(2**64)),
    ("--limit", "abc"),
]:
    case("options", f"{flag} {value}")(lambda t, f=flag, v=value: evaluate(t, data(t), f, v))
case("options", "--max-length past the model's positions, a long text")(
    lambda t: evaluate(
        t,
        write(t / "long.jsonl", json.dumps({"text": "great " * 300, "label": "positive"}) + "\n"),
        "--max-length",
        "512",
    )
)
case("options", "--sample without --limit")(lambda t: evaluate(t, numbered(t), "--sample"))
case("options", "output dir is a file")(
    lambda t: [*evaluate(t, data(t)), "--output-dir", str(write(t / "f", "x"))]
)
case("options", "output dir holds other files")(
    lambda t: (write(t / "run" / "thesis.tex", "x"), evaluate(t, data(t)))[1]
)
case("options", "label map missing")(lambda t: evaluate(t, data(t), "--label-map", "nope.json"))
case("options", "label map is a list")(
    lambda t: evaluate(t, data(t), "--label-map", str(write(t / "m.json", "[1,2]")))
)
case("options", "label map deep")(
    lambda t: evaluate(t, data(t), "--label-map", str(write(t / "m.json", "[" * 50000)))
)
case("options", "index map on string labels")(
    lambda t: evaluate(
        t,
        write(t / "s.jsonl", '{"text":"a","label":"neg"}\n{"text":"b","label":"pos"}\n'),
        "--label-map",
        "index",
    )
)

# --- datasets ---------------------------------------------------------------------------------
DATASETS = {
    "csv with BOM": ("d.csv", "\ufefftext,label\ngood,positive\nbad,negative\n", 0),
    "csv duplicate columns": ("d.csv", "text,label,label\ngood,1,0\n", 2),
    "csv ragged row": ("d.csv", "text,label\ngood,1,extra\nbad\n", 2),
    "csv header only": ("d.csv", "text,label\n", 2),
    "csv empty": ("d.csv", "", 2),
    "csv not utf-8": ("d.csv", b"text,label\n\xff\xfe,1\n", 2),
    "csv NUL byte": ("d.csv", "text,label\ngo\x00od,1\n", 2),
    "json object of scalars": ("d.json", '{"text": "a", "label": 1}', 2),
    "json ragged columns": ("d.json", '{"text": ["a", "b"], "label": [1]}', 2),
    "json scalar": ("d.json", "3", 2),
    "json deep": ("d.json", "[" * 100000 + "]" * 100000, 2),
    "jsonl not object": ("d.jsonl", "[1, 2]\n", 2),
    "jsonl bad line": ("d.jsonl", '{"text": "a", "label": 1}\n{oops\n', 2),
    "superscript label": (
        "d.jsonl",
        '{"text": "a", "label": "\u00b2"}\n{"text": "b", "label": "1"}\n',
        2,
    ),
    "huge class id": (
        "d.jsonl",
        '{"text": "a", "label": 300000000}\n{"text": "b", "label": 0}\n',
        2,
    ),
    "negative class id": ("d.jsonl", '{"text": "a", "label": -1}\n{"text": "b", "label": 0}\n', 2),
    "NaN label": ("d.jsonl", '{"text": "a", "label": NaN}\n', 2),
    "bool labels": ("d.jsonl", '{"text": "a", "label": true}\n{"text": "b", "label": false}\n', 2),
    "mixed labels": ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": "pos"}\n', 2),
    "text is a number": ("d.jsonl", '{"text": 5, "label": 1}\n', 2),
    "no text column": ("d.jsonl", '{"body": "a", "label": 1}\n', 2),
    "parquet garbage": ("d.parquet", b"PAR1 not really", 2),
    "unknown extension": ("d.xlsx", "x", 2),
    "huge label string": ("d.jsonl", json.dumps({"text": "a", "label": "x" * 100000}) + "\n", 2),
}
for name, (file, content, code) in DATASETS.items():
    case("datasets", name, code)(lambda t, f=file, c=content: evaluate(t, write(t / f, c)))
case("datasets", "save_to_disk with empty state.json")(
    lambda t: (
        write(t / "ds" / "state.json", ""),
        write(t / "ds" / "dataset_info.json", "{}"),
        evaluate(t, t / "ds"),
    )[2]
)
case("datasets", "directory that is no dataset")(
    lambda t: (write(t / "ds" / "x.txt", "x"), evaluate(t, t / "ds"))[1]
)
case("datasets", "missing file")(lambda t: evaluate(t, t / "nope.csv"))


# --- models -----------------------------------------------------------------------------------
def model_copy(tmp: Path, drop: tuple[str, ...] = (), edit: dict[str, str] | None = None) -> Path:
    target = tmp / "model"
    shutil.copytree(DEMO_MODEL, target)
    for name in drop:
        (target / name).unlink()
    for name, text in (edit or {}).items():
        write(target / name, text)
    return target


case("models", "mistyped local path")(lambda t: evaluate(t, data(t), model="./my-modle"))
case("models", "no tokenizer files")(
    lambda t: evaluate(t, data(t), model=model_copy(t, ("tokenizer.json", "tokenizer_config.json")))
)
case("models", "config.json invalid")(
    lambda t: evaluate(t, data(t), model=model_copy(t, edit={"config.json": "{oops"}))
)
case("models", "config.json a list")(
    lambda t: evaluate(t, data(t), model=model_copy(t, edit={"config.json": "[]"}))
)
case("models", "no weights")(
    lambda t: evaluate(t, data(t), model=model_copy(t, ("model.safetensors",)))
)
case("models", "skops garbage")(lambda t: evaluate(t, data(t), model=write(t / "m.skops", b"junk")))
case("models", "pickle without flag")(
    lambda t: evaluate(t, data(t), model=write(t / "m.pkl", b"junk"))
)
case("models", "remote code model_type")(
    lambda t: evaluate(
        t,
        data(t),
        model=model_copy(
            t,
            edit={
                "config.json": json.dumps(
                    {
                        "model_type": "evil",
                        "auto_map": {"AutoModelForSequenceClassification": "evil.M"},
                    }
                )
            },
        ),
    )
)


# --- results files read by card and gate ------------------------------------------------------
def demo_run(tmp: Path) -> Path:
    run = tmp / "base"
    if not run.exists():
        cli(["evaluate", "--output-dir", str(run), "--bootstrap", "0", "--no-progress"])
    copy = tmp / "r"
    shutil.copytree(run, copy)
    return copy


def edited_run(tmp: Path, edit: Callable[[dict], None]) -> Path:
    run = demo_run(tmp)
    results = json.loads((run / "results.json").read_text())
    edit(results)
    (run / "results.json").write_text(json.dumps(results))
    return run


RESULTS = {
    "metrics is a list": lambda r: r.update(metrics=[1]),
    "null metric": lambda r: r["metrics"].update(accuracy=None),
    "files ../outside.png": lambda r: r["files"].update(confusion_matrix="../outside.png"),
    "files absolute": lambda r: r["files"].update(confusion_matrix="/etc/passwd"),
    "files with NUL": lambda r: r["files"].update(confusion_matrix="a\x00.png"),
    "model is a number": lambda r: r.update(model=3),
    "labels is a dict": lambda r: r.update(labels={"a": 1}),
}
for name, edit in RESULTS.items():
    case("results", f"card: {name}")(
        lambda t, e=edit: ["card", str(edited_run(t, e)), "--output", str(t / "c" / "README.md")]
    )
    case("results", f"gate: {name}")(
        lambda t, e=edit: ["gate", str(edited_run(t, e)), "--min", "accuracy=0.5"]
    )
case("results", "card: deep nesting")(
    lambda t: ["card", str(write(demo_run(t) / "results.json", "[" * 100000))]
)
case("results", "gate: different label sets")(
    lambda t: [
        "gate",
        str(demo_run(t)),
        "--baseline",
        str(edited_run(t / "b", lambda r: r.update(labels=["x", "y", "z", "w"]))),
        "--max-drop",
        "accuracy=0.01",
    ]
)
case("results", "gate: zero rows")(
    lambda t: [
        "gate",
        str(
            edited_run(
                t,
                lambda r: (
                    r["dataset"].update(num_rows=0),
                    r["confusion_matrix"].update(
                        counts=[[0] * len(r["labels"]) for _ in r["labels"]]
                    ),
                ),
            )
        ),
        "--min",
        "accuracy=0.5",
    ]
)


def as_multi_label(r: dict) -> None:
    """A run's results as those of a multi-label run on the same labels and data."""
    n, counts = r["dataset"]["num_rows"], r["confusion_matrix"]["counts"]
    details = []
    for j, label in enumerate(r["labels"]):
        tp = counts[j][j]
        fn, fp = sum(counts[j]) - tp, sum(row[j] for row in counts) - tp
        cells = {"tp": tp, "fp": fp, "fn": fn, "tn": n - tp - fp - fn}
        details.append({"label": label, "threshold": 0.5, **cells})
    r.update(task="multi_label", multilabel={"threshold_source": "default", "labels": details})
    r["confusion_matrix"] = {"labels": [], "counts": []}


# Runs that measure different things: refused by gate and compare alike, whatever the flags.
case("quietly wrong", "gate: multi-label run against a single-label baseline")(
    lambda t: [
        "gate",
        str(edited_run(t, as_multi_label)),
        "--baseline",
        str(demo_run(t / "b")),
        "--max-drop",
        "micro_f1=0.01",
        "--allow-different-data",
    ]
)
case("quietly wrong", "compare: sentence pairs against single texts")(
    lambda t: [
        "compare",
        str(demo_run(t)),
        str(edited_run(t / "b", lambda r: r["dataset"].update(text_pair={"column": "h"}))),
    ]
)


# Numbers that must not be quietly wrong (exit 0, then a check on results.json).
def skewed_rows(tmp: Path) -> Path:
    """A slice ``x`` with 2 positive rows, both right, and a negative row the model predicts as
    labelled although it reaches the low positive threshold (classes differ in confidence)."""
    rows = [("awful, a dull and boring film", "negative", "x")] * 40
    rows += [("the director's work", "negative", "y"), ("a film", "positive", "y")]
    rows += [("a film", "positive", "y")] * 9 + [("boring but charming", "positive", "x")] * 2
    lines = [json.dumps({"text": a, "label": b, "src": c}) + "\n" for a, b, c in rows]
    return write(tmp / "d.jsonl", "".join(lines))


def recall_ci_of_all_right_class(tmp: Path) -> bool:
    """Slice x's positive rows are all right: recall 1 with CI [1, 1], not [0, 1]."""
    results = json.loads((tmp / "run" / "results.json").read_text())
    (x,) = [v for v in results["slices"]["src"]["values"] if v["value"] == "x"]
    recall = x["recall"]["positive"]
    return (recall["value"], recall["ci_low"], recall["ci_high"]) == (1.0, 1.0, 1.0)


def no_candidate_predicted_as_labelled(tmp: Path) -> bool:
    results = json.loads((tmp / "run" / "results.json").read_text())
    rows = [json.loads(line) for line in (tmp / "run" / "predictions.jsonl").open()]
    wrong = {row["index"] for row in rows if row["predicted"] != row["gold"]}
    examples = results["failures"]["label_issues"]["examples"]
    return all(e["index"] in wrong for e in examples) and len(examples) < 10


case("quietly wrong", "a class all right in a small slice", 0, recall_ci_of_all_right_class)(
    lambda t: [*evaluate(t, skewed_rows(t), "--slice-by", "src"), "--bootstrap", "500"]
)
case("quietly wrong", "classes far apart in confidence", 0, no_candidate_predicted_as_labelled)(
    lambda t: evaluate(t, skewed_rows(t))
)


# --- cards, templates, sections, training logs ------------------------------------------------
def xss_run(tmp: Path) -> Path:
    def edit(r: dict) -> None:
        evil = "<img src=x onerror=alert(1)>"
        r["labels"][0] = evil
        r["confusion_matrix"]["labels"][0] = evil
        r["per_class"][0]["label"] = evil
        r["model"]["id"] = "<script>alert(1)</script>"

    return edited_run(tmp, edit)


def no_live_markup(path: Path) -> bool:
    text = path.read_text()
    return "<script" not in text.lower() and "onerror" not in text.lower().replace(
        "onerror=alert(1)&gt;", ""
    )


case("cards", "xss labels in html", 0, lambda t: no_live_markup(t / "c.html"))(
    lambda t: ["card", str(xss_run(t)), "--format", "html", "--output", str(t / "c.html")]
)
case("cards", "alias bomb front matter")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(
            write(
                t / "README.md",
                "---\n"
                + "".join(
                    f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9 if i else ["x"] * 9) + "]\n"
                    for i in range(12)
                )
                + "---\nbody\n",
            )
        ),
    ]
)
case("cards", "section with a marker")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(t / "README.md"),
        "--section",
        f"intended_uses={write(t / 's.md', '<!-- cardgen:end evaluation -->')}",
    ]
)
case("cards", "html over a hand-written md")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--format",
        "html",
        "--output",
        str(write(t / "hand.md", "# mine\n")),
    ]
)
case("cards", "--output the run's own results.json, --overwrite")(
    lambda t: (lambda r: ["card", str(r), "--output", str(r / "results.json"), "--overwrite"])(
        demo_run(t)
    )
)
case("cards", "output is a directory")(
    lambda t: ["card", str(demo_run(t)), "--output", str((t / "dir").mkdir() or t / "dir")]
)
case("cards", "template missing include")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(t / "o.md"),
        "--template",
        str(write(t / "t.j2", '---\n{{ card_data }}\n---\n{% include "nope.j2" %}')),
    ]
)
case("cards", "template front matter int key")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(t / "o.md"),
        "--template",
        str(write(t / "t.j2", "---\n1: 2\n---\nbody\n")),
    ]
)
case("cards", "training history non-numeric epoch")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(t / "o.md"),
        "--training-history",
        str(
            write(
                t / "trainer_state.json", json.dumps({"log_history": [{"epoch": "one", "loss": 1}]})
            )
        ),
    ]
)
case("cards", "hyperparameters a list")(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--output",
        str(t / "o.md"),
        "--hyperparameters",
        str(write(t / "h.json", "[1]")),
    ]
)


def other_model_card(tmp: Path) -> list[str]:
    first = demo_run(tmp)
    cli(["card", str(first), "--output", str(tmp / "README.md"), "--license", "mit"])
    second = edited_run(tmp / "x", lambda r: r["model"].update(id="someone/else"))
    return ["card", str(second), "--output", str(tmp / "README.md")]


case("cards", "refresh from another model")(other_model_card)


# --- what a person wrote: edits, front matter, markers in code, merged metadata, misfits ------
def edited_card(tmp: Path) -> list[str]:
    run = demo_run(tmp)
    cli(["card", str(run), "--output", str(tmp / "README.md")])
    card = tmp / "README.md"
    text = card.read_text()
    title = next(line for line in text.splitlines() if line.startswith("# "))
    card.write_text(text.replace(title, f"{title}\n\nWritten on the Hub under the title.", 1))
    return ["card", str(run), "--output", str(card)]


def merged(tmp: Path, card: str | bytes) -> list[str]:
    return ["card", str(demo_run(tmp)), "--output", str(write(tmp / "README.md", card)), "--merge"]


def kept(tmp: Path, *needles: bytes) -> bool:
    text = (tmp / "README.md").read_bytes()
    return all(needle in text for needle in needles)


DOCUMENTED = "# m\n\n```\n<!-- cardgen:begin evaluation -->\n<!-- cardgen:end evaluation -->\n```\n"
case("edits", "hand edit inside a section", check=lambda t: kept(t, b"on the Hub under"))(
    edited_card
)
case("edits", "repeated front-matter key")(
    lambda t: merged(t, "---\nlicense: mit\nlicense: apache-2.0\n---\n# m\n")
)
case("edits", "crlf card merged", 0, lambda t: kept(t, b"tags: [a, b, ", b"\r\nmine\r\n"))(
    lambda t: merged(t, b"---\r\ntags: [a, b]\r\n---\r\n# m\r\n\r\nmine\r\n")
)
case("edits", "markers in a code block", 0, lambda t: kept(t, DOCUMENTED[4:].encode()))(
    lambda t: merged(t, DOCUMENTED)
)
case("edits", "model-index metrics a mapping")(
    lambda t: merged(
        t,
        "---\nmodel-index:\n- name: m\n  results:\n  - task: {type: text-classification}\n"
        "    dataset: {name: x, type: x}\n    metrics: {accuracy: 0.9}\n---\n# m\n",
    )
)
case("edits", "20-label card, 2-label run", 0, lambda t: kept(t, b"lists 20 labels"))(
    lambda t: merged(
        t,
        "# m\n\n| id | label |\n|---|---|\n" + "".join(f"| {i} | t{i} |\n" for i in range(20)),
    )
)

# --- gate rules and config --------------------------------------------------------------------
for rule in (
    ["--max-drop", "accuracy=1"],
    ["--min", "accuracy=90"],
    ["--max", "ece=-1"],
    ["--min", "accuracy=nan"],
    ["--max-drop", "accuracy=-0.1"],
):
    case("gate", " ".join(rule))(
        lambda t, r=rule: ["gate", str(demo_run(t)), "--baseline", str(demo_run(t / "b")), *r]
    )
case("gate", "--junit names a directory")(
    lambda t: ["gate", str(demo_run(t)), "--min", "accuracy=0.5", "--junit", str(t)]
)
case("gate", "non-UTF-8 step summary", 0, env={"GITHUB_STEP_SUMMARY": "SUMMARY"})(
    lambda t: (
        write(t / "SUMMARY", b"\xff\xfe old"),
        ["gate", str(demo_run(t)), "--min", "accuracy=0.5"],
    )[1]
)
case("gate", "pyproject tool is a string")(
    lambda t: [
        "gate",
        str(demo_run(t)),
        "--config",
        str(write(t / "pyproject.toml", 'tool = "x"\n')),
    ]
)
case("gate", "different data without flag")(
    lambda t: [
        "gate",
        str(demo_run(t)),
        "--baseline",
        str(edited_run(t / "b", lambda r: r["dataset"].update(fingerprint="sha256:00"))),
        "--max-drop",
        "accuracy=0.01",
    ]
)

# --- probe files --------------------------------------------------------------------------------
PROBES = {
    "templates is an int": ("p.toml", "[probes.x]\ntemplates = 3\n"),
    "template without placeholder": (
        "p.toml",
        '[probes.x]\ntemplates = ["no slot"]\n[probes.x.lexicons]\nA = ["a"]\n',
    ),
    "format attack": (
        "p.toml",
        '[probes.x]\ntemplates = ["{A.__class__}"]\n[probes.x.lexicons]\nA = ["a"]\n',
    ),
    "yaml alias bomb": (
        "p.yaml",
        "a: &a [x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"b{i}: &b{i} [" + ",".join(["*a" if i == 0 else f"*b{i - 1}"] * 8) + "]\n"
            for i in range(10)
        ),
    ),
    "lexicon not a list": (
        "p.toml",
        '[probes.x]\ntemplates = ["{A}"]\n[probes.x.lexicons]\nA = 3\n',
    ),
}
for name, (file, content) in PROBES.items():
    case("probes", name)(
        lambda t, f=file, c=content: [
            "probe",
            "--probe",
            str(write(t / f, c)),
            "--output-dir",
            str(t / "p"),
            "--no-progress",
        ]
    )


# --- push (dry run, no network) -----------------------------------------------------------------
def pushed_card(tmp: Path, image: str) -> str:
    run = demo_run(tmp)
    cli(["card", str(run), "--output", str(tmp / "card" / "README.md")])
    card = tmp / "card" / "README.md"
    card.write_text(card.read_text() + f"\n![x]({image})\n")
    return str(card)


case("push", "repo id ../x")(
    lambda t: ["push", pushed_card(t, "a.png"), "--repo-id", "../x", "--dry-run"]
)
case("push", "image with NUL")(
    lambda t: ["push", pushed_card(t, "a\x00.png"), "--repo-id", "me/m", "--dry-run"]
)
case("push", "5,000-char image")(
    lambda t: ["push", pushed_card(t, "a" * 5000 + ".png"), "--repo-id", "me/m", "--dry-run"]
)
case("push", "image outside")(
    lambda t: ["push", pushed_card(t, "../../etc/passwd"), "--repo-id", "me/m", "--dry-run"]
)


def token_card(tmp: Path) -> str:
    """A card that holds a string shaped like a Hub token (it links a remote image only)."""
    card = Path(pushed_card(tmp, "https://example.com/a.png"))
    card.write_text(card.read_text() + "\nHF_TOKEN=hf_" + "Bench0Token" * 3 + "\n")
    return str(card)


case("push", "Hub token in the card")(
    lambda t: ["push", token_card(t), "--repo-id", "me/m", "--dry-run"]
)


# --- links and special files in place of cards, images and run files --------------------------
SECRET = "bench secret: never in a card, never in a message\n"


def outside(tmp: Path) -> Path:
    """A valid card outside every directory a case names, with a secret line."""
    card = tmp / "outside" / "card.md"
    if not card.exists():
        cli(["card", str(demo_run(tmp / "o")), "--output", str(card)])
        card.write_text(card.read_text() + SECRET)
    return card


def link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def untouched(tmp: Path) -> bool:
    card = tmp / "outside" / "card.md"
    return (tmp / "p" / "README.md").is_symlink() and card.read_text().endswith(SECRET)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def fifo_run(tmp: Path) -> Path:
    run = demo_run(tmp)
    (run / "predictions.jsonl").unlink()
    fifo(run / "predictions.jsonl")
    return run


def linked_run_file(tmp: Path, name: str) -> Path:
    run = demo_run(tmp)
    other = demo_run(tmp / "o")
    (run / name).unlink()
    link(run / name, other / name)
    return run


case("links", "--merge into a card that links out", check=untouched)(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--merge",
        "--output",
        str(link(t / "p" / "README.md", outside(t))),
    ]
)
case("links", "--overwrite a card that links out", check=untouched)(
    lambda t: [
        "card",
        str(demo_run(t)),
        "--overwrite",
        "--output",
        str(link(t / "p" / "README.md", outside(t))),
    ]
)
case("links", "push a card that links out")(
    lambda t: [
        "push",
        str(link(t / "p" / "README.md", outside(t))),
        "--repo-id",
        "me/m",
        "--dry-run",
    ]
)
case("links", "push an image that links out")(
    lambda t: (
        link(t / "card" / "leak.png", outside(t)),
        ["push", pushed_card(t, "leak.png"), "--repo-id", "me/m", "--dry-run"],
    )[1]
)
case("links", "push an image under a directory link out")(
    lambda t: (
        link(t / "card" / "img", outside(t).parent),
        ["push", pushed_card(t, "img/card.md"), "--repo-id", "me/m", "--dry-run"],
    )[1]
)
case("links", "results.json links out")(
    lambda t: ["gate", str(linked_run_file(t, "results.json")), "--min", "accuracy=0.1"]
)
case("links", "predictions.jsonl links out")(
    lambda t: [
        "gate",
        str(linked_run_file(t, "predictions.jsonl")),
        "--baseline",
        str(demo_run(t / "b")),
        "--max-drop",
        "accuracy=0.5",
    ]
)
if hasattr(os, "mkfifo"):
    case("links", "FIFO in place of the card")(
        lambda t: ["card", str(demo_run(t)), "--overwrite", "--output", str(fifo(t / "README.md"))]
    )
    case("links", "FIFO in place of predictions.jsonl")(
        lambda t: [
            "gate",
            str(fifo_run(t)),
            "--baseline",
            str(demo_run(t / "b")),
            "--max-drop",
            "accuracy=0.5",
        ]
    )


# --- guesses that were quietly wrong: each now stops (exit 2) or holds up on a check ------------
SENTIMENT = ("negative", "positive")
NUMBERED = [{"text": f"{('awful', 'a great film')[i % 2]} no. {i}", "i": i} for i in range(40)]


def numbered(tmp: Path, label=lambda i: SENTIMENT[i % 2], **extra) -> Path:
    """NUMBERED rows (distinct texts) with ``label(i)`` and, per row, ``extra`` columns of
    ``value(i)``."""
    rows = [
        {"text": r["text"], "label": label(r["i"]), **{k: f(r["i"]) for k, f in extra.items()}}
        for r in NUMBERED
    ]
    return write(tmp / "n.jsonl", "".join(json.dumps(row) + "\n" for row in rows))


def multi_label_demo(tmp: Path) -> Path:
    """The demo model (two labels) saying it is multi-label."""
    config = json.loads((DEMO_MODEL / "config.json").read_text())
    config["problem_type"] = "multi_label_classification"
    return model_copy(tmp, edit={"config.json": json.dumps(config)})


def predictions_name_source_rows(tmp: Path) -> bool:
    lines = [json.loads(line) for line in (tmp / "run" / "predictions.jsonl").open()]
    return [x["index"] for x in lines] != list(range(len(lines))) and all(
        x["text"] == NUMBERED[x["index"]]["text"] for x in lines
    )


def null_slice_apart(tmp: Path) -> bool:
    results = json.loads((tmp / "run" / "results.json").read_text())
    values = {v["value"]: v["rows"] for v in results["slices"]["src"]["values"]}
    return values == {"(missing)": 20, "((missing))": 20}


case("quietly wrong", "one-hot rows of a two-label model")(
    lambda t: evaluate(
        t,
        numbered(t, label=lambda i: [1 - i % 2, i % 2]),
        "--label-map",
        "index",
        model=multi_label_demo(t),
    )
)
case("quietly wrong", "pair columns found by name for a single-text model")(
    lambda t: evaluate(t, numbered(t, question=lambda i: "why?", sentence=lambda i: f"s {i}"))
)
case("quietly wrong", "null and '(missing)' slice values", 0, null_slice_apart)(
    lambda t: evaluate(
        t, numbered(t, src=lambda i: (None, "(missing)")[i % 2]), "--slice-by", "src"
    )
)
case("quietly wrong", "--bootstrap 1: slice CIs without their value", 0)(
    lambda t: evaluate(
        t, numbered(t, src=lambda i: "ab"[i % 3 == 0]), "--bootstrap", "1", "--slice-by", "src"
    )
)
case("quietly wrong", "--limit --sample prediction index", 0, predictions_name_source_rows)(
    lambda t: evaluate(t, numbered(t), "--limit", "5", "--sample")
)


def run_case(item: Case, root: Path) -> tuple[bool, str]:
    tmp = Path(tempfile.mkdtemp(dir=root))
    cwd = os.getcwd()
    os.chdir(tmp)
    saved = {k: os.environ.get(k) for k in (item.env or {})}
    os.environ.update({k: str(tmp / v) for k, v in (item.env or {}).items()})
    err, out = io.StringIO(), io.StringIO()
    try:
        argv = item.argv(tmp)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = cli(argv)
    except BaseException as exc:  # noqa: BLE001 - a crash while setting up is a finding too
        return False, f"raised {type(exc).__name__}: {exc}"[:300]
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    message = err.getvalue().strip()
    lines = [line for line in message.splitlines() if line.startswith(("error:", "internal error"))]
    ok = code == item.code
    if item.code == 2:
        ok = ok and len(lines) == 1 and len(lines[0]) < 2000
    if ok and item.check is not None:
        ok = item.check(tmp)
    return ok, f"exit {code}: {(lines or [message[-300:]])[0][:300]}"


def main() -> None:
    verbose = "-v" in sys.argv
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures = []
    with tempfile.TemporaryDirectory() as root:
        os.environ["CARDGEN_CRASH_DIR"] = str(Path(root) / "crashes")
        for item in CASES:
            ok, what = run_case(item, Path(root))
            totals[item.kind][0] += 1
            totals[item.kind][1] += ok
            if not ok:
                failures.append(f"{item.kind}: {item.name}: {what}")
            if verbose:
                print(f"{'ok ' if ok else 'BAD'} {item.kind}: {item.name}: {what}")
    print("| class | cases | handled |\n|---|---|---|")
    for kind, (tried, handled) in totals.items():
        print(f"| {kind} | {tried} | {handled} |")
    print(f"| all | {sum(t for t, _ in totals.values())} | {sum(h for _, h in totals.values())} |")
    for line in failures:
        print("not handled:", line)


if __name__ == "__main__":
    main()
