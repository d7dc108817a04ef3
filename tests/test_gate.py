from __future__ import annotations

import re
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from conftest import results_from_predictions
from conftest import run_cli as run
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from cardgen import check_gate
from cardgen.errors import ResultsError, UsageError
from cardgen.gate import (
    Rule,
    junit_xml,
    load_gate_config,
    mcnemar_p_value,
    merge_rules,
    summary_markdown,
)
from cardgen.gate.paired import binomial_tail
from cardgen.results.schema import (
    EvalResults,
    Metric,
    ProbeResult,
    ProbeTerm,
)
from cardgen.trust.atomic import write_jsonl

LABELS = ["neg", "pos"]
N = 200


def make_results(
    gold: list[str],
    predicted: list[str],
    *,
    labels: list[str] = LABELS,
    fingerprint: str = "sha256:" + "a" * 64,
    probes: dict[str, ProbeResult] | None = None,
) -> EvalResults:
    return results_from_predictions(
        gold, predicted, labels=labels, fingerprint=fingerprint, probes=probes
    )


def predictions(gold: list[str], predicted: list[str]) -> list[dict]:
    return [
        {"index": i, "gold": g, "predicted": p, "probabilities": {p: 0.9}}
        for i, (g, p) in enumerate(zip(gold, predicted, strict=True))
    ]


def write_run(directory: Path, gold: list[str], predicted: list[str], **kwargs) -> Path:
    make_results(gold, predicted, **kwargs).save(directory)
    write_jsonl(directory / "predictions.jsonl", predictions(gold, predicted))
    return directory


def flip(labels: list[str], where: range | list[int]) -> list[str]:
    """``labels`` with the binary label flipped at the given positions."""
    out = list(labels)
    for i in where:
        out[i] = "pos" if out[i] == "neg" else "neg"
    return out


GOLD = ["neg"] * (N // 2) + ["pos"] * (N // 2)


def outcome(report, metric: str):
    return next(o for o in report.outcomes if o.rule.metric == metric)


# --- rules ----------------------------------------------------------------------------------


def test_rule_parsing_and_errors() -> None:
    assert Rule.parse("min", "accuracy=0.9") == Rule("min", "accuracy", 0.9)
    assert Rule.parse("min", "recall[a=b]=0.7") == Rule("min", "recall[a=b]", 0.7)
    assert str(Rule.parse("max-drop", " macro_f1 = 0.01")) == "max-drop macro_f1=0.01"
    with pytest.raises(UsageError, match=r"--min expects NAME=VALUE .*got 'accuracy'"):
        Rule.parse("min", "accuracy")
    with pytest.raises(UsageError, match="'high' is not a number"):
        Rule.parse("max", "ece=high")
    with pytest.raises(UsageError, match="must be >= 0"):
        Rule.parse("max-drop", "accuracy=-0.1")
    with pytest.raises(UsageError, match="finite"):
        Rule.parse("min", "accuracy=nan")


def test_command_line_rules_override_config_rules() -> None:
    merged = merge_rules(
        [Rule("min", "accuracy", 0.9), Rule("max", "ece", 0.1)], [Rule("min", "accuracy", 0.8)]
    )
    assert merged == [Rule("min", "accuracy", 0.8), Rule("max", "ece", 0.1)]


# --- the parametrised table: baseline / current / rule -> verdict ---------------------------

PAIRED_CASES = [
    # current wrong on 10 examples the baseline gets right: b=10, c=0
    ("accuracy drop, exact McNemar", [], range(10), "max-drop", "accuracy", 0.0, "fail", 0.5**10),
    # tolerance 0.01 on n=200: null share 1/2 + 200*0.01/20 = 0.6
    ("McNemar against the tolerance", [], range(10), "max-drop", "accuracy", 0.01, "fail", 0.6**10),
    (
        "drop beyond tolerance, not significant",
        [],
        range(10),
        "max-drop",
        "accuracy",
        0.04,
        "warn",
        0.9**10,
    ),
    ("drop equal to the tolerance", [], range(10), "max-drop", "accuracy", 0.05, "pass", 1.0),
    ("improvement", range(10), [], "max-drop", "accuracy", 0.0, "pass", 1.0),
    ("min passes", [], range(10), "min", "accuracy", 0.95, "pass", None),
    ("min fails", [], range(11), "min", "accuracy", 0.95, "fail", None),
    ("per-class floor", [], range(10), "min", "recall[neg]", 0.95, "fail", None),
    ("per-class floor passes", [], range(10), "min", "recall[pos]", 1.0, "pass", None),
    # log loss = 0.95 * -ln(0.9) + 0.05 * -ln(0.1) = 0.2152
    ("max on a lower-is-better metric", [], range(10), "max", "log_loss", 0.22, "pass", None),
    ("max on a lower-is-better metric fails", [], range(10), "max", "log_loss", 0.21, "fail", None),
    # ece and log loss have no paired test: a rise beyond tolerance fails outright
    ("rise of a lower-is-better metric", [], range(20), "max-drop", "log_loss", 0.01, "fail", None),
]


@pytest.mark.parametrize(
    ("base_wrong", "cur_wrong", "kind", "metric", "threshold", "verdict", "p_value"),
    [case[1:] for case in PAIRED_CASES],
    ids=[case[0] for case in PAIRED_CASES],
)
def test_rule_table(base_wrong, cur_wrong, kind, metric, threshold, verdict, p_value) -> None:
    base_pred, cur_pred = flip(GOLD, base_wrong), flip(GOLD, cur_wrong)
    report = check_gate(
        make_results(GOLD, cur_pred),
        make_results(GOLD, base_pred),
        [Rule(kind, metric, threshold)],
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, base_pred),
    )
    result = report.outcomes[0]
    assert result.verdict == verdict, result.message
    assert report.passed is (verdict != "fail")
    assert "paired on 200 examples" in report.comparison and not report.warnings
    if p_value is None:
        assert result.p_value is None
    else:
        assert result.p_value == pytest.approx(p_value)


@pytest.mark.parametrize(("worse", "better"), [(8, 6), (5, 0), (30, 12), (3, 9)])
def test_mcnemar_with_zero_tolerance_is_the_one_sided_exact_test(worse: int, better: int) -> None:
    gold = np.zeros(100, dtype=np.int64)
    base = np.zeros(100, dtype=np.int64)
    cur = np.zeros(100, dtype=np.int64)
    cur[:worse] = 1
    base[worse : worse + better] = 1
    expected = binomtest(worse, worse + better, 0.5, alternative="greater").pvalue
    assert mcnemar_p_value(gold, base, cur) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (0, 5, 0.5),
        (1, 1, 0.5),
        (3, 10, 0.5),
        (9, 10, 0.5),
        (11, 10, 0.5),
        (40, 100, 0.7),
        (70, 100, 0.55),
        (520, 1000, 0.5),
        (2_000, 1_000_000, 0.002),
        (501_000, 1_000_000, 0.5),
        (499_000, 1_000_000, 0.5),
        (30, 40, 0.999),
    ],
)
def test_binomial_tail_equals_scipy(k: int, n: int, p: float) -> None:
    from scipy.stats import binom

    assert binomial_tail(k, n, p) == pytest.approx(binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)


def test_mcnemar_cannot_reject_a_tolerance_larger_than_the_disagreement() -> None:
    gold = np.zeros(100, dtype=np.int64)
    cur = gold.copy()
    cur[:4] = 1  # drop of 0.04 with 4 discordant pairs: a true drop > 0.05 is impossible
    assert mcnemar_p_value(gold, gold.copy(), cur, 0.05) == 1.0
    assert mcnemar_p_value(gold, gold.copy(), gold.copy(), 0.0) == 1.0


def test_strict_fails_a_drop_that_is_not_significant() -> None:
    cur_pred = flip(GOLD, range(10))
    kwargs = dict(
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, GOLD),
    )
    rules = [Rule("max-drop", "accuracy", 0.04)]
    lenient = check_gate(make_results(GOLD, cur_pred), make_results(GOLD, GOLD), rules, **kwargs)
    strict = check_gate(
        make_results(GOLD, cur_pred), make_results(GOLD, GOLD), rules, strict=True, **kwargs
    )
    assert lenient.outcomes[0].verdict == "warn" and lenient.passed
    assert "not significant" in lenient.outcomes[0].message
    assert strict.outcomes[0].verdict == "fail" and not strict.passed
    assert strict.outcomes[0].p_value == pytest.approx(0.9**10)


def test_alpha_decides_significance() -> None:
    cur_pred = flip(GOLD, range(10))
    kwargs = dict(
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, GOLD),
    )
    rules = [Rule("max-drop", "accuracy", 0.01)]  # p = 0.6**10 = 0.006
    args = (make_results(GOLD, cur_pred), make_results(GOLD, GOLD), rules)
    assert check_gate(*args, alpha=0.01, **kwargs).outcomes[0].verdict == "fail"
    assert check_gate(*args, alpha=0.005, **kwargs).outcomes[0].verdict == "warn"


# --- paired bootstrap -----------------------------------------------------------------------


def _f1_gate(base_pred, cur_pred, tolerance=0.0, **kwargs):
    return check_gate(
        make_results(GOLD, cur_pred),
        make_results(GOLD, base_pred),
        [Rule("max-drop", "macro_f1", tolerance)],
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, base_pred),
        **kwargs,
    ).outcomes[0]


def test_bootstrap_fails_a_large_f1_drop_with_the_smallest_p_value() -> None:
    result = _f1_gate(GOLD, flip(GOLD, range(0, 200, 5)), n_bootstrap=999)
    assert result.verdict == "fail" and result.test == "paired bootstrap"
    assert result.p_value == pytest.approx(1 / 1000)
    expected = f1_score(GOLD, flip(GOLD, range(0, 200, 5)), average="macro") - 1.0
    assert result.delta == pytest.approx(expected)
    assert result.ci[0] < result.delta < result.ci[1]


def test_bootstrap_p_value_of_a_single_flip_is_the_chance_it_is_not_drawn() -> None:
    # Only example 0 differs: a resample shows no drop exactly when it does not draw it,
    # which happens with probability (1 - 1/n)^n.
    result = _f1_gate(GOLD, flip(GOLD, [0]), n_bootstrap=4000)
    assert result.verdict == "warn"
    assert result.p_value == pytest.approx((1 - 1 / N) ** N, abs=0.025)


def test_identical_runs_pass_with_p_one() -> None:
    result = _f1_gate(GOLD, GOLD)
    assert result.verdict == "pass" and result.p_value == 1.0 and result.delta == 0.0
    assert result.ci == (0.0, 0.0)


def test_bootstrap_spread_matches_resampling_examples_directly() -> None:
    rng = np.random.default_rng(3)
    base_pred = flip(GOLD, rng.choice(N, 30, replace=False).tolist())
    cur_pred = flip(GOLD, rng.choice(N, 40, replace=False).tolist())
    result = _f1_gate(base_pred, cur_pred, tolerance=0.5, n_bootstrap=4000)
    gold, base, cur = np.array(GOLD), np.array(base_pred), np.array(cur_pred)
    naive = []
    for _ in range(1000):
        idx = rng.integers(0, N, N)
        naive.append(
            f1_score(gold[idx], cur[idx], average="macro")
            - f1_score(gold[idx], base[idx], average="macro")
        )
    low, high = np.percentile(naive, [2.5, 97.5])
    assert result.ci[0] == pytest.approx(low, abs=0.02)
    assert result.ci[1] == pytest.approx(high, abs=0.02)


def test_per_class_drops_use_the_paired_bootstrap() -> None:
    cur_pred = flip(GOLD, range(30))  # 30 "neg" examples predicted "pos"
    report = check_gate(
        make_results(GOLD, cur_pred),
        make_results(GOLD, GOLD),
        {"max-drop": {"recall[neg]": 0.05, "recall[pos]": 0.0}},
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, GOLD),
    )
    neg, pos = outcome(report, "recall[neg]"), outcome(report, "recall[pos]")
    assert neg.delta == pytest.approx(-0.3) and neg.verdict == "fail"
    assert neg.test == "paired bootstrap" and neg.p_value < 0.01
    assert pos.delta == 0.0 and pos.verdict == "pass"


# --- unpaired comparisons -------------------------------------------------------------------


def test_different_fingerprints_need_allow_different_data_and_are_unpaired() -> None:
    cur_pred = flip(GOLD, range(10))
    args = (
        make_results(GOLD, cur_pred, fingerprint="sha256:" + "b" * 64),
        make_results(GOLD, GOLD),
        {"max-drop": {"accuracy": 0.04}},
    )
    kwargs = dict(
        current_predictions=predictions(GOLD, cur_pred),
        baseline_predictions=predictions(GOLD, GOLD),
    )
    with pytest.raises(UsageError, match=r"different data: .* pass --allow-different-data"):
        check_gate(*args, **kwargs)
    report = check_gate(*args, allow_different_data=True, **kwargs)
    assert report.comparison.startswith("unpaired: different data") and report.different_data
    assert len(report.warnings) == 1 and "dataset fingerprints differ" in report.warnings[0]
    assert "> **Different data:**" in summary_markdown(report)
    props = ElementTree.fromstring(junit_xml(report)).iter("property")
    assert {p.get("name"): p.get("value") for p in props}["different_data"] == "true"
    # without a paired test a drop of 0.05 > 0.04 fails (it only warned when paired)
    result = report.outcomes[0]
    assert result.verdict == "fail" and result.p_value is None and result.ci is None


def test_missing_predictions_fall_back_to_unpaired_with_a_warning() -> None:
    report = check_gate(
        make_results(GOLD, GOLD),
        make_results(GOLD, GOLD),
        {"max-drop": {"accuracy": 0.0}},
        current_predictions=predictions(GOLD, GOLD),
    )
    assert "no per-example predictions for the baseline results" in report.warnings[0]
    assert report.outcomes[0].verdict == "pass"


def test_stale_predictions_are_not_used_for_a_paired_test() -> None:
    report = check_gate(
        make_results(GOLD, GOLD),
        make_results(GOLD, GOLD),
        {"max-drop": {"accuracy": 0.0}},
        current_predictions=predictions(GOLD, flip(GOLD, [1])),
        baseline_predictions=predictions(GOLD, GOLD),
    )
    assert "do not reproduce its confusion matrix" in report.warnings[0]


def test_lower_is_better_metrics_and_probes_count_a_rise_as_a_drop() -> None:
    def probe(spread: float) -> dict[str, ProbeResult]:
        term = ProbeTerm("France", None, {"pos": 0.5}, 0.0, [0.5])
        return {
            "country": ProbeResult(
                name="country",
                target_label="pos",
                templates=["I watched it in {}."],
                terms=[term],
                range=Metric(spread, spread - 0.05, spread + 0.05),
                std=spread / 3,
                flip_rate=0.1,
                lowest=[("France", 0.4)],
                highest=[("Peru", 0.4 + spread)],
            )
        }

    report = check_gate(
        make_results(GOLD, GOLD, probes=probe(0.4)),
        make_results(GOLD, GOLD, probes=probe(0.2)),
        {
            "max": {"probe.country.range": 0.3, "probe.country.flip_rate": 0.2},
            "max-drop": {"probe.country.std": 0.01},
        },
    )
    assert outcome(report, "probe.country.range").verdict == "fail"
    assert outcome(report, "probe.country.range").ci == (pytest.approx(0.35), pytest.approx(0.45))
    assert outcome(report, "probe.country.flip_rate").verdict == "pass"
    std = outcome(report, "probe.country.std")
    assert std.delta == pytest.approx(0.2 / 3) and std.verdict == "fail"
    with pytest.raises(UsageError, match="probe 'country' in the current results has no group_gap"):
        check_gate(
            make_results(GOLD, GOLD, probes=probe(0.4)),
            None,
            {"max": {"probe.country.group_gap": 0.1}},
        )


# --- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "baseline", "message"),
    [
        (
            {"min": {"acuracy": 0.9}},
            None,
            r"unknown metric 'acuracy' .*did you mean 'accuracy'.*known metrics: accuracy, balanced_accuracy",
        ),
        ({"min": {"recall[neutral]": 0.9}}, None, r"no class 'neutral' .* classes are: neg, pos"),
        ({"max": {"probe.gender.range": 0.9}}, None, r"unknown metric 'probe.gender.range'"),
        ({"max-drop": {"accuracy": 0.01}}, None, r"max-drop accuracy=0.01 needs a baseline"),
        ({}, None, r"no gate rules"),
        ({"maximum": {"accuracy": 1}}, None, r"rules has unknown keys \['maximum'\]"),
    ],
)
def test_usage_errors(rules, baseline, message) -> None:
    results = make_results(GOLD, GOLD)
    with pytest.raises(UsageError, match=message):
        check_gate(results, baseline, rules)


def test_alpha_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--alpha must be between 0 and 1"):
        check_gate(make_results(GOLD, GOLD), None, {"min": {"accuracy": 0.5}}, alpha=1.5)


# --- baseline from a card -------------------------------------------------------------------

CARD = """\
---
license: apache-2.0
model-index:
- name: my-model
  results:
  - task: {type: text-classification, name: Text Classification}
    dataset: {name: Test set, type: test.jsonl, split: test}
    metrics:
    - {type: accuracy, name: Accuracy, value: 0.99}
    - {type: macro_f1, name: Macro F1, value: %s}
---
# my-model
"""


def test_baseline_from_a_card(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(CARD % "0.9")
    cur_pred = flip(GOLD, range(10))  # accuracy 0.95
    report = check_gate(
        make_results(GOLD, cur_pred),
        card,
        {"max-drop": {"accuracy": 0.01, "macro_f1": 0.1}, "min": {"recall[neg]": 0.5}},
    )
    assert "model card" in report.comparison and not report.warnings
    acc = outcome(report, "accuracy")
    assert acc.baseline == 0.99 and acc.delta == pytest.approx(-0.04) and acc.verdict == "fail"
    assert outcome(report, "macro_f1").verdict == "pass"
    assert outcome(report, "recall[neg]").baseline is None
    with pytest.raises(
        UsageError, match=r"has no 'weighted_f1' in its model-index \(it has: accuracy, macro_f1\)"
    ):
        check_gate(make_results(GOLD, GOLD), card, {"max-drop": {"weighted_f1": 0.1}})


def test_a_card_with_a_bad_value_is_refused_as_baseline(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(CARD % "'high'")
    from cardgen.errors import CardError

    with pytest.raises(CardError, match=r"metrics\[1\]\.value must be a finite number, got 'high'"):
        check_gate(make_results(GOLD, GOLD), card, {"max-drop": {"accuracy": 0.01}})


# --- pairing thousands of rows ---------------------------------------------------------------

THREE = ["neg", "neu", "pos"]


def _three_label_runs(n: int = 3000) -> tuple[list[str], list[str], list[str]]:
    """Gold, baseline and current labels in index order: the current run loses ~2 points."""
    rng = np.random.default_rng(7)
    gold = rng.integers(0, 3, n)
    base = np.where(rng.random(n) < 0.85, gold, rng.integers(0, 3, n))
    cur = np.where(rng.random(n) < 0.04, (gold + 1) % 3, base)
    cur = np.where(rng.random(n) < 0.1, gold, cur)
    return ([THREE[i] for i in column] for column in (gold, base, cur))  # type: ignore[return-value]


def _shuffled_rows(gold: list[str], predicted: list[str], seed: int) -> list[dict]:
    """Prediction rows with sparse indices (7 i + 3), in a shuffled order."""
    rows = [
        {"index": 7 * i + 3, "gold": g, "predicted": p, "probabilities": {p: 0.9}}
        for i, (g, p) in enumerate(zip(gold, predicted, strict=True))
    ]
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


@pytest.mark.parametrize("tolerance", [0.0, 0.01, 0.02])
@pytest.mark.parametrize("passed", [False, True], ids=["run directories", "passed rows"])
def test_paired_tests_on_thousands_of_shuffled_rows_match_an_independent_computation(
    tmp_path: Path, tolerance: float, passed: bool
) -> None:
    """The pairing aligns rows by index whatever their file order and label order: McNemar
    matches scipy on directly counted discordant pairs, the bootstrap matches a pairing built
    straight from the label lists, and the verdicts follow."""
    from cardgen.gate import Pairing, paired_bootstrap_deltas
    from cardgen.gate.rules import EPS

    gold, base, cur = _three_label_runs()
    n = len(gold)
    base_labels = ["pos", "neg", "neu"]  # the baseline lists its labels in another order
    rules = {"max-drop": {"accuracy": tolerance, "macro_f1": tolerance, "f1[neu]": 2 * tolerance}}
    current, baseline = make_results(gold, cur, labels=THREE), make_results(
        gold, base, labels=base_labels
    )
    cur_rows, base_rows = _shuffled_rows(gold, cur, 1), _shuffled_rows(gold, base, 2)
    if passed:
        report = check_gate(
            current, baseline, rules, current_predictions=cur_rows, baseline_predictions=base_rows
        )
    else:
        current.save(tmp_path / "new")
        baseline.save(tmp_path / "main")
        write_jsonl(tmp_path / "new" / "predictions.jsonl", cur_rows)
        write_jsonl(tmp_path / "main" / "predictions.jsonl", base_rows)
        report = check_gate(tmp_path / "new", tmp_path / "main", rules)
    assert report.comparison == f"paired on {n:,} examples of the same dataset"
    assert not report.warnings

    worse = sum(b == g != c for g, b, c in zip(gold, base, cur, strict=True))
    better = sum(c == g != b for g, b, c in zip(gold, base, cur, strict=True))
    assert worse > better > 10
    share = 0.5 + n * tolerance / (2 * (worse + better))
    expected = {"accuracy": binomtest(worse, worse + better, share, alternative="greater").pvalue}
    code = {label: i for i, label in enumerate(THREE)}
    pairing = Pairing(THREE, *(np.array([code[x] for x in col]) for col in (gold, base, cur)))
    deltas = paired_bootstrap_deltas(pairing, ["macro_f1", "f1[neu]"], n_resamples=2000, seed=0)
    for name, limit in (("macro_f1", tolerance), ("f1[neu]", 2 * tolerance)):
        drops = -deltas[name]
        expected[name] = (1 + np.sum(drops <= limit + EPS)) / (1 + len(drops))
    f1 = f1_score(gold, cur, labels=THREE, average=None) - f1_score(
        gold, base, labels=THREE, average=None
    )
    observed = {
        "accuracy": (better - worse) / n,
        "macro_f1": f1.mean(),
        "f1[neu]": f1[1],
    }
    for name, p_value in expected.items():
        result = outcome(report, name)
        assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-15), name
        assert result.delta == pytest.approx(observed[name], abs=1e-12), name
        limit = rules["max-drop"][name]
        verdict = "pass" if -observed[name] <= limit + EPS else "fail" if p_value < 0.05 else "warn"
        assert result.verdict == verdict, (name, result.message)
    assert {outcome(report, name).verdict for name in expected} >= {"fail"}


# --- run directories, config, reports -------------------------------------------------------


def test_run_directories_are_paired_through_their_predictions(tmp_path: Path) -> None:
    base = write_run(tmp_path / "main", GOLD, GOLD)
    new = write_run(tmp_path / "new", GOLD, flip(GOLD, range(10)))
    report = check_gate(new, base / "results.json", {"max-drop": {"accuracy": 0.0}})
    assert report.outcomes[0].p_value == pytest.approx(0.5**10)
    assert report.current == str(new) and report.baseline == str(base / "results.json")


def test_a_corrupt_predictions_file_is_a_results_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "new", GOLD, GOLD)
    (run / "predictions.jsonl").write_text("{not json\n")
    with pytest.raises(ResultsError, match=r"predictions.jsonl.* not valid JSON"):
        check_gate(run, None, {"min": {"accuracy": 0.5}})


def test_config_tables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "x"
            [tool.cardgen.gate]
            baseline = "runs/main"
            alpha = 0.01
            strict = true
            min = { accuracy = 0.9, "recall[talk.religion.misc]" = 0.7 }
            max-drop = { macro_f1 = 0.01 }
            max = { "probe.country.range" = 0.3 }
            """
        )
    )
    config = load_gate_config(directory=tmp_path)
    assert config.baseline == str(tmp_path / "runs" / "main")
    assert (config.alpha, config.strict) == (0.01, True)
    assert set(config.rules) == {
        Rule("min", "accuracy", 0.9),
        Rule("min", "recall[talk.religion.misc]", 0.7),
        Rule("max-drop", "macro_f1", 0.01),
        Rule("max", "probe.country.range", 0.3),
    }
    # cardgen.toml comes first and may spell the table [gate]
    (tmp_path / "cardgen.toml").write_text("[gate]\nmin = { accuracy = 0.5 }\n")
    assert load_gate_config(directory=tmp_path).rules == [Rule("min", "accuracy", 0.5)]
    assert load_gate_config(directory=tmp_path / "nowhere").rules == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.cardgen.gate]\nminimum = { accuracy = 0.9 }\n", r"unknown keys \['minimum'\]"),
        ("[tool.cardgen.gate]\nmin = { accuracy = 'high' }\n", "accuracy must be a number"),
        ("[tool.cardgen.gate]\nmin = 0.9\n", r"min must be a table of METRIC = VALUE"),
        ("[tool.cardgen.gate]\nstrict = 'yes'\n", "strict must be true or false"),
        ("[tool.other]\n", r"has no \[tool.cardgen.gate\] table"),
        ("[tool.cardgen.gate\n", "cannot read config file"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_gate_config(path)


def _failing_report(tmp_path: Path):
    base = write_run(tmp_path / "main", GOLD, GOLD)
    new = write_run(tmp_path / "new", GOLD, flip(GOLD, range(90, 110)))  # 10 of each class
    return check_gate(
        new,
        base,
        {
            "min": {"accuracy": 0.8, "recall[pos]": 0.99},
            "max-drop": {"accuracy": 0.01, "macro_f1": 0.5},
        },
    )


def test_junit_xml_has_one_test_case_per_rule(tmp_path: Path) -> None:
    report = _failing_report(tmp_path)
    root = ElementTree.fromstring(junit_xml(report))
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [str(o.rule) for o in report.outcomes]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"min recall[pos]=0.99", "max-drop accuracy=0.01"}
    assert "McNemar p =" in failed["max-drop accuracy=0.01"].get("message")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["baseline"] == str(tmp_path / "main") and props["alpha"] == "0.05"


def test_step_summary_markdown(tmp_path: Path) -> None:
    report = _failing_report(tmp_path)
    text = summary_markdown(report)
    assert text.startswith("### ❌ cardgen gate FAILED: 2 of 4 rules")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # header and one row per rule
    assert "recall[pos]" in text and "**fail**" in text
    assert re.search(r"\| max-drop accuracy=0\.01 \| 0\.9000 \| 1\.0000 \| -0\.1000 \|", text)


# --- command line ---------------------------------------------------------------------------


def test_cli_exit_codes_junit_and_step_summary(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = write_run(tmp_path / "main", GOLD, GOLD)
    new = write_run(tmp_path / "new", GOLD, flip(GOLD, range(10)))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    code, out, _ = run(capsys, "gate", str(new), "--min", "accuracy=0.9", "--junit", "ok.xml")
    assert code == 0 and "gate passed: 1 rule" in out
    assert ElementTree.parse(tmp_path / "ok.xml").getroot().find("testsuite").get("failures") == "0"

    code, out, _ = run(
        capsys,
        "gate",
        str(new),
        "--baseline",
        str(base),
        "--max-drop",
        "accuracy=0.01",
        "--min",
        "accuracy=0.9",
        "--junit",
        "fail.xml",
    )
    assert code == 1 and "gate FAILED: 1 of 2 rules" in out
    assert "fail: max-drop accuracy=0.01: accuracy worsened" in out
    assert (
        ElementTree.parse(tmp_path / "fail.xml").getroot().find("testsuite").get("failures") == "1"
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n") and text.count("### ") == 2

    # a drop that is real but within what --alpha 0.0001 calls noise only warns
    code, out, _ = run(
        capsys,
        "gate",
        str(new),
        "--baseline",
        str(base),
        "--max-drop",
        "accuracy=0.01",
        "--alpha",
        "0.0001",
    )
    assert code == 0 and "warn: max-drop accuracy=0.01" in out
    code, _, _ = run(
        capsys,
        "gate",
        str(new),
        "--baseline",
        str(base),
        "--max-drop",
        "accuracy=0.01",
        "--alpha",
        "0.0001",
        "--strict",
    )
    assert code == 1


def test_cli_reads_the_config_table(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_run(tmp_path / "runs" / "main", GOLD, GOLD)
    new = write_run(tmp_path / "runs" / "new", GOLD, flip(GOLD, range(10)))
    (tmp_path / "cardgen.toml").write_text(
        '[tool.cardgen.gate]\nbaseline = "runs/main"\nmax-drop = { accuracy = 0.01 }\n'
    )
    code, out, _ = run(capsys, "gate", str(new))
    assert code == 1 and "max-drop accuracy=0.01" in out
    # a flag overrides the config's rule for the same metric
    code, out, _ = run(capsys, "gate", str(new), "--max-drop", "accuracy=0.05")
    assert code == 0 and "accuracy=0.05" in out and "accuracy=0.01" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min", "acuracy=0.9"], "unknown metric 'acuracy'"),
        (["--min", "accuracy"], "--min expects NAME=VALUE"),
        (["--max-drop", "accuracy=0.01"], "needs a baseline"),
        (["--min", "accuracy=0.9", "--baseline", "missing"], "no results file at missing"),
        (
            ["--min", "accuracy=0.9", "--config", "nope.toml"],
            "config file nope.toml does not exist",
        ),
        ([], "no gate rules"),
    ],
)
def test_cli_usage_errors_exit_2(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    new = write_run(tmp_path / "new", GOLD, GOLD)
    code, out, err = run(capsys, "gate", str(new), *args, "--junit", "gate.xml")
    assert code == 2, err
    assert message in err and err.count("error:") == 1 and "Traceback" not in out + err
    assert not (tmp_path / "gate.xml").exists()


def test_the_ci_workflow_in_the_docs_parses_and_uses_real_options() -> None:
    import typer.main
    import yaml

    from cardgen.cli import app

    text = (Path(__file__).parents[1] / "docs" / "ci.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    workflow = yaml.safe_load(block)
    steps = workflow["jobs"]["evaluate"]["steps"]
    scripts = [s["run"].replace("\\\n", " ") for s in steps if "run" in s]
    calls = [line.strip() for script in scripts for line in script.splitlines()]
    calls = [line for line in calls if line.startswith("cardgen ")]
    commands = typer.main.get_group(app).commands
    used = {call.split()[1] for call in calls}
    assert {"evaluate", "card", "gate", "push"} <= used and used <= set(commands)
    for call in calls:
        name = call.split()[1]
        if name not in commands:
            continue
        options = {opt for p in commands[name].params for opt in p.opts + p.secondary_opts}
        flags = set(re.findall(r"(?<!\S)--[a-z][a-z-]*", call))
        assert flags <= options, (call, flags - options)
    gate_step = next(s for s in steps if s.get("name") == "Gate")
    assert "--junit" in gate_step["run"] and "--baseline runs/main" in gate_step["run"]


def test_a_malformed_predictions_row_is_a_results_error() -> None:
    rows = predictions(GOLD, GOLD)
    del rows[3]["predicted"]
    with pytest.raises(ResultsError, match=r"predictions file is malformed \(no 'predicted'"):
        check_gate(
            make_results(GOLD, GOLD),
            make_results(GOLD, GOLD),
            {"max-drop": {"accuracy": 0.0}},
            current_predictions=rows,
            baseline_predictions=predictions(GOLD, GOLD),
        )
