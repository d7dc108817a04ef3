"""``compare_runs`` of three or more runs (compare/many.py): leaderboard, Holm-corrected paired
tests, best run per slice, rows every run gets wrong, reports, and what is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import results_from_predictions
from conftest import run_cli as run
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, f1_score
from test_compare import GOLD, HOSTILE, LABELS, N, flip, rows, write_run, write_sliced_run

import cardgen
from cardgen import compare_runs, load_results
from cardgen.compare.deltas import bootstrap_p_value
from cardgen.compare.many import Leaderboard, holm
from cardgen.compare.report import comparison_html, comparison_markdown
from cardgen.errors import LabelError, UsageError
from cardgen.gate import paired_bootstrap_deltas
from cardgen.gate.paired import Pairing

WRONG = {  # the rows each run gets wrong: #1 and #3 tie at 0.95
    1: set(range(0, 10)),
    2: set(range(5, 30)),
    3: {*range(3, 9), 100, 102, 104, 106},
    4: set(range(0, 40)),
}
SHARED = {5, 6, 7, 8}  # wrong in every run


def predicted(run: int, gold: list[str] = GOLD, labels: list[str] = LABELS) -> list[str]:
    return flip(gold, sorted(WRONG[run]), labels)


def confidence(i: int) -> float:
    return 0.9 if i == 7 else 0.6


@pytest.fixture
def four(tmp_path: Path) -> list[Path]:
    genres = ["drama" if i % 2 == 0 else "comedy" for i in range(N)]
    return [
        write_sliced_run(tmp_path / f"r{run}", predicted(run), confidence, genres) for run in WRONG
    ]


def holm_step_down(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's procedure as first stated: reject the hypotheses of the smallest p-values while
    p_(i) <= alpha / (m - i + 1); stop at the first that is not."""
    m = len(p_values)
    reject = [False] * m
    for step, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        if p_values[i] > alpha / (m - step):
            break
        reject[i] = True
    return reject


def test_holm_by_hand() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.04*1, 0.06) = 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_leaderboard_ranks_and_tests_every_pair(four: list[Path]) -> None:
    board = compare_runs(*four, n_bootstrap=300, seed=1)
    assert isinstance(board, Leaderboard) and board.paired and board.by == "accuracy"
    accuracy = {run: accuracy_score(GOLD, predicted(run)) for run in WRONG}
    assert [(s.rank, s.run) for s in board.standings] == [(1, 1), (1, 3), (3, 2), (4, 4)]
    assert [s.value for s in board.standings] == pytest.approx(
        [accuracy[s.run] for s in board.standings]
    )
    results = load_results(four[0])
    assert board.standings[0].ci == (
        results.metrics["accuracy"].ci_low,
        results.metrics["accuracy"].ci_high,
    )
    assert [(p.better, p.worse) for p in board.pairs] == [
        (1, 3),
        (1, 2),
        (1, 4),
        (3, 2),
        (3, 4),
        (2, 4),
    ]
    for p in board.pairs:
        only_better_right = len(WRONG[p.worse] - WRONG[p.better])
        only_worse_right = len(WRONG[p.better] - WRONG[p.worse])
        discordant = only_better_right + only_worse_right
        assert p.delta.delta == pytest.approx(accuracy[p.better] - accuracy[p.worse])
        assert p.delta.test == "McNemar"
        assert p.delta.p_value == pytest.approx(binomtest(only_worse_right, discordant, 0.5).pvalue)
        assert p.delta.ci is not None and p.delta.ci[0] <= p.delta.delta <= p.delta.ci[1]
    raw = [p.delta.p_value for p in board.pairs]
    assert [p.p_holm for p in board.pairs] == pytest.approx(holm(raw))
    assert [p.significant for p in board.pairs] == holm_step_down(raw, 0.05)
    assert [p.significant for p in board.pairs] == [False, True, True, True, True, True]


def test_holm_matches_statsmodels(four: list[Path]) -> None:
    from statsmodels.stats import multitest

    board = compare_runs(*four, n_bootstrap=100, alpha=0.01)
    raw = [p.delta.p_value for p in board.pairs]
    reject, corrected, _, _ = multitest.multipletests(raw, alpha=0.01, method="holm")
    assert [p.p_holm for p in board.pairs] == pytest.approx(list(corrected))
    assert [p.significant for p in board.pairs] == list(reject)


def test_best_run_per_slice_and_rows_every_run_gets_wrong(four: list[Path]) -> None:
    board = compare_runs(*four, n_bootstrap=50, max_examples=3)
    assert board.slice_metric == "accuracy"
    for piece in board.slices:
        rows_in = [i for i in range(N) if (i % 2 == 0) == (piece.value == "drama")]
        expected = [
            accuracy_score([GOLD[i] for i in rows_in], [predicted(run)[i] for i in rows_in])
            for run in WRONG
        ]
        assert piece.values == pytest.approx(expected)
        assert piece.best == [
            run for run, v in zip(WRONG, expected, strict=True) if v == max(expected)
        ]
    assert {p.value: p.best for p in board.slices} == {"drama": [1], "comedy": [3]}
    assert board.n_mistakes == len(SHARED)
    assert [m.index for m in board.mistakes] == [7, 5, 6]  # most confident first, then by index
    first = board.mistakes[0]
    assert first.gold == GOLD[7] and first.predicted == [predicted(1)[7]] * 4
    assert first.probabilities == [0.9] * 4


def test_another_metric_ranks_with_its_own_test(four: list[Path]) -> None:
    board = compare_runs(*four, by="macro_f1", n_bootstrap=200, seed=4)
    macro = {run: f1_score(GOLD, predicted(run), average="macro") for run in WRONG}
    assert [s.run for s in board.standings] == sorted(WRONG, key=lambda r: (-macro[r], r))
    p = next(p for p in board.pairs if (p.better, p.worse) == (1, 2))
    codes = {label: i for i, label in enumerate(LABELS)}
    pairing = Pairing(
        LABELS,
        np.array([codes[g] for g in GOLD]),
        np.array([codes[x] for x in predicted(2)]),
        np.array([codes[x] for x in predicted(1)]),
    )
    replicates = paired_bootstrap_deltas(pairing, ["macro_f1"], n_resamples=200, seed=4)["macro_f1"]
    assert p.delta.test == "paired bootstrap"
    assert p.delta.p_value == pytest.approx(bootstrap_p_value(replicates))
    lower = compare_runs(*four, by="log_loss", n_bootstrap=20)
    assert not lower.higher_is_better and not lower.paired
    values = [s.value for s in lower.standings]
    assert values == sorted(values) and all(p.p_holm is None for p in lower.pairs)
    assert "has no paired test" in lower.comparison


def test_results_objects_with_predictions(four: list[Path]) -> None:
    board = compare_runs(
        *(results_from_predictions(GOLD, predicted(run), labels=LABELS) for run in WRONG),
        predictions=[rows(GOLD, predicted(run), LABELS, confidence) for run in WRONG],
        n_bootstrap=100,
    )
    from_files = compare_runs(*four, n_bootstrap=100)
    assert [p.p_holm for p in board.pairs] == [p.p_holm for p in from_files.pairs]
    assert board.n_mistakes == from_files.n_mistakes == 4
    assert "Leaderboard" in cardgen.__all__
    with pytest.raises(UsageError, match="one predictions entry per run: 4 runs, 2"):
        compare_runs(*four, predictions=[None, None])


def test_runs_without_predictions_rank_by_value(four: list[Path]) -> None:
    (four[1] / "predictions.jsonl").unlink()
    board = compare_runs(*four, n_bootstrap=50)
    assert not board.paired and board.n_mistakes is None
    assert any("no per-example predictions" in w for w in board.warnings)
    assert len(board.warnings) == len(set(board.warnings))
    tested = [p for p in board.pairs if p.delta.p_value is not None]
    assert len(tested) == 3  # the pairs without run #2
    assert [p.p_holm for p in tested] == pytest.approx(holm([p.delta.p_value for p in tested]))
    assert "Not listed" in comparison_markdown(board)


def test_different_data_tasks_and_labels_are_refused(tmp_path: Path, capsys) -> None:
    a, b = write_run(tmp_path / "a", GOLD, GOLD), write_run(tmp_path / "b", GOLD, GOLD)
    other = write_run(tmp_path / "c", GOLD, GOLD, fingerprint="sha256:" + "c" * 64)
    with pytest.raises(
        UsageError, match="fingerprints differ .*a ranking needs every run on the same data"
    ):
        compare_runs(a, b, other)
    code, out, err = run(capsys, "compare", str(a), str(b), str(other))
    assert code == 2 and err.startswith("error:") and "same data" in err and out == ""
    multi = load_results(b)
    multi.task = "multi_label"
    with pytest.raises(UsageError, match=r"run #3 .* different tasks \(#3: multi-label"):
        compare_runs(a, b, multi)
    names = ["negative", "positive"]
    renamed = [names[LABELS.index(g)] for g in GOLD]
    labels = write_run(tmp_path / "d", renamed, renamed, labels=names)
    with pytest.raises(LabelError, match="run #2 .*different labels"):
        compare_runs(a, labels, b)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{a}"], "compare needs two runs or more, got 1"),
        (["{a}", "{b}", "--by", "macro_f1"], "--by and --alpha rank three or more runs"),
        (["{a}", "{b}", "{c}", "--by", "nonsense"], "nonsense"),
        (["{a}", "{b}", "{c}", "--alpha", "2"], "--alpha must be between 0 and 1"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    paths = {k: str(write_run(tmp_path / k, GOLD, GOLD)) for k in "abc"}
    code, out, err = run(capsys, "compare", *(arg.format(**paths) for arg in argv))
    assert code == 2 and message in err and out == ""


def test_cli_prints_and_writes_the_leaderboard(four: list[Path], tmp_path: Path, capsys) -> None:
    output = tmp_path / "board.md"
    argv = ["compare", *map(str, four), "--bootstrap", "100", "--examples", "2", "--output"]
    code, out, err = run(capsys, *argv, str(output))
    assert code == 0, err
    words = " ".join(out.split())
    assert "ranked by accuracy" in words
    assert "5 of 6 pairs differ at alpha 0.05 (Holm-corrected McNemar)" in words
    assert (
        "best run per slice" in words
        and "rows every run gets wrong: 2 most confident of 4" in words
    )
    text = output.read_text()
    assert text.startswith("# Comparison of 4 runs")
    for heading in (
        "## Leaderboard",
        "## Paired tests",
        "## Best run per slice",
        "## Rows every run gets wrong",
    ):
        assert heading in text
    assert "| 1 | #1 | model | 0.9500 |" in text and "| #1 | #2 | +0.0750 |" in text
    assert "What differs" not in text  # the runs were written alike
    page = tmp_path / "board.html"
    assert run(capsys, *argv, str(page))[0] == 0
    assert (
        page.read_text().startswith("<!DOCTYPE html>")
        and "<h2>Leaderboard</h2>" in page.read_text()
    )


@pytest.mark.parametrize("count", [9, 17, 30])
def test_many_runs_stay_readable_in_a_terminal(
    count: int, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One column per run squeezed thirty runs into columns a character wide and listed all
    435 pairs: tables now take eight runs each and list at most 30 pairs, the report all."""
    monkeypatch.setenv("COLUMNS", "100")
    genres = ["drama" if i % 2 == 0 else "comedy" for i in range(N)]
    runs = [
        write_sliced_run(tmp_path / f"r{i}", predicted(1 + i % 4), confidence, genres)
        for i in range(count)
    ]
    output = tmp_path / "board.md"
    argv = ["compare", *map(str, runs), "--bootstrap", "20", "--examples", "2", "--output"]
    code, out, err = run(capsys, *argv, str(output))
    assert code == 0, err
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    assert not [line for line in lines if re.fullmatch(r"\s*\S\s*", line)]  # no letter-wide column
    tables = -(-count // 8)
    words = " ".join(out.split())
    assert words.count("best run per slice") == tables
    assert words.count("rows every run gets wrong") == tables
    assert f"(runs #{count - (count - 1) % 8}-#{count})" in words
    pairs = count * (count - 1) // 2
    shown = len([line for line in lines if re.match(r"\s+#\d+\s+#\d+ [+-]", line)])
    assert shown == min(pairs, 30)
    assert (f"30 of {pairs} pairs shown" in words) is (pairs > 30)
    report = output.read_text()
    assert len(re.findall(r"^\| #\d+ \| #\d+ \|", report, re.M)) == pairs


def test_reports_escape_labels_texts_and_paths(tmp_path: Path) -> None:
    gold = [HOSTILE[LABELS.index(g)] for g in GOLD]
    texts = [f"| a |\n# head <img src=x onerror=alert(1)> [l](javascript:x) {i}" for i in range(N)]
    runs = []
    for run_number in (1, 2, 3):
        directory = tmp_path / f"run `{run_number}` | <b>"
        runs.append(
            write_run(
                directory, gold, predicted(run_number, gold, HOSTILE), labels=HOSTILE, texts=texts
            )
        )
    board = compare_runs(*runs, n_bootstrap=20, max_examples=4)
    report = comparison_markdown(board)
    assert "\n# head" not in report and "\\# head" in report
    cells = [line.replace("**yes**", "") for line in report.splitlines() if line.startswith("|")]
    for opener in ("<", "[", "`", "*"):  # escaped, or a code span around a run path
        assert not [c for c in cells if re.search(rf"(?<![\\`]){re.escape(opener)}", c)], opener
    table = report[report.index("| index | gold") :].strip().splitlines()
    assert len(table) == 2 + 4
    for line in table:  # index, gold, three runs and the text: no pipe breaks out of a cell
        assert len(re.findall(r"(?<!\\)\|", line)) == 7, line
    for line in report.splitlines():
        if line.startswith("| 1 | #"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 6, line
    page = comparison_html(board)
    assert "<script" not in page and "<img" not in page and 'href="javascript' not in page


def test_four_max_lengths_rank_with_holm_corrected_tests(max_length_runs: list[Path]) -> None:
    board = compare_runs(*max_length_runs, n_bootstrap=200)
    assert board.paired and len(board.pairs) == 6
    differences = {d.setting: d for d in board.differences}
    assert list(differences) == ["max length", "truncated rows"]
    assert differences["max length"].values[1:] == ("4", "6", "8")
    correct = {}
    for number, run_dir in enumerate(max_length_runs, 1):
        predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").open()]
        correct[number] = np.array([row["gold"] == row["predicted"] for row in predictions])
    values = {s.run: s.value for s in board.standings}
    assert values == pytest.approx({n: ok.mean() for n, ok in correct.items()})
    for p in board.pairs:
        only_worse = int((correct[p.worse] & ~correct[p.better]).sum())
        discordant = only_worse + int((correct[p.better] & ~correct[p.worse]).sum())
        expected = binomtest(only_worse, discordant, 0.5).pvalue if discordant else 1.0
        assert p.delta.p_value == pytest.approx(expected)
    raw = [p.delta.p_value for p in board.pairs]
    assert [p.p_holm for p in board.pairs] == pytest.approx(holm(raw))
    assert [p.significant for p in board.pairs] == holm_step_down(raw, 0.05)
    assert any(p.significant for p in board.pairs)  # 4 tokens is a real loss on this data
