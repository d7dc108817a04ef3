"""Trust, round two: inputs that used to end with exit 0 and a quietly wrong result.

One block per class: multi-hot vectors read as class ids, sentence pairs guessed for a
single-text model, null slice values merged with a literal ``(missing)``, and prediction rows
numbered by their place in a ``--sample`` instead of their row in the source file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_cli, write_jsonl

import cardgen
from cardgen.data.load import load_data
from cardgen.demo import DEMO_DATASET, DEMO_MODEL
from cardgen.errors import DataError, UsageError
from cardgen.models.base import RunStats
from cardgen.results.schema import ModelInfo, load_results

DEMO_ROWS = [json.loads(line) for line in DEMO_DATASET.read_text().splitlines()]


def demo_copy(tmp_path: Path, **config: Any) -> Path:
    """The demo model (a single-text sentiment DistilBERT) with ``config`` changes."""
    target = Path(shutil.copytree(DEMO_MODEL, tmp_path / "model"))
    values = json.loads((target / "config.json").read_text())
    values.update(config)
    (target / "config.json").write_text(json.dumps(values))
    return target


class KeywordModel:
    """A stub classifier: label ``labels[j]`` scores 0.9 when a text holds ``keywords[j]``."""

    score_kind = "probability"

    def __init__(
        self, labels: Sequence[str], keywords: Sequence[str], *, multi_label: bool = False
    ) -> None:
        self.labels, self.keywords, self.multi_label = list(labels), list(keywords), multi_label

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, RunStats]:
        scores = np.array([[0.9 if k in t else 0.1 for k in self.keywords] for t in texts])
        if not self.multi_label:
            scores /= scores.sum(axis=1, keepdims=True)
        return scores, RunStats("cpu", "float64", len(texts), 0.0)

    def info(self) -> ModelInfo:
        return ModelInfo(id="keyword", framework="stub", labels=self.labels)


# --- 1. multi-hot vectors of a two-label model --------------------------------------------

ONE_HOT = [{"text": f"alpha {i}", "label": [1, 0]} for i in range(6)] + [
    {"text": f"beta {i}", "label": [0, 1]} for i in range(6)
]


def two_label_model() -> KeywordModel:
    return KeywordModel(["a", "b"], ["alpha", "beta"], multi_label=True)


def test_one_hot_rows_of_a_two_label_model_are_refused_as_ambiguous(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ONE_HOT)
    with pytest.raises(DataError, match=r"\[1, 0\].*--label-format multi-hot.*--label-format ids"):
        cardgen.evaluate(two_label_model(), path, label_map="index", n_bootstrap=0)


def test_label_format_decides_how_the_vectors_read(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ONE_HOT)
    hot = load_data(path, label_format="multi-hot")
    assert hot.multi_hot and hot.label_sets == [("0",)] * 6 + [("1",)] * 6
    ids = load_data(path, label_format="ids")
    assert not ids.multi_hot and ids.label_sets is not None
    assert [set(labels) for labels in ids.label_sets] == [{"0", "1"}] * 12
    results = cardgen.evaluate(
        two_label_model(), path, label_map="index", label_format="multi-hot", n_bootstrap=0
    )
    assert results.metrics["subset_accuracy"].value == 1.0
    assert [row.support for row in results.per_class] == [6, 6]
    both = cardgen.evaluate(
        two_label_model(), path, label_map="index", label_format="ids", n_bootstrap=0
    )
    assert both.metrics["subset_accuracy"].value == 0.0
    # vectors that are no id list (a repeated entry) and id lists of another width stay automatic
    repeated = write_jsonl(tmp_path / "r.jsonl", [*ONE_HOT, {"text": "none", "label": [0, 0]}])
    assert load_data(repeated).multi_hot
    three = KeywordModel(["a", "b", "c"], ["alpha", "beta", "gamma"], multi_label=True)
    as_ids = cardgen.evaluate(three, path, label_map="index", n_bootstrap=0)
    assert as_ids.metrics["subset_accuracy"].value == 0.0  # every row holds ids 0 and 1


@pytest.mark.parametrize(
    ("rows", "label_format", "match"),
    [
        (ONE_HOT, "bits", r"--label-format must be ids or multi-hot, got 'bits'"),
        ([{"text": "t", "label": 1}], "ids", r"holds one label per row .*drop --label-format"),
        (
            [{"text": "t", "label": [0, 2]}, {"text": "u", "label": [1, 0]}],
            "multi-hot",
            r"row 0 .* entry 2; every entry of a multi-hot vector must be 0 or 1",
        ),
        (
            [{"text": "t", "label": ["toxic"]}],
            "multi-hot",
            r"row 0 .* entry 'toxic'; every entry of a multi-hot vector must be 0 or 1",
        ),
    ],
)
def test_bad_label_formats_are_refused(
    tmp_path: Path, rows: list[dict], label_format: str, match: str
) -> None:
    with pytest.raises((DataError, UsageError), match=match):
        load_data(write_jsonl(tmp_path / "d.jsonl", rows), label_format=label_format)


def test_cli_asks_for_label_format_and_follows_it(tmp_path: Path, capsys) -> None:
    model = demo_copy(tmp_path, problem_type="multi_label_classification")
    rows = [{"text": r["text"], "label": [0, 1] if r["label"] == "positive" else [1, 0]} for r in DEMO_ROWS[:40]]  # fmt: skip
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    args = ["evaluate", "--model", str(model), "--dataset", str(path), "--label-map", "index", "--bootstrap", "0", "--no-progress"]  # fmt: skip
    code, _, err = run_cli(capsys, *args, "--output-dir", str(tmp_path / "a"))
    assert code == 2 and err.count("error:") == 1 and "--label-format multi-hot" in err, err
    assert not (tmp_path / "a").exists()
    run = tmp_path / "b"
    code, _, err = run_cli(capsys, *args, "--output-dir", str(run), "--label-format", "multi-hot")
    assert code == 0, err
    lines = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert all(len(line["gold"]) == 1 for line in lines)


# --- 2. sentence pairs guessed for a single-text model -------------------------------------

QUESTION_ROWS = [
    {"question": "what did the critic think?", "sentence": r["text"], "label": r["label"]}
    for r in DEMO_ROWS[:30]
]


def test_pairs_found_by_name_need_a_model_fine_tuned_on_pairs(tmp_path: Path, capsys) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", QUESTION_ROWS)
    with pytest.raises(
        UsageError,
        match=r"found by name as a sentence pair.*--text-pair-column 'sentence' to evaluate "
        r"pairs, or --text-column 'sentence' to evaluate single texts",
    ):
        cardgen.evaluate(DEMO_MODEL, path, n_bootstrap=0)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "evaluate", "--model", str(DEMO_MODEL), "--dataset", str(path), "--output-dir", str(run), "--no-progress")  # fmt: skip
    assert code == 2 and err.count("error:") == 1 and "--text-pair-column" in err, err
    assert not run.exists()


def test_pairs_asked_for_or_declared_by_the_model_are_evaluated(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", QUESTION_ROWS)
    asked = cardgen.evaluate(DEMO_MODEL, path, text_pair_column="sentence", n_bootstrap=0)
    assert asked.dataset.text_pair is not None and not asked.dataset.text_pair.found_by_name
    single = cardgen.evaluate(DEMO_MODEL, path, text_column="sentence", n_bootstrap=0)
    assert single.dataset.text_pair is None
    nli = demo_copy(tmp_path, finetuning_task="mnli")
    found = cardgen.evaluate(nli, path, n_bootstrap=0)
    assert found.dataset.text_pair is not None and found.dataset.text_pair.found_by_name
    assert load_results_pair(found, tmp_path) is True
    rows = [{"premise": "p", "hypothesis": f"h {i}", "label": "entailment"} for i in range(4)]
    stub = KeywordModel(["entailment", "contradiction"], ["h", "x"])
    by_labels = cardgen.evaluate(stub, write_jsonl(tmp_path / "n.jsonl", rows), n_bootstrap=0)
    assert by_labels.dataset.text_pair is not None


def test_spark_refuses_guessed_pairs_and_label_format_on_single_labels(spark: Any, tmp_path: Path) -> None:
    path = str(write_jsonl(tmp_path / "d.jsonl", QUESTION_ROWS))
    with pytest.raises(UsageError, match=r"found by name as a sentence pair.*finetuning_task: None"):
        cardgen.evaluate(str(DEMO_MODEL), path, engine="spark", n_bootstrap=0)
    with pytest.raises(UsageError, match=r"--label-format ids says how lists .* one label per row"):
        cardgen.evaluate(
            str(DEMO_MODEL), path, engine="spark", label_format="ids", text_pair_column="question"
        )


def load_results_pair(results: Any, tmp_path: Path) -> bool:
    """``found_by_name`` after a round trip through results.json."""
    from conftest import save_run

    pair = load_results(save_run(results, tmp_path / "saved")).dataset.text_pair
    assert pair is not None
    return pair.found_by_name


@pytest.mark.parametrize(
    ("task", "labels", "fits"),
    [
        ("mnli", ["LABEL_0", "LABEL_1", "LABEL_2"], True),
        ("sts-b", ["LABEL_0", "LABEL_1"], True),
        ("QQP", ["LABEL_0", "LABEL_1"], True),
        ("sst2", ["negative", "positive"], False),
        (None, ["negative", "positive"], False),
        (None, ["not_duplicate", "duplicate"], True),
        (None, ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"], True),
        (None, ["equivalent", "not_equivalent"], True),
        (None, ["negative", "neutral", "positive"], False),
    ],
)
def test_pairs_fit_reads_what_the_model_says(
    task: str | None, labels: list[str], fits: bool
) -> None:
    from types import SimpleNamespace

    from cardgen.models.pairs import pairs_fit

    model = KeywordModel(labels, labels)
    model.model = SimpleNamespace(config=SimpleNamespace(finetuning_task=task))  # type: ignore[attr-defined]
    assert pairs_fit(model) is fits


def test_two_candidate_pairs_are_ambiguous(tmp_path: Path) -> None:
    rows = [{"sentence1": "a", "sentence2": "b", "premise": "c", "hypothesis": "d", "label": 0}]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(
        DataError, match=r"2 pairs of text columns: sentence1/sentence2, premise/hypothesis"
    ):
        load_data(path)
    data = load_data(path, text_column="premise", text_pair_column="hypothesis")
    assert data.texts == ["c"] and data.text_pairs == ["d"]


@pytest.mark.parametrize(
    ("rows", "pair_column"),
    [
        ([{"text": "a", "label": 0}], "text"),
        ([{"sentence": "a", "label": 0}], "sentence"),
    ],
)
def test_pair_column_equal_to_the_default_text_column_is_refused(
    tmp_path: Path, rows: list[dict], pair_column: str
) -> None:
    with pytest.raises(DataError, match=rf"--text-pair-column '{pair_column}' is also the text"):
        load_data(write_jsonl(tmp_path / "d.jsonl", rows), text_pair_column=pair_column)


# --- 3. null slice values and a literal "(missing)" ----------------------------------------


def test_null_slice_values_never_merge_with_a_literal_value(tmp_path: Path, capsys) -> None:
    sources = [None, "(missing)", "((missing))", "web"]
    rows = [
        {"text": r["text"], "label": r["label"], "src": sources[i % 4]}
        for i, r in enumerate(DEMO_ROWS[:40])
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    data = load_data(path, slice_columns=["src"])
    assert data.columns["src"][:4] == ["(missing)", "((missing))", "(((missing)))", "web"]
    run = tmp_path / "run"
    results = cardgen.evaluate(
        DEMO_MODEL, path, slice_by=["src"], min_slice_size=1, n_bootstrap=0, output_dir=run
    )
    counts = {v.value: v.rows for v in results.slices["src"].values}
    assert counts == {"(missing)": 10, "((missing))": 10, "(((missing)))": 10, "web": 10}
    code, out, err = run_cli(capsys, "gate", str(run), "--min", "slice.src[((missing))].accuracy=0.01")
    assert code == 0, out + err


# --- 4. prediction rows name their source row ----------------------------------------------


def test_sampled_rows_keep_their_source_row(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", DEMO_ROWS[:50])
    data = load_data(path, limit=5, sample=True, seed=3)
    assert data.row_ids is not None and len(data.row_ids) == 5
    assert data.texts == [DEMO_ROWS[i]["text"] for i in data.row_ids]
    assert data.row_ids != list(range(5))
    assert load_data(path, limit=5).row_ids in (None, list(range(5)))


def test_predictions_index_is_the_source_row(tmp_path: Path, capsys) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", DEMO_ROWS[:50])
    runs = []
    for name in ("a", "b"):
        run = tmp_path / name
        code, _, err = run_cli(capsys, "evaluate", "--model", str(DEMO_MODEL), "--dataset", str(path), "--limit", "6", "--sample", "--seed", "3", "--bootstrap", "0", "--no-progress", "--output-dir", str(run))  # fmt: skip
        assert code == 0, err
        runs.append(run)
    lines = [json.loads(x) for x in (runs[0] / "predictions.jsonl").read_text().splitlines()]
    assert [line["text"] for line in lines] == [DEMO_ROWS[line["index"]]["text"] for line in lines]
    assert [line["index"] for line in lines] != list(range(6))
    code, out, err = run_cli(capsys, "gate", str(runs[0]), "--baseline", str(runs[1]), "--max-drop", "accuracy=0.5")  # fmt: skip
    assert code == 0 and "paired on 6 examples" in out + err, out + err


def test_multi_label_predictions_index_is_the_source_row(tmp_path: Path) -> None:
    rows = [*ONE_HOT, *({"text": f"both {i} alpha beta", "label": [1, 1]} for i in range(8))]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    run = tmp_path / "run"
    data = load_data(path, limit=5, sample=True, seed=1, label_format="multi-hot")
    cardgen.evaluate(two_label_model(), data, label_map="index", n_bootstrap=0, output_dir=run)
    lines = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert [line["index"] for line in lines] == data.row_ids
    assert [len(line["gold"]) for line in lines] == [sum(rows[i]["label"]) for i in data.row_ids]


# --- flags that did nothing -----------------------------------------------------------------

IGNORED_FLAGS = {
    "--sample without --limit": (["--sample"], "--sample draws the --limit rows at random"),
    "--sample --seed without --limit": (["--sample", "--seed", "3"], "add --limit N"),
    "--probes ''": (["--probes", ""], "--probes names no probe (got '')"),
    "--probes ' , '": (["--probes", " , "], "--probes names no probe (got ' , ')"),
    "--probe , --probe ''": (["--probe", ",", "--probe", ""], "name some of country"),
    "--target-label without --probes": (["--target-label", "positive"], "add --probes, or drop"),
}


@pytest.mark.parametrize(("flags", "message"), IGNORED_FLAGS.values(), ids=list(IGNORED_FLAGS))
def test_flags_that_would_do_nothing_are_refused(
    tmp_path: Path, capsys, flags: list[str], message: str
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", DEMO_ROWS[:20])
    run = tmp_path / "run"
    args = ["--dataset", str(path), "--output-dir", str(run), "--bootstrap", "0", "--no-progress"]
    code, out, err = run_cli(capsys, "evaluate", "--model", str(DEMO_MODEL), *args, *flags)
    assert code == 2 and err.count("error:") == 1 and message in err, err  # was 0, flag ignored
    assert not run.exists()


@pytest.mark.parametrize("probes", [[""], [",,"], [" ", ","]])
def test_the_probe_command_refuses_probes_that_name_nothing(
    tmp_path: Path, capsys, probes: list[str]
) -> None:
    flags = [part for value in probes for part in ("--probe", value)]
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "probe", *flags, "--output-dir", str(run), "--no-progress")
    assert code == 2 and err.count("error:") == 1 and "names no probe" in err, err  # was: all
    assert not run.exists()

# --- JSON files saved with a byte order mark ------------------------------------------------


def _bom_config(path: Path) -> None:
    from cardgen.models._checkpoint import read_config

    read_config(path, model="m", trust_remote_code=False)


def _read_label_map(path: Path) -> object:
    from cardgen.data.labels import read_label_map

    return read_label_map(path)


def _read_thresholds(path: Path) -> object:
    from cardgen.evaluation.options import check_threshold

    return check_threshold(path).per_label


def _results_text() -> str:
    from conftest import make_results

    return json.dumps(make_results(labels=["neg", "pos"]).to_dict())


BOM_FILES = {
    "results.json": (lambda p: load_results(p).labels, _results_text, ["neg", "pos"]),
    "label map": (_read_label_map, lambda: json.dumps({"negative": "neg"}), {"negative": "neg"}),
    "thresholds": (_read_thresholds, lambda: json.dumps({"toxic": 0.3}), {"toxic": 0.3}),
}


@pytest.mark.parametrize(("read", "content", "expected"), BOM_FILES.values(), ids=list(BOM_FILES))
def test_json_files_with_a_byte_order_mark_are_read(
    tmp_path: Path, read, content, expected
) -> None:
    path = tmp_path / "file.json"
    path.write_text("\ufeff" + content(), encoding="utf-8")
    assert read(path) == expected  # was: "Unexpected UTF-8 BOM (decode using utf-8-sig)"


def test_a_model_config_with_a_byte_order_mark_says_so(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("\ufeff" + (DEMO_MODEL / "config.json").read_text(), encoding="utf-8")
    with pytest.raises(cardgen.errors.ModelError, match=r"starts with a byte order mark \(BOM\)"):
        _bom_config(path)  # transformers cannot read it either: refused with the fix
