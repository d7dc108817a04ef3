from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cardgen.data.labels import align_labels, check_permutation, is_generic
from cardgen.errors import LabelError
from cardgen.results.schema import LabelMapping


def test_names_match_case_insensitively_in_another_order() -> None:
    alignment = align_labels(["POSITIVE", "NEGATIVE"], ["negative", "positive"])
    assert alignment.mapping.strategy == "name"
    assert alignment.labels == ["negative", "positive"]
    assert alignment.columns == [1, 0]
    scores = np.array([[0.9, 0.1]])  # model says POSITIVE
    assert alignment.reorder(scores).tolist() == [[0.1, 0.9]]
    assert alignment.mapping.model_to_dataset == {"NEGATIVE": "negative", "POSITIVE": "positive"}


def test_model_labels_absent_from_data_are_kept_last() -> None:
    alignment = align_labels(["neutral", "neg", "pos"], ["neg", "pos"])
    assert alignment.labels == ["neg", "pos", "neutral"]
    assert alignment.columns == [1, 2, 0]


def test_generic_model_labels_pair_with_class_ids_by_index() -> None:
    alignment = align_labels(["LABEL_0", "LABEL_1"], ["neg", "pos"], dataset_indexed=True)
    assert alignment.mapping.strategy == "index"
    assert alignment.mapping.model_to_dataset == {"LABEL_0": "neg", "LABEL_1": "pos"}


def test_generic_model_with_string_labels_is_refused_with_both_lists() -> None:
    with pytest.raises(
        LabelError,
        match=r"model labels: LABEL_0, LABEL_1; dataset labels: neg, pos\. Pass --label-map",
    ):
        align_labels(["LABEL_0", "LABEL_1"], ["neg", "pos"])


def test_explicit_map_and_index() -> None:
    alignment = align_labels(["a", "b"], ["neg", "pos"], label_map={"b": "neg", "a": "pos"})
    assert alignment.mapping.strategy == "file" and alignment.columns == [1, 0]
    indexed = align_labels(["a", "b"], ["neg", "pos"], label_map="index", dataset_indexed=True)
    assert indexed.columns == [0, 1]


@pytest.mark.parametrize("labels", [["neg", "pos"], ["World", "Sports", "Business", "Sci/Tech"]])
def test_index_map_needs_a_stated_label_order(labels: list[str]) -> None:
    # String labels have no order of their own: pairing LABEL_i with sorted names is a guess.
    model = [f"LABEL_{i}" for i in range(len(labels))]
    with pytest.raises(LabelError, match="no stated order; pass --label-order"):
        align_labels(model, sorted(labels), label_map="index")


@pytest.mark.parametrize(
    ("label_map", "message"),
    [
        ({"zzz": "neg", "a": "pos"}, r"model labels \['zzz'\] that the model does not have"),
        ({"a": "neg", "b": "neg"}, "several model labels to one dataset label"),
        ({"a": "neg"}, r"the label map gives dataset labels \['pos'\] no model label; model"),
        ({"a": "neg", "b": "5"}, r"gives dataset labels \['pos'\] no model label; it sends model "
         r"labels to \['5'\], which no row has"),
        ({}, r"gives dataset labels \['neg', 'pos'\] no model label"),
    ],
)
def test_bad_maps_are_refused(label_map: dict, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        align_labels(["a", "b"], ["neg", "pos"], label_map=label_map)


def test_dataset_labels_the_model_cannot_predict() -> None:
    with pytest.raises(LabelError, match=r"dataset labels: neg, neutral, pos"):
        align_labels(["neg", "pos"], ["neg", "neutral", "pos"])


def test_is_generic() -> None:
    assert is_generic(["LABEL_0", "LABEL_1"]) and is_generic(["0", "1", "2"])
    assert not is_generic(["LABEL_1", "LABEL_0"]) and not is_generic(["neg", "pos"])


def test_swapped_mapping_is_detected() -> None:
    # A binary model right 10% of the time: swapping its labels would make it 90% right.
    cm = np.array([[5, 45], [45, 5]])
    mapping = LabelMapping("index", {"LABEL_0": "neg", "LABEL_1": "pos"})
    found = check_permutation(cm, ["neg", "pos"], mapping)
    assert found is not None and "10.0%" in found.message and "90.0%" in found.message
    assert "predicted 'pos' -> gold 'neg'" in found.message
    assert found.label_map == {"LABEL_0": "pos", "LABEL_1": "neg"}


def test_permutation_of_four_classes_gives_the_fitting_map() -> None:
    labels = ["a", "b", "c", "d"]
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 400)
    cycle = np.array([1, 2, 3, 0])  # the model says b for a, c for b, ...
    cm = np.zeros((4, 4), dtype=np.int64)
    np.add.at(cm, (true, cycle[true]), 1)
    mapping = LabelMapping("index", {f"LABEL_{i}": label for i, label in enumerate(labels)})
    found = check_permutation(cm, labels, mapping)
    assert found is not None
    fixed = {model: found.label_map[model] for model in mapping.model_to_dataset}
    # Re-mapping every prediction with the fitting map makes every prediction right.
    predicted = [fixed[f"LABEL_{cycle[t]}"] for t in true]
    assert predicted == [labels[t] for t in true]


def test_good_or_merely_weak_mappings_are_not_flagged() -> None:
    mapping = LabelMapping("name", {"neg": "neg", "pos": "pos"})
    assert check_permutation(np.array([[45, 5], [5, 45]]), ["neg", "pos"], mapping) is None
    assert check_permutation(np.array([[30, 20], [25, 25]]), ["neg", "pos"], mapping) is None


def test_a_fitting_mapping_is_confirmed_without_scipy() -> None:
    code = (
        "import sys, numpy as np\n"
        "from cardgen.data.labels import check_permutation\n"
        "from cardgen.results.schema import LabelMapping\n"
        "mapping = LabelMapping('name', {'a': 'a', 'b': 'b', 'c': 'c'})\n"
        "cm = np.array([[50, 3, 2], [4, 40, 6], [1, 9, 35]])\n"
        "assert check_permutation(cm, ['a', 'b', 'c'], mapping) is None\n"
        "assert 'scipy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("content", ["{}", "\ufeff{}"])
def test_an_empty_label_map_file_is_refused_as_empty(tmp_path: Path, content: str) -> None:
    from cardgen.data.labels import read_label_map

    path = tmp_path / "map.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabelError, match="map.json is empty; map each model label"):
        read_label_map(path)
