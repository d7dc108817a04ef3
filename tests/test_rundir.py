"""A run directory changes from one whole run to another: staging, swap, lock, recovery."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from cardgen.errors import OutputError
from cardgen.results.rundir import staged_run_dir


def write_run(directory: Path, tag: str, *extra: str) -> None:
    files = {"predictions": "predictions.jsonl", **{f"x{i}": name for i, name in enumerate(extra)}}
    (directory / "results.json").write_text(json.dumps({"tag": tag, "files": files}))
    (directory / "predictions.jsonl").write_text(tag)
    for name in extra:
        (directory / name).write_text(tag)


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and "lock" not in p.name)


def test_new_run_appears_whole(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "a"
    with staged_run_dir(target) as staging:
        assert staging.parent == target.parent and not target.exists()
        write_run(staging, "new")
    assert json.loads((target / "results.json").read_text())["tag"] == "new"
    assert leftovers(target.parent) == []


def test_second_run_replaces_the_first_and_keeps_what_a_person_added(tmp_path: Path) -> None:
    target = tmp_path / "a"
    target.mkdir()
    write_run(target, "old", "old_plot.png")
    (target / "README.md").write_text("my card")  # not a run output: carried over
    with staged_run_dir(target) as staging:
        write_run(staging, "new")
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "predictions.jsonl", "results.json"]
    assert (target / "predictions.jsonl").read_text() == "new"
    assert (target / "README.md").read_text() == "my card"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt(), OutputError("disk")])
def test_a_failed_run_leaves_the_old_one_intact_and_nothing_else(
    tmp_path: Path, failure: BaseException
) -> None:
    target = tmp_path / "a"
    target.mkdir()
    write_run(target, "old", "plot.png")
    before = {p.name: p.read_text() for p in target.iterdir()}
    with pytest.raises(type(failure)), staged_run_dir(target) as staging:
        write_run(staging, "half")
        raise failure
    assert {p.name: p.read_text() for p in target.iterdir()} == before
    assert leftovers(tmp_path) == []


def test_a_failed_first_run_leaves_no_empty_directory(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "a"
    with pytest.raises(RuntimeError), staged_run_dir(target):
        raise RuntimeError("boom")
    assert not target.exists() and leftovers(target.parent) == []


def test_a_second_writer_is_refused_while_one_runs(tmp_path: Path) -> None:
    target = tmp_path / "a"
    with open(tmp_path / ".a.lock", "a+") as held:  # what a running cardgen holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputError, match="another cardgen run is writing"), staged_run_dir(target):
            pass
    with staged_run_dir(target) as staging:  # free again once the first one ends
        write_run(staging, "ok")
    assert (target / "results.json").is_file()


def test_a_crash_between_the_two_renames_is_repaired(tmp_path: Path) -> None:
    # SIGKILL after the old run moved aside and before the new one moved in.
    old = tmp_path / ".a.old-xyz"
    old.mkdir()
    write_run(old, "old")
    stale = tmp_path / ".a.tmp-abc"
    stale.mkdir()
    write_run(stale, "half")
    target = tmp_path / "a"
    with pytest.raises(RuntimeError), staged_run_dir(target):
        raise RuntimeError("fails again")
    assert json.loads((target / "results.json").read_text())["tag"] == "old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.write_text("x"), "is a file, not a run directory"),
        (lambda p: (p.mkdir(), (p / "thesis.tex").write_text("x")), "not a cardgen run"),
    ],
)
def test_what_is_not_a_run_is_never_replaced(tmp_path: Path, setup, message: str) -> None:
    target = tmp_path / "a"
    setup(target)
    with pytest.raises(OutputError, match=message), staged_run_dir(target):
        pass


def test_the_working_directory_is_never_a_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="working directory"), staged_run_dir(Path(".")):
        pass
    assert tmp_path.is_dir()


def test_results_listing_files_outside_are_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "a"
    target.mkdir()
    (tmp_path / "keep.txt").write_text("outside")
    (target / "results.json").write_text(json.dumps({"files": {"x": "../keep.txt"}, "plot": "/etc"}))
    with staged_run_dir(target) as staging:
        write_run(staging, "new")
    assert (tmp_path / "keep.txt").read_text() == "outside"
