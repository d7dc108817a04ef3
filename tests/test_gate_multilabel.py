"""Multi-label runs in the gate and compare: McNemar on subset accuracy and the paired bootstrap
checked against independent computations, verdicts and exit codes, the swap warning, and the
inputs that must be refused or left unpaired."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, write_jsonl
from scipy.stats import binomtest
from sklearn.metrics import f1_score, hamming_loss

from cardgen.compare.runs import compare_runs
from cardgen.data.labels import Alignment, label_set_permutation_notes, label_set_swaps
from cardgen.errors import LabelError, ResultsError
from cardgen.gate import check_gate
from cardgen.gate.paired import Pairing, paired_bootstrap_deltas
from cardgen.results.schema import (
    ConfusionMatrix,
    DatasetInfo,
    EvalResults,
    LabelMapping,
    ModelInfo,
    MultiLabelResults,
)
from cardgen.tasks.multilabel_metrics import compute_multilabel_metrics

LABELS = ["toxic", "insult", "threat", "spam"]
FINGERPRINT = "rows-sha256:" + "c" * 64


def label_sets(n: int = 400, seed: int = 0) -> np.ndarray:
    """Gold (n, 4) label sets with different label frequencies."""
    rng = np.random.default_rng(seed)
    return rng.random((n, len(LABELS))) < np.array([0.4, 0.3, 0.15, 0.25])


def noisy(gold: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """``gold`` with each cell flipped with probability ``rate``."""
    return gold ^ (np.random.default_rng(seed).random(gold.shape) < rate)


def save_ml_run(
    directory: Path,
    gold: np.ndarray,
    pred: np.ndarray,
    *,
    fingerprint: str = FINGERPRINT,
    rows: list[dict] | None = None,
) -> Path:
    """A multi-label run directory, as `cardgen evaluate` writes it: results.json scored by
    cardgen's multi-label metrics and predictions.jsonl with label lists."""
    labels = np.array(LABELS, dtype=object)
    proba = np.where(pred, 0.8, 0.2)
    report = compute_multilabel_metrics(gold, proba, np.full(len(LABELS), 0.5), LABELS,
                                        n_bootstrap=20)  # fmt: skip
    results = EvalResults(
        model=ModelInfo(id=directory.name, framework="test", labels=LABELS),
        dataset=DatasetInfo(
            source="comments.jsonl",
            split=None,
            num_rows=len(gold),
            fingerprint=fingerprint,
            text_column="text",
            label_column="labels",
            labels=LABELS,
        ),  # fmt: skip
        label_mapping=LabelMapping("name", {label: label for label in LABELS}),
        labels=LABELS,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=ConfusionMatrix(labels=[], counts=[]),
        calibration=report.calibration,
        timing=None,
        environment={},
        seed=0,
        created_at="2026-01-01T00:00:00+00:00",
        cardgen_version="0.1.0",
        task="multi_label",
        multilabel=MultiLabelResults("default", report.details, report.false_positives),
    )
    directory.mkdir(parents=True)
    results.files["predictions"] = "predictions.jsonl"
    results.save(directory)
    if rows is None:
        rows = [
            {"index": i, "gold": labels[g].tolist(), "predicted": labels[p].tolist(),
             "probabilities": dict(zip(LABELS, map(float, s), strict=True))}
            for i, (g, p, s) in enumerate(zip(gold, pred, proba, strict=True))
        ]  # fmt: skip
    write_jsonl(directory / "predictions.jsonl", rows)
    return directory


@pytest.fixture
def runs(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, Path, Path]:
    """Gold sets, a good baseline and a clearly worse current run, saved."""
    gold = label_sets()
    base, cur = noisy(gold, 0.05, 1), noisy(gold, 0.15, 2)
    return (
        gold,
        base,
        cur,
        save_ml_run(tmp_path / "base", gold, base),
        save_ml_run(tmp_path / "cur", gold, cur),
    )


def outcome(report, metric: str):
    return next(o for o in report.outcomes if o.rule.metric == metric)


# -------------------------------------------------------------------------- paired tests


@pytest.mark.parametrize("tolerance", [0.0, 0.02])
def test_mcnemar_on_subset_accuracy_is_the_exact_binomial_test(runs, tolerance: float) -> None:
    gold, base, cur, base_dir, cur_dir = runs
    report = check_gate(cur_dir, base_dir, {"max-drop": {"subset_accuracy": tolerance}})
    got = outcome(report, "subset_accuracy")
    # by hand: a row is right when its whole set is; b = right in the baseline only
    base_ok = [
        set(np.flatnonzero(g)) == set(np.flatnonzero(p)) for g, p in zip(gold, base, strict=True)
    ]
    cur_ok = [
        set(np.flatnonzero(g)) == set(np.flatnonzero(p)) for g, p in zip(gold, cur, strict=True)
    ]
    b = sum(x and not y for x, y in zip(base_ok, cur_ok, strict=True))
    c = sum(y and not x for x, y in zip(base_ok, cur_ok, strict=True))
    share = 0.5 + len(gold) * tolerance / (2 * (b + c))
    expected = binomtest(b, b + c, share, alternative="greater").pvalue
    assert got.test == "McNemar" and got.p_value == pytest.approx(expected, rel=1e-9)
    assert got.verdict == "fail" and report.comparison.startswith("paired on 400 examples")
    assert got.delta == pytest.approx((sum(cur_ok) - sum(base_ok)) / len(gold))


def _independent_bootstrap(gold, base, cur, stat, *, draws=4000, seed=7) -> np.ndarray:
    """Deltas of ``stat`` over multinomial row resamples, computed from per-row counts."""
    rng = np.random.default_rng(seed)
    n = len(gold)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(draws)])

    def values(pred):
        tp, fp, fn = ((gold & pred), (~gold & pred), (gold & ~pred))
        if stat == "micro_f1":
            t, f, m = (weights @ x.sum(axis=1) for x in (tp, fp, fn))
            return 2 * t / (2 * t + f + m)
        if stat == "hamming_loss":
            return weights @ (gold != pred).mean(axis=1) / n
        t, f, m = (weights @ x[:, 2] for x in (tp, fp, fn))  # f1[threat]
        return 2 * t / (2 * t + f + m)

    return values(cur) - values(base)


@pytest.mark.parametrize("stat", ["micro_f1", "hamming_loss", "f1[threat]"])
def test_paired_bootstrap_ci_matches_an_independent_bootstrap(runs, stat: str) -> None:
    gold, base, cur, base_dir, cur_dir = runs
    report = check_gate(cur_dir, base_dir, {"max-drop": {stat: 0.01}}, n_bootstrap=4000)
    got = outcome(report, stat)
    observed = {
        "micro_f1": f1_score(gold, cur, average="micro") - f1_score(gold, base, average="micro"),
        "hamming_loss": hamming_loss(gold, cur) - hamming_loss(gold, base),
        "f1[threat]": f1_score(gold[:, 2], cur[:, 2]) - f1_score(gold[:, 2], base[:, 2]),
    }[stat]
    assert got.delta == pytest.approx(observed, abs=1e-9) and got.test == "paired bootstrap"
    reference = np.percentile(_independent_bootstrap(gold, base, cur, stat), [2.5, 97.5])
    width = reference[1] - reference[0]
    assert got.ci is not None and np.allclose(got.ci, reference, atol=0.1 * width), (
        got.ci,
        reference,
    )
    assert got.verdict == "fail" and got.p_value == pytest.approx(1 / 4001)


def test_identical_runs_pass_with_zero_deltas(runs, tmp_path: Path, capsys) -> None:
    gold, base, _, base_dir, _ = runs
    same = save_ml_run(tmp_path / "same", gold, base)
    pairing = Pairing(LABELS, gold, base, base.copy())
    names = ["micro_f1", "macro_f1", "samples_f1", "weighted_f1", "subset_accuracy",
             "hamming_loss", "f1[spam]", "recall[threat]"]  # fmt: skip
    for name, deltas in paired_bootstrap_deltas(pairing, names, n_resamples=300).items():
        assert not np.any(deltas[~np.isnan(deltas)]), name
    code, out, err = run_cli(
        capsys, "gate", str(same), "--baseline", str(base_dir), "--max-drop", "micro_f1=0",
        "--max-drop", "subset_accuracy=0", "--max-drop", "f1[threat]=0",
    )  # fmt: skip
    assert code == 0, out + err
    assert "warning" not in err


def test_gate_cli_fails_on_a_real_regression_and_warns_on_a_small_one(
    runs, tmp_path: Path, capsys
) -> None:
    gold, base, _, base_dir, cur_dir = runs
    code, out, _ = run_cli(
        capsys, "gate", str(cur_dir), "--baseline", str(base_dir), "--max-drop",
        "micro_f1=0.01", "--max-drop", "subset_accuracy=0.01", "--max-drop", "samples_f1=0.01",
    )  # fmt: skip
    assert code == 1
    assert "McNemar p =" in out and "paired bootstrap p =" in out
    slightly = base.copy()
    right = np.flatnonzero((gold == base).all(axis=1))[:4]
    slightly[right] = ~gold[right]  # four rows now wrong: a drop beyond 0.005, not a real one
    small = save_ml_run(tmp_path / "small", gold, slightly)
    argv = ["gate", str(small), "--baseline", str(base_dir), "--max-drop", "subset_accuracy=0.005"]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "not significant" in out
    code, _, _ = run_cli(capsys, *argv, "--strict")
    assert code == 1


def test_label_cardinality_and_roc_auc_compare_values_only(runs) -> None:
    _, _, _, base_dir, cur_dir = runs
    table = {"max-drop": {"predicted_label_cardinality": 0.5, "roc_auc": 0.5}}
    report = check_gate(cur_dir, base_dir, table)
    assert all(o.test is None and o.p_value is None for o in report.outcomes)


# ----------------------------------------------------------------- pairing and refusals


def test_stale_or_missing_predictions_leave_the_runs_unpaired(runs, tmp_path: Path) -> None:
    gold, base, cur, base_dir, _ = runs
    stale = save_ml_run(tmp_path / "stale", gold, cur)
    (stale / "predictions.jsonl").write_text((base_dir / "predictions.jsonl").read_text())
    report = check_gate(stale, base_dir, {"max-drop": {"subset_accuracy": 0.01}})
    assert report.comparison.startswith("unpaired")
    assert "do not reproduce its per-label counts" in report.warnings[0]
    assert outcome(report, "subset_accuracy").p_value is None
    (stale / "predictions.jsonl").unlink()
    report = check_gate(stale, base_dir, {"max-drop": {"subset_accuracy": 0.01}})
    assert "no per-example predictions" in report.warnings[0]


def test_rows_of_other_examples_are_not_paired(runs, tmp_path: Path) -> None:
    gold, base, cur, base_dir, _ = runs
    shifted = [
        {"index": i + 1, "gold": [LABELS[j] for j in np.flatnonzero(g)],
         "predicted": [LABELS[j] for j in np.flatnonzero(p)], "probabilities": {}}
        for i, (g, p) in enumerate(zip(gold, cur, strict=True))
    ]  # fmt: skip
    other = save_ml_run(tmp_path / "other", gold, cur, rows=shifted)
    report = check_gate(other, base_dir, {"max-drop": {"micro_f1": 0.01}})
    assert report.comparison.startswith("unpaired")
    assert "do not cover the same examples" in report.warnings[0]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"gold": "toxic"}, "'gold' is 'toxic', not a list of labels"),
        ({"predicted": ["toxic", "toxic"]}, "'predicted' lists a label twice"),
        ({"predicted": ["rude"]}, "'predicted' is 'rude', not one of the run's labels"),
        ({"gold": [1]}, "'gold' is 1, not a label"),
    ],
)
def test_malformed_label_set_predictions_are_an_input_error(
    runs, tmp_path: Path, capsys, row: dict, problem: str
) -> None:
    gold, _, cur, base_dir, cur_dir = runs
    lines = (cur_dir / "predictions.jsonl").read_text().splitlines()
    lines[5] = json.dumps({**json.loads(lines[5]), **row})
    (cur_dir / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match="line 6"):
        check_gate(cur_dir, base_dir, {"max-drop": {"micro_f1": 0.01}})
    code, _, err = run_cli(capsys, "gate", str(cur_dir), "--baseline", str(base_dir),
                           "--max-drop", "micro_f1=0.01")  # fmt: skip
    assert code == 2 and problem in err


def test_different_data_is_refused_unless_allowed(runs, tmp_path: Path, capsys) -> None:
    gold, _, cur, base_dir, _ = runs
    other = save_ml_run(tmp_path / "o", gold, cur, fingerprint="rows-sha256:" + "d" * 64)
    code, _, err = run_cli(capsys, "gate", str(other), "--baseline", str(base_dir),
                           "--max-drop", "micro_f1=0.01")  # fmt: skip
    assert code == 2 and "different data" in err
    report = check_gate(other, base_dir, {"max-drop": {"micro_f1": 0.5}},
                        allow_different_data=True)  # fmt: skip
    assert report.different_data and outcome(report, "micro_f1").p_value is None


# ---------------------------------------------------------------------------- swaps


def test_swapped_label_columns_warn_in_gate_and_compare(runs, tmp_path: Path, capsys) -> None:
    gold, base, _, base_dir, _ = runs
    swapped = base.copy()
    swapped[:, [0, 1]] = swapped[:, [1, 0]]  # the head's toxic and insult outputs trade places
    run = save_ml_run(tmp_path / "swapped", gold, swapped)
    code, _, err = run_cli(capsys, "gate", str(run), "--baseline", str(base_dir), "--max-drop",
                           "micro_f1=0.01")  # fmt: skip
    assert code == 1
    assert "label columns look permuted against the baseline's" in err
    assert "predicted 'toxic' -> baseline 'insult'" in err
    assert "predicted 'insult' -> baseline 'toxic'" in err
    comparison = compare_runs(base_dir, run, n_bootstrap=200)
    assert any("look permuted" in w for w in comparison.warnings)


def test_rare_or_correlated_labels_do_not_look_swapped() -> None:
    rng = np.random.default_rng(3)
    n = 500
    common = rng.random((n, 2)) < 0.4
    rare = np.zeros((n, 2), dtype=bool)
    rare[rng.choice(n, 3, replace=False), 0] = True
    rare[rng.choice(n, 3, replace=False), 1] = True
    gold = np.concatenate([common, rare], axis=1)
    pred = gold.copy()
    pred[:, [2, 3]] = pred[:, [3, 2]]  # rare labels swapped: too few rows to tell from chance
    assert label_set_swaps(gold, pred) == []
    # insult only with toxic (correlated), and a model that fires toxic for most insults
    toxic = rng.random(n) < 0.5
    insult = toxic & (rng.random(n) < 0.6)
    gold = np.stack([toxic, insult], axis=1)
    pred = np.stack([toxic | (insult & (rng.random(n) < 0.3)), insult & (rng.random(n) < 0.4)], 1)
    assert label_set_swaps(gold, pred) == []
    assert label_set_swaps(gold, gold[:, ::-1])  # the same labels truly swapped do warn


def test_evaluate_notes_swaps_and_refuses_them_when_paired_by_index() -> None:
    gold = label_sets(200, seed=5)
    pred = gold.copy()
    pred[:, [1, 3]] = pred[:, [3, 1]]
    by_name = Alignment(LabelMapping("name", {x: x for x in LABELS}), LABELS, [0, 1, 2, 3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = label_set_permutation_notes(gold, pred, by_name)
    assert len(notes) == 1 and "label columns look permuted" in notes[0]
    assert "predicted 'spam' -> gold 'insult'" in notes[0] and caught
    model = [f"LABEL_{i}" for i in range(4)]
    by_index = Alignment(LabelMapping("index", dict(zip(model, LABELS, strict=True))), LABELS,
                         [0, 1, 2, 3])  # fmt: skip
    with pytest.raises(LabelError, match=r'"LABEL_1": "spam".*"LABEL_3": "insult"'):
        label_set_permutation_notes(gold, pred, by_index)
    assert label_set_permutation_notes(gold, noisy(gold, 0.1, 4), by_name) == []


# --------------------------------------------------------------------------- compare


def test_compare_pairs_multi_label_runs_with_the_gates_tests(runs) -> None:
    gold, base, cur, base_dir, cur_dir = runs
    comparison = compare_runs(base_dir, cur_dir, n_bootstrap=500)
    assert comparison.paired and comparison.comparison.startswith("paired on 400")
    by_name = {d.name: d for d in comparison.metrics}
    subset = by_name["subset_accuracy"]
    base_ok, cur_ok = (gold == base).all(axis=1), (gold == cur).all(axis=1)
    b, c = int((base_ok & ~cur_ok).sum()), int((~base_ok & cur_ok).sum())
    assert (comparison.a_only_correct, comparison.b_only_correct) == (b, c)
    assert subset.test == "McNemar"
    assert subset.p_value == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)
    gate = check_gate(cur_dir, base_dir, {"max-drop": {"micro_f1": 0.01}}, n_bootstrap=500)
    assert by_name["micro_f1"].ci == outcome(gate, "micro_f1").ci  # the same resamples
    assert by_name["hamming_loss"].test == "paired bootstrap"
    assert by_name["label_cardinality"].test is None and by_name["roc_auc"].ci is None
    threat = next(row for row in comparison.per_class if row.label == "threat")
    assert all(d.test == "paired bootstrap" and d.ci is not None for d in threat.scores)


# ---------------------------------------------------------------------- end to end


def test_evaluated_runs_gate_and_a_swapped_head_is_named(tmp_path: Path, capsys) -> None:
    from test_hostile_inputs2 import KeywordModel

    import cardgen

    words = ["stupid", "idiot", "kill", "buy"]
    rng = np.random.default_rng(9)
    present = label_sets(120, seed=9)
    rows = [
        {"text": " ".join(["post", *(w for w, on in zip(words, row, strict=True) if on)]),
         "labels": [x for x, on in zip(LABELS, row ^ (rng.random(4) < 0.03), strict=True) if on]}
        for row in present
    ]  # fmt: skip
    data = write_jsonl(tmp_path / "comments.jsonl", rows)
    good = KeywordModel(LABELS, words, multi_label=True)
    swapped = KeywordModel(LABELS, [words[1], words[0], *words[2:]], multi_label=True)
    base = cardgen.evaluate(good, data, output_dir=tmp_path / "base", n_bootstrap=50)
    assert not any("permuted" in w for w in base.warnings)
    with pytest.warns(UserWarning, match="label columns look permuted"):
        cur = cardgen.evaluate(swapped, data, output_dir=tmp_path / "cur", n_bootstrap=50)
    assert any("predicted 'insult' -> gold 'toxic'" in w for w in cur.warnings)
    argv = ["gate", str(tmp_path / "cur"), "--baseline", str(tmp_path / "base")]
    code, out, err = run_cli(capsys, *argv, "--max-drop", "subset_accuracy=0.05")
    assert code == 1 and "McNemar p =" in out
    assert "look permuted against the baseline's" in err
    again = cardgen.evaluate(good, data, output_dir=tmp_path / "again", n_bootstrap=50)
    assert again.metrics["micro_f1"] == base.metrics["micro_f1"]
    code, out, err = run_cli(capsys, "gate", str(tmp_path / "again"), "--baseline",
                             str(tmp_path / "base"), "--max-drop", "micro_f1=0")  # fmt: skip
    assert code == 0 and "paired on 120 examples" in out, out + err


def test_many_run_compare_ranks_multi_label_runs_with_holm_corrected_paired_tests(
    tmp_path: Path,
) -> None:
    """Three multi-label runs: ranked by micro-F1, each pair bootstrapped, Holm-corrected
    (checked against statsmodels), and the rows every run gets wrong are whole label sets."""
    from statsmodels.stats.multitest import multipletests

    gold = label_sets(300, seed=3)
    preds = [noisy(gold, rate, seed=i) for i, rate in enumerate((0.02, 0.15, 0.05))]
    dirs = [save_ml_run(tmp_path / f"run{i}", gold, p) for i, p in enumerate(preds)]
    board = compare_runs(*dirs, n_bootstrap=300)
    expected = [f1_score(gold, p, average="micro") for p in preds]
    assert board.by == "micro_f1"
    assert [s.run for s in board.standings] == [1, 3, 2]
    assert [s.value for s in board.standings] == pytest.approx(sorted(expected, reverse=True))
    raw = [p.delta.p_value for p in board.pairs]
    assert all(p is not None for p in raw)
    _, corrected, _, _ = multipletests(raw, method="holm")
    assert [p.p_holm for p in board.pairs] == pytest.approx(list(corrected))
    wrong = ~np.stack([(p == gold).all(axis=1) for p in preds]).any(axis=0)
    assert board.n_mistakes == int(wrong.sum())
    for mistake in board.mistakes:
        names = [x for x, on in zip(LABELS, gold[mistake.index], strict=True) if on]
        assert mistake.gold == (", ".join(names) or "(none)")
