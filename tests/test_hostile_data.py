"""Hostile datasets: every malformed file, directory, name or label is a short DataError."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from cardgen.data.load import MAX_LABEL_CHARS, MAX_LABELS, load_data
from cardgen.errors import DataError

MAX_MESSAGE = 1000
ROWS = b"text,label\na,pos\nb,neg\n"


def refused(dataset: Path | str, match: str, **kwargs: Any) -> str:
    """Load ``dataset``, expecting a one-line DataError of bounded length matching ``match``."""
    with pytest.raises(DataError, match=match) as caught:
        load_data(dataset, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and len(message) < MAX_MESSAGE, message
    return message


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def jsonl(*rows: Any) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# --- CSV / TSV ------------------------------------------------------------------------------

HOSTILE_CSV = [
    ("dup.csv", b"text,label,label\na,pos,neg\n", r"two columns named 'label'"),
    ("dup_text.csv", b"text,text,label\na,b,pos\n", r"two columns named 'text'"),
    ("more.csv", b"text,label\na,pos\nb,neg,extra\n", r"line 3 has 3 fields but the header has 2"),
    ("fewer.csv", b"text,label\na,pos\nb\n", r"line 3 has 1 field but the header has 2"),
    ("ragged_late.csv", ROWS * 1 + b"c,pos,x,y\n", r"line 4 has 4 fields"),
    ("blank_head.csv", b"\ntext,label\na,pos\n", r"line 1 is empty; the first line must name"),
    ("empty_name.csv", b"text,,label\na,b,pos\n", r"column 2 of the header has the name ''"),
    ("trailing.csv", b"text,label,\na,pos,\n", r"column 3 of the header has the name ''"),
    ("blank_name.csv", b"text, ,label\na,b,pos\n", r"column 2 of the header has the name ' '"),
    ("commas.csv", b",,\n,,\n", r"column 1 of the header has the name ''"),
    ("nul.csv", b"text,label\na\x00b,pos\n", r"NUL byte on line 2"),
    ("nul_head.csv", b"te\x00xt,label\na,pos\n", r"NUL byte on line 1"),
    ("huge.csv", b"text,label\n" + b"x" * 200_000 + b",pos\n", r"line 2: field larger than"),
    ("latin1.csv", b"text,label\ncaf\xe9,pos\n", r"not UTF-8 text: byte 0xe9 on line 2"),
    ("cp1252.csv", b"text,label\na,pos\n\x93q\x94,neg\n", r"byte 0x93 on line 3"),
    ("utf16.csv", "text,label\na,pos\n".encode("utf-16"), r"byte 0xff on line 1 .*UTF-16"),
    ("header_only.csv", b"text,label\n", r"has no rows"),
    ("header_only_bom.csv", b"\xef\xbb\xbftext,label\r\n", r"has no rows"),
    ("empty.csv", b"", r"has no rows"),
    ("blank_lines.csv", b"text,label\n\n\n", r"has no rows"),
    ("unterminated.csv", b'text,label\n"abc,pos\nd,neg\n', r"unexpected end of data"),
    ("junk_after_quote.csv", b'text,label\n"ab"c,pos\n', r"line 2: ',' expected after"),
    ("bare_cr.csv", b"text,label\na\rb,pos\n", r"line 2 has 1 field"),
    ("zip.csv", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", r"not UTF-8 text|NUL byte"),
    ("bad.tsv", b"text\tlabel\na\tpos\tx\n", r"line 2 has 3 fields"),
    ("commas.tsv", b"text,label\na,pos\n", r"columns are: text,label; is the separator right"),
    ("tabs.csv", b"text\tlabel\na\tpos\n", r"is the separator right"),
    ("spaces.csv", b"text, label\na,pos\n", r"column 'label' not found.*' label' has spaces"),
]


@pytest.mark.parametrize(("name", "content", "match"), HOSTILE_CSV, ids=[c[0] for c in HOSTILE_CSV])
def test_hostile_delimited_files(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    refused(write(tmp_path, name, content), match)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.csv", b"\xef\xbb\xbftext,label\na,pos\nb,neg\n"),
        ("bom.tsv", b"\xef\xbb\xbftext\tlabel\na\tpos\nb\tneg\n"),
        ("crlf.csv", b"text,label\r\na,pos\r\nb,neg\r\n"),
        ("blank_lines.csv", b"text,label\n\na,pos\n\nb,neg\n\n"),
        ("no_final_newline.csv", b"text,label\na,pos\nb,neg"),
        ("quoted.csv", b'text,label\n"a",pos\n"b","neg"\n'),
    ],
)
def test_awkward_but_valid_delimited_files(tmp_path: Path, name: str, content: bytes) -> None:
    data = load_data(write(tmp_path, name, content))
    assert data.texts == ["a", "b"] and data.labels == ["pos", "neg"]
    assert data.info.text_column == "text" and data.label_names == ["neg", "pos"]


def test_quoted_fields_keep_commas_quotes_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", b'text,label\n"a, ""b""\nc",pos\nplain,neg\n')
    assert load_data(path).texts == ['a, "b"\nc', "plain"]


def test_bom_file_matches_the_same_file_without_it(tmp_path: Path) -> None:
    plain = load_data(write(tmp_path, "a.csv", ROWS))
    bom = load_data(write(tmp_path, "b.csv", b"\xef\xbb\xbf" + ROWS))
    assert bom.info.fingerprint == plain.info.fingerprint


# --- JSON / JSONL ---------------------------------------------------------------------------

HOSTILE_JSON = [
    ("object.json", '{"text": "a", "label": 1}', r"object whose 'text' is a string, not a list"),
    ("mixed.json", '{"text": ["a"], "label": 1}', r"'label' is a number, not a list"),
    ("ragged.json", '{"text": ["a", "b"], "label": [1]}', r"'label' has 1 value, 'text' has 2"),
    ("scalar.json", "42", r"the file holds a JSON number"),
    ("string.json", '"text"', r"holds a JSON string"),
    ("null.json", "null", r"holds a JSON null"),
    ("true.json", "true", r"holds a JSON boolean"),
    ("scalars.json", "[1, 2]", r"item 0 is a JSON number, not an object"),
    ("late.json", '[{"text": "a", "label": "x"}, "b"]', r"item 1 is a JSON string"),
    ("nested.json", '[[{"text": "a", "label": "x"}]]', r"item 0 is a JSON array"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, r"nests deeper than 64 levels"),
    ("deep_obj.json", '{"a":' * 5000 + "1" + "}" * 5000, r"nests deeper than 64 levels"),
    ("invalid.json", '[{"text": "a", "label": "x"},]', r"is not valid JSON"),
    ("truncated.json", '[{"text": "a", "lab', r"is not valid JSON"),
    ("empty.json", "", r"is not valid JSON"),
    ("dup.json", '[{"text": "a", "label": "x", "label": "y"}]', r"repeats the key 'label'"),
    ("dup_cols.json", '{"text": ["a"], "text": ["b"], "label": [1]}', r"repeats the key 'text'"),
    ("digits.json", '[{"text": "a", "label": 1' + "0" * 5000 + "}]", r"cannot read: 'Exceeds"),
    ("latin1.json", b'[{"text": "caf\xe9", "label": "x"}]', r"not UTF-8 text: byte 0xe9"),
    ("empty_key.json", '{"": ["a"], "label": ["x"]}', r"column 1 of .* has the name ''"),
    ("not_obj.jsonl", jsonl({"text": "a", "label": "x"}, [1, 2]), r"line 2 is a JSON array"),
    ("scalar.jsonl", "1\n", r"line 1 is a JSON number, not an object"),
    ("null.jsonl", "null\n", r"line 1 is a JSON null"),
    (
        "invalid.jsonl",
        jsonl({"text": "a", "label": "x"}) + '{"text": "b",\n',
        r"line 2 is not valid",
    ),
    ("late_bad.jsonl", jsonl(*[{"text": "a", "label": "x"}] * 9) + "{oops}\n", r"line 10 is not"),
    ("array.jsonl", json.dumps([{"text": "a", "label": "x"}]) + "\n", r"line 1 is a JSON array"),
    ("pretty.jsonl", '{\n  "text": "a",\n  "label": "x"\n}\n', r"line 1 is not valid JSON"),
    ("two_per_line.jsonl", '{"text": "a", "label": "x"} {"text": "b", "label": "y"}\n', r"line 1"),
    ("deep.jsonl", '{"text": "a", "label": ' + "[" * 3000 + "]" * 3000 + "}\n", r"line 1 nests"),
    ("dup.jsonl", '{"text": "a", "text": "b", "label": "x"}\n', r"line 1 repeats the key 'text'"),
    ("digits.jsonl", '{"text": "a", "label": ' + "9" * 4400 + "}\n", r"line 1 holds a value"),
    ("cp1252.jsonl", b'{"text": "\x93a\x94", "label": "x"}\n', r"byte 0x93 on line 1"),
    ("empty.jsonl", "\n\n", r"has no rows"),
    ("no_columns.jsonl", "{}\n{}\n", r"has no rows"),
    ("surrogate.jsonl", jsonl({"text": "a\ud800", "label": "x"}), r"row 0 .* unpaired surrogate"),
]


@pytest.mark.parametrize(
    ("name", "content", "match"), HOSTILE_JSON, ids=[c[0] for c in HOSTILE_JSON]
)
def test_hostile_json_files(tmp_path: Path, name: str, content: str | bytes, match: str) -> None:
    refused(write(tmp_path, name, content), match)


TWO = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.jsonl", "\ufeff" + jsonl(*TWO)),
        ("bom.json", "\ufeff" + json.dumps(TWO)),
        ("columns.json", json.dumps({"text": ["a", "b"], "label": ["x", "y"]})),
        ("crlf.jsonl", jsonl(*TWO).replace("\n", "\r\n")),
        ("blank_lines.jsonl", "\n\n" + jsonl(TWO[0]) + "  \n\t\n" + jsonl(TWO[1]) + "\n"),
        ("no_final_newline.jsonl", jsonl(*TWO).rstrip("\n")),
        ("extra_columns.jsonl", jsonl({**TWO[0], "meta": {"k": [1]}}, {**TWO[1], "id": 7})),
    ],
)
def test_awkward_but_valid_json_files(tmp_path: Path, name: str, content: str) -> None:
    data = load_data(write(tmp_path, name, content))
    assert data.texts == ["a", "b"] and data.labels == ["x", "y"]
    assert (
        data.info.fingerprint
        == load_data(write(tmp_path, "ref.jsonl", jsonl(*TWO))).info.fingerprint
    )


def test_line_separators_inside_json_strings_are_text(tmp_path: Path) -> None:
    content = '{"text": "a\u2028b", "label": "x"}\n{"text": "c\u2029\x85d", "label": "y"}\n'
    data = load_data(write(tmp_path, "u.jsonl", content))
    assert data.texts == ["a\u2028b", "c\u2029\x85d"]


def test_missing_keys_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "d.jsonl", jsonl({"text": "a", "label": "x"}, {"label": "y"}))
    refused(path, r"row 1 of .* has a NoneType in text column 'text' \(null or missing\)")


# --- Parquet --------------------------------------------------------------------------------


def _parquet(path: Path, columns: dict[str, list[Any]] | None = None, **kwargs: Any) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns or {"text": ["a", "b"], "label": ["x", "y"]}, **kwargs)
    pq.write_table(table, path)
    return path


def test_hostile_parquet_files(tmp_path: Path) -> None:
    import pyarrow as pa

    good = _parquet(tmp_path / "good.parquet").read_bytes()
    cases = {
        "corrupt": b"PAR1garbage",
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "no_footer": good[:-8],
        "csv_text": ROWS,
        "flipped": good[:4] + bytes(b ^ 0xFF for b in good[4:-8]) + good[-8:],
    }
    for name, content in cases.items():
        refused(write(tmp_path, f"{name}.parquet", content), r"not a readable Parquet file")
    struct = _parquet(tmp_path / "s.parquet", {"text": [{"a": 1}], "label": ["x"]})
    refused(struct, r"row 0 .* has a dict in text column 'text' \(\{'a': 1\}\)")
    lists = _parquet(tmp_path / "l.parquet", {"text": [["a", "b"]], "label": ["x"]})
    refused(lists, r"has a list in text column")
    binary = _parquet(tmp_path / "b.parquet", {"text": [b"a"], "label": ["x"]})
    refused(binary, r"has a bytes in text column")
    label_list = _parquet(tmp_path / "ll.parquet", {"text": ["a"], "label": [[0.5]]})
    refused(label_list, r"has label 0.5 .*whole class id")  # a list is multi-label gold
    stamp = _parquet(tmp_path / "t.parquet", {"text": ["a"], "label": pa.array([0], pa.date32())})
    refused(stamp, r"has label datetime.date\(1970, 1, 1\)")
    nan = _parquet(tmp_path / "n.parquet", {"text": ["a", "b"], "label": [0.0, float("nan")]})
    refused(nan, r"row 1 .* has label nan .*whole class id")
    dup = tmp_path / "dup.parquet"
    _parquet(dup, {"a": ["a"], "b": ["b"], "c": ["x"]})
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], ["text", "text"]), dup)
    refused(dup, r"its schema has two columns named 'text'")


def test_parquet_that_unpacks_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardgen.data.files

    path = _parquet(tmp_path / "big.parquet", {"text": ["a" * 1000] * 50, "label": ["x"] * 50})
    monkeypatch.setattr(cardgen.data.files, "MAX_PARQUET_BYTES", 1000)
    refused(path, r"it unpacks to [\d,]+ bytes, over cardgen's limit of 1,000 bytes")


# --- save_to_disk directories ---------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good ``save_to_disk`` Dataset and DatasetDict to break copies of."""
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    ds = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}, features=features)
    base = tmp_path_factory.mktemp("saved")
    ds.save_to_disk(base / "single")
    datasets.DatasetDict({"test": ds, "train": ds}).save_to_disk(base / "dict")
    return base


def _edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _arrow(directory: Path) -> Path:
    return next(directory.glob("*.arrow"))


SAVED_CASES: dict[str, tuple[str, Any, str]] = {
    "empty state": ("single", lambda d: (d / "state.json").write_text(""), r"state.json is not"),
    "empty info": (
        "single",
        lambda d: (d / "dataset_info.json").write_text(""),
        r"dataset_info.json is not valid JSON",
    ),
    "info array": (
        "single",
        lambda d: (d / "dataset_info.json").write_text("[]"),
        r"dataset_info.json is a JSON array",
    ),
    "state null": ("single", lambda d: (d / "state.json").write_text("null"), r"JSON null"),
    "no info": ("single", lambda d: (d / "dataset_info.json").unlink(), r"info.json is missing"),
    "state dir": (
        "single",
        lambda d: ((d / "state.json").unlink(), (d / "state.json").mkdir()),
        r"not one written by `Dataset.save_to_disk`",
    ),
    "bad feature": (
        "single",
        lambda d: _edit_json(d / "dataset_info.json", features={"label": {"_type": "Nope"}}),
        r"not a readable `save_to_disk` dataset \(ValueError",
    ),
    "features list": (
        "single",
        lambda d: _edit_json(d / "dataset_info.json", features=[1, 2]),
        r"not a readable `save_to_disk` dataset",
    ),
    "huge classlabel": (
        "single",
        lambda d: _edit_json(
            d / "dataset_info.json",
            features={"label": {"_type": "ClassLabel", "num_classes": 300_000_000}},
        ),
        r"ClassLabel of 300,000,000 classes, over cardgen's limit of 10,000",
    ),
    "no data files": (
        "single",
        lambda d: _edit_json(d / "state.json", _data_files=[]),
        r"lists no",
    ),
    "data files str": (
        "single",
        lambda d: _edit_json(d / "state.json", _data_files="x.arrow"),
        r"lists no data files",
    ),
    "file entry not obj": (
        "single",
        lambda d: _edit_json(d / "state.json", _data_files=["x.arrow"]),
        r"data file None is not a usable file name",
    ),
    "missing arrow": ("single", lambda d: _arrow(d).unlink(), r"listed in state.json is missing"),
    "truncated arrow": (
        "single",
        lambda d: _arrow(d).write_bytes(_arrow(d).read_bytes()[:100]),
        r"is not a readable arrow file",
    ),
    "garbage arrow": (
        "single",
        lambda d: _arrow(d).write_bytes(b"garbage" * 10),
        r"is not a readable arrow file",
    ),
    "empty arrow": ("single", lambda d: _arrow(d).write_bytes(b""), r"not a readable arrow file"),
    "arrow dir": (
        "single",
        lambda d: (_arrow(d).unlink(), (d / "data-00000-of-00001.arrow").mkdir()),
        r"listed in state.json is missing",
    ),
    "traversal": (
        "single",
        lambda d: _edit_json(d / "state.json", _data_files=[{"filename": "../dict/x.arrow"}]),
        r"data file '../dict/x.arrow' points outside",
    ),
    "absolute": (
        "single",
        lambda d: _edit_json(d / "state.json", _data_files=[{"filename": "/etc/passwd"}]),
        r"data file '/etc/passwd' points outside",
    ),
    "link out": (
        "single",
        lambda d: (_arrow(d).unlink(), (d / "data-00000-of-00001.arrow").symlink_to("/etc/hosts")),
        r"leads outside .* through a link",
    ),
    "missing split key": (
        "single",
        lambda d: (
            _edit_json(d / "state.json", _split=None) or _drop_key(d / "state.json", "_split")
        ),
        r"\(KeyError: \"'_split'\"\)",
    ),
    "custom format": (
        "single",
        lambda d: _edit_json(d / "state.json", _format_type="custom"),
        r"not a readable `save_to_disk` dataset \(TypeError",
    ),
    "broken test split": (
        "dict",
        lambda d: (d / "test" / "state.json").write_text("{"),
        r"test/state.json is not valid JSON",
    ),
    "missing test split": ("dict", lambda d: shutil.rmtree(d / "test"), r"split directory .*test"),
    "dict json empty": (
        "dict",
        lambda d: (d / "dataset_dict.json").write_text(""),
        r"dataset_dict.json is not valid JSON",
    ),
    "splits string": (
        "dict",
        lambda d: _edit_json(d / "dataset_dict.json", splits="test"),
        r"has no list of split names",
    ),
    "splits numbers": (
        "dict",
        lambda d: _edit_json(d / "dataset_dict.json", splits=[1, 2]),
        r"has no list of split names",
    ),
    "split traversal": (
        "dict",
        lambda d: _edit_json(d / "dataset_dict.json", splits=["../single", "test"]),
        r"split '../single' points outside",
    ),
    "split absolute": (
        "dict",
        lambda d: _edit_json(d / "dataset_dict.json", splits=["/tmp", "test"]),
        r"split '/tmp' points outside",
    ),
    "no json files": (
        "single",
        lambda d: [p.unlink() for p in d.glob("*.json")],
        r"not one written by `Dataset.save_to_disk` \(no state.json",
    ),
}


def _drop_key(path: Path, key: str) -> None:
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", list(SAVED_CASES))
def test_hostile_saved_datasets(tmp_path: Path, saved: Path, case: str) -> None:
    kind, breaks, match = SAVED_CASES[case]
    directory = tmp_path / kind
    shutil.copytree(saved / kind, directory)
    breaks(directory)
    split = {"split traversal": "../single", "split absolute": "/tmp"}.get(case, "test")
    refused(directory, match, split=split)


def test_a_broken_split_that_is_not_used_does_not_matter(tmp_path: Path, saved: Path) -> None:
    shutil.copytree(saved / "dict", tmp_path / "dict")
    (tmp_path / "dict" / "train" / "state.json").write_text("{")
    data = load_data(tmp_path / "dict", split="test")
    assert data.labels == ["neg", "pos"] and data.info.split == "test"
    refused(tmp_path / "dict", r"train/state.json is not valid JSON", split="train")


def test_hostile_class_label_names(tmp_path: Path) -> None:
    import datasets

    for names, match in [
        (["neg", "x" * 300], r"ClassLabel name 'xxx.*names must be non-blank strings"),
        (["neg", " "], r"ClassLabel name ' '"),
        (["neg", "a\nb"], r"ClassLabel name 'a\\nb'"),
    ]:
        features = datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
        )
        ds = datasets.Dataset.from_dict({"text": ["a"], "label": [0]}, features=features)
        ds.save_to_disk(tmp_path / "ds")
        refused(tmp_path / "ds", match)
        shutil.rmtree(tmp_path / "ds")


def test_unlabelled_rows_of_a_class_label_split(tmp_path: Path, saved: Path) -> None:
    import datasets

    features = datasets.load_from_disk(str(saved / "single")).features
    ds = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [-1, 0]}, features=features)
    ds.save_to_disk(tmp_path / "test")
    refused(tmp_path / "test", r"labels \[-1\] .* outside its ClassLabel .*use a labelled split")


# --- labels ---------------------------------------------------------------------------------

HOSTILE_LABELS = [
    (
        "superscript+digit",
        ["\u00b2", "1"],
        r"mixes class ids and names, e.g. '1' \(row 1\) and '²' \(row 0\)",
    ),
    ("arabic+digit", ["\u0661", "0"], r"mixes class ids and names"),
    ("fullwidth+digit", ["\uff11", "0"], r"mixes class ids and names"),
    ("int+string", [1, "pos"], r"mixes class ids and names, e.g. 1 \(row 0\) and 'pos' \(row 1\)"),
    ("digits+names", ["0", "pos", "1"], r"e.g. '0' \(row 0\) and 'pos' \(row 1\)"),
    ("huge id", [0, 300_000_000], r"label id 300,000,000 \(row 1\) .*limit of 10,000 classes"),
    ("huge digit string", ["0", "300000000"], r"label id 300,000,000"),
    ("limit id", [MAX_LABELS], r"label id 10,000 .*MAX_LABELS"),
    ("huge int", [10**40], r"label id 1[\d,]+ .*MAX_LABELS"),
    ("negative", [0, -1], r"negative label ids \[-1\]"),
    ("negative string", ["-3", "1"], r"negative label ids \[-3\]"),
    ("bool", [True, False], r"has label True .*map true/false"),
    ("bool+int", [0, True], r"row 1 .* has label True"),
    ("fraction", [0, 0.5], r"row 1 .* has label 0.5 .*whole class id"),
    ("nan", [float("nan")], r"has label nan"),
    ("inf", [float("inf")], r"has label inf"),
    ("-inf", [1, float("-inf")], r"row 1 .* has label -inf"),
    ("null", ["a", None], r"row 1 .* has label None"),
    ("list", [[0.5]], r"has label 0.5 .*whole class id"),  # lists are multi-label gold
    ("object", [{"name": "pos"}], r"has label \{'name': 'pos'\}"),
    ("empty", ["pos", ""], r"row 1 .* has label '' .*must not be empty or blank"),
    ("spaces", ["   "], r"has label '   '"),
    ("tab", ["\t"], r"has label '\\t'"),
    ("nbsp", ["\u00a0"], r"must not be empty or blank"),
    ("long", ["x" * (MAX_LABEL_CHARS + 1)], r"201 characters, over cardgen's limit of 200"),
    ("megabyte", ["y" * 2**20], r"1,048,576 characters"),
    ("newline", ["pos\nneg"], r"control characters"),
    ("nul", ["pos\x00"], r"control characters"),
    ("escape", ["\x1b[31mred"], r"control characters"),
    ("surrogate", ["\ud800"], r"control characters"),
    ("digit overflow", ["1" * 5000], r"5,000 characters"),
    ("many names", [f"l{i}" for i in range(MAX_LABELS + 1)], r"10,001 distinct labels"),
]


@pytest.mark.parametrize(
    ("labels", "match"), [c[1:] for c in HOSTILE_LABELS], ids=[c[0] for c in HOSTILE_LABELS]
)
def test_hostile_labels(tmp_path: Path, labels: list[Any], match: str) -> None:
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate(labels)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    refused(path, match)


@pytest.mark.parametrize(
    ("labels", "expected", "names", "indexed"),
    [
        ([1.0, 0.0, 2.0], ["1", "0", "2"], ["0", "1", "2"], True),
        ([1, 0.0], ["1", "0"], ["0", "1"], True),
        (["0", " 1 ", "01"], ["0", "1", "1"], ["0", "1"], True),
        (["\u00b2", "\u00b3"], ["\u00b2", "\u00b3"], ["\u00b2", "\u00b3"], False),
        (["--1", "+1"], ["--1", "+1"], ["+1", "--1"], False),
        (["ça", "日本", "x" * MAX_LABEL_CHARS], None, None, False),
    ],
)
def test_label_values_that_are_accepted(
    tmp_path: Path, labels: list[Any], expected: Any, names: Any, indexed: bool
) -> None:
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate(labels)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    data = load_data(path)
    assert data.indexed is indexed
    assert data.labels == (expected if expected is not None else labels)
    assert data.label_names == (names if names is not None else sorted(labels))


def test_csv_labels_follow_the_same_rules(tmp_path: Path) -> None:
    refused(write(tmp_path, "a.csv", b"text,label\na,pos\nb,\n"), r"row 1 .* has label ''")
    refused(write(tmp_path, "b.csv", b"text,label\na,0\nb,pos\n"), r"mixes class ids and names")
    refused(write(tmp_path, "c.csv", "text,label\na,\u00b9\nb,1\n"), r"mixes class ids and names")
    refused(write(tmp_path, "d.csv", b"text,label\na,99999999\n"), r"label id 99,999,999")
    assert load_data(write(tmp_path, "e.csv", b"text,label\na,1\nb,0\n")).labels == ["1", "0"]


def test_row_numbers_count_from_the_whole_file_when_sampling(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "x"} for i in range(40)]
    rows[37]["label"] = ""
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    refused(path, r"row 37 of", limit=39, sample=True, seed=0)
    assert load_data(path, limit=30).info.num_rows == 30


# --- columns, options and names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text_column": "label"}, r"column 'label' cannot hold both the texts and the labels"),
        ({"label_column": "text"}, r"column 'text' cannot hold both"),
        ({"text_column": "text", "label_column": "text"}, r"--text-column and --label-column"),
        ({"text_column": 3}, r"--text-column must be a column name, got 3"),
        ({"label_column": ["label"]}, r"--label-column must be a column name, got \['label'\]"),
        ({"text_column": ""}, r"--text-column must be a column name, got ''"),
        ({"label_column": "  "}, r"--label-column must be a column name"),
        ({"text_column": "x" * 100_000}, r"column 'xxx.*\(100,002 characters\) not found"),
        ({"text_column": "a\nb"}, r"column 'a\\nb' not found"),
        ({"limit": 0}, r"--limit must be at least 1, got 0"),
        ({"limit": -5}, r"--limit must be at least 1, got -5"),
        ({"limit": True}, r"--limit must be at least 1, got True"),
        ({"limit": 2.5}, r"--limit must be at least 1, got 2.5"),
    ],
)
def test_hostile_column_options(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    refused(write(tmp_path, "d.csv", ROWS), match, **kwargs)


def test_hostile_column_names_stay_short_in_messages(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(5000)) + "," + "n" * 100_000 + "\n"
    path = write(tmp_path, "wide.csv", header + ",".join("v" * 5001) + "\n")
    message = refused(path, r"column 'text' not found .*c19 and 4,981 more")
    assert "c20," not in message
    weird = write(tmp_path, "weird.jsonl", jsonl({"a\nb": "x", "\x1b[2J": "y", "n" * 500: "z"}))
    message = refused(weird, r"columns are: 'a\\nb', '\\x1b\[2J', 'nnn")
    assert len(message) < 400


def test_text_values_are_quoted_and_clipped(tmp_path: Path) -> None:
    cases = [
        ({"text": 12, "label": "x"}, r"has a int in text column 'text' \(12\)"),
        ({"text": ["a"] * 100_000, "label": "x"}, r"has a list in text column 'text' \(\['a'"),
        ({"text": {"k": "v" * 10**6}, "label": "x"}, r"has a dict .*characters\)\)"),
        ({"text": True, "label": "x"}, r"has a bool in text column"),
        ({"text": 1.5, "label": "x"}, r"has a float in text column"),
    ]
    for row, match in cases:
        refused(write(tmp_path, "d.jsonl", jsonl({"text": "ok", "label": "x"}, row)), match)


@pytest.mark.parametrize(
    ("dataset", "match"),
    [
        ("", r"dataset '' is not usable"),
        ("   ", r"dataset '   ' is not usable"),
        (None, r"dataset None is not usable"),
        (42, r"dataset 42 is not usable"),
        ("a\x00b", r"dataset 'a\\x00b' is neither a local file .*nor a valid `datasets` name"),
        ("x" * 10_000, r"nor a valid `datasets` name"),
        ("owner/name/extra", r"nor a valid `datasets` name"),
        ("https://example.com/data.csv", r"does not exist|nor a valid"),
        ("owner name", r"nor a valid `datasets` name"),
        ("-flag", r"nor a valid `datasets` name"),
        (":config", r"dataset '' is neither"),
        ("name\n:x", r"dataset 'name\\n' is neither"),
        ("./missing.csv", r"dataset file './missing.csv' does not exist"),
        ("missing.parquet", r"does not exist"),
    ],
)
def test_hostile_dataset_names_never_reach_datasets(
    monkeypatch: pytest.MonkeyPatch, dataset: Any, match: str
) -> None:
    import datasets

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"load_dataset called with {args}")

    monkeypatch.setattr(datasets, "load_dataset", must_not_load)
    refused(dataset, match)


def test_hub_errors_are_quoted_and_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom\n" * 100_000)

    monkeypatch.setattr(datasets, "load_dataset", failing)
    refused("owner/name", r"nor a loadable `datasets` name .*'boom\\nboom")


def test_special_files_are_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    refused(fifo, r"is not a regular file or directory")
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    refused(loop, r"does not exist")
    refused(tmp_path, r"is a directory but not one written by `Dataset.save_to_disk`")
    sparse = tmp_path / "huge.jsonl"
    with sparse.open("wb") as handle:
        handle.truncate(300 * 2**20)  # sparse: costs no disk
    refused(sparse, r"line 1 of .* is longer than cardgen's limit of 16,777,216 bytes")


# --- the CLI --------------------------------------------------------------------------------

CLI_CASES = [
    ("dup.csv", b"text,label,label\na,pos,neg\n"),
    ("ragged.csv", b"text,label\na,pos,x\n"),
    ("latin1.csv", b"text,label\ncaf\xe9,pos\n"),
    ("object.json", b'{"text": "a", "label": 1}'),
    ("ragged.json", b'{"text": ["a", "b"], "label": [1]}'),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000),
    ("bad.jsonl", b'{"text": "a", "label": "x"}\n[1]\n'),
    ("corrupt.parquet", b"PAR1garbage"),
    ("super.jsonl", '{"text": "a", "label": "\u00b2"}\n{"text": "b", "label": 1}\n'.encode()),
    ("huge.jsonl", b'{"text": "a", "label": 300000000}\n'),
    ("long.jsonl", b'{"text": "a", "label": "' + b"z" * 10**6 + b'"}\n'),
]


@pytest.mark.parametrize(("name", "content"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_reports_hostile_data_as_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes
) -> None:
    path = write(tmp_path, name, content)
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(tmp_path / "no-model"),
        "--dataset",
        str(path),
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(path) in lines[0] and len(lines[0]) < MAX_MESSAGE
    assert "Traceback" not in out + err


def test_cli_refuses_the_same_text_and_label_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "d.csv", ROWS)
    code, _, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(tmp_path / "m"),
        "--dataset",
        str(path),
        "--text-column",
        "label",
        "--label-column",
        "label",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert code == 2 and err.count("error:") == 1
    assert "--text-column and --label-column are both 'label'" in err


# --- texts of megabytes -----------------------------------------------------------------------


class _Recording:
    """A tokenizer that remembers the longest text it was given."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer, self.longest = tokenizer, 0

    def __call__(self, texts: Any, pairs: Any = None, **kwargs: Any) -> Any:
        batch = [texts] if isinstance(texts, str) else [*texts, *(pairs or [])]
        self.longest = max([self.longest, *map(len, batch)])
        return self.tokenizer(texts, pairs, **kwargs)


@pytest.mark.parametrize(
    "text",
    ["a great film. " * 25_000, "x" * 300_000, "déjà vu, 映画 " * 25_000, "a " * 32_000],
    ids=["350 kB of words", "one 300 kB word", "accents and CJK", "just under the cut"],
)
def test_a_text_of_megabytes_is_tokenized_from_its_head(text: str) -> None:
    """A 10 MB text took 3.2 GB and 30 s to tokenize whole (now 0.5 GB, 13 s)."""
    from transformers import AutoTokenizer

    from cardgen.demo import DEMO_MODEL
    from cardgen.models._long_texts import LONG_TEXT
    from cardgen.models.runner import encode

    tokenizer = AutoTokenizer.from_pretrained(DEMO_MODEL)
    whole = tokenizer(text, truncation=False).input_ids
    recording = _Recording(tokenizer)
    encoded = encode(recording, [text, "short"], 128)
    assert recording.longest <= max(LONG_TEXT, len(text) if len(whole) < 300 else 0)
    head = tokenizer(text, truncation=True, max_length=128).input_ids
    assert encoded.ids[: encoded.offsets[1]].tolist() == head
    assert encoded.truncated == (len(whole) > 128)
    pieces = len(text) // LONG_TEXT + 1  # a word cut between two pieces counts twice
    assert abs(int(encoded.full_lengths[0]) - len(whole)) <= 2 * pieces
