"""Whether two runs may be compared: the one check ``cardgen gate`` and ``cardgen compare`` share.

Two runs measure the same thing when they evaluated the same task (single-label or
multi-label: their metrics share names, not meanings), the same kind of input (one text or a
pair of texts per row) and the same label set. Anything else is an input error, whatever the
data and the flags. Runs that measure the same thing should also have seen the same data
(equal dataset fingerprints): the gate refuses different data unless ``allow_different_data``,
compare allows it; both then say how the data differed. A card baseline is checked on what it
shows: the labels of its per-class table, the task its model-index implies, its columns and
its fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardgen.errors import LabelError, UsageError
from cardgen.gate.runs import Run, same_labels
from cardgen.gate.values import clip


@dataclass(frozen=True)
class Roles:
    """How messages name the two runs (``current`` is judged against ``baseline``), and the
    fix they suggest for runs that measure different things."""

    current: str
    baseline: str
    opening: str
    fix: str


GATE = Roles(
    current="current",
    baseline="baseline",
    opening="the current run and baseline {baseline}",
    fix="gate against a baseline evaluated on the same task, inputs and labels",
)
COMPARE = Roles(
    current="B",
    baseline="A",
    opening="run B ({current}) and run A ({baseline})",
    fix=(
        "compare runs evaluated on the same task, inputs and labels (A is the baseline, B the "
        "current run)"
    ),
)
_TASKS = {"single_label": "single-label", "multi_label": "multi-label"}


def check_comparable(
    current: Run, baseline: Run, *, allow_different_data: bool, roles: Roles = GATE
) -> str | None:
    """Refuse runs that measure different things (see the module): LabelError when their
    labels differ, else UsageError, naming every difference; refuse different data (UsageError)
    unless ``allow_different_data``. Return a note saying how the data differed, if it did."""
    differences = _differences(current, baseline, roles)
    if differences:
        sources = {"current": clip(current.source, 120), "baseline": clip(baseline.source, 120)}
        opening = roles.opening.format(**sources)
        labels = any(d.startswith("different labels") for d in differences)
        raise (LabelError if labels else UsageError)(
            f"{opening} measure different things: {'; '.join(differences)}; their metrics cannot "
            f"be compared: {roles.fix}"
        )
    return _data_note(current, baseline, allow_different_data=allow_different_data, roles=roles)


def _differences(current: Run, baseline: Run, roles: Roles) -> list[str]:
    """What the two runs measure differently: task, inputs, labels (unknown sides match)."""
    cur, base = roles.current, roles.baseline
    out = []
    if current.task and baseline.task and current.task != baseline.task:
        out.append(
            f"different tasks ({cur}: {_TASKS.get(current.task, current.task)}, {base}: "
            f"{_TASKS.get(baseline.task, baseline.task)}): a multi-label micro-F1 is not a "
            "single-label one"
        )
    if None not in (current.pairs, baseline.pairs) and current.pairs != baseline.pairs:
        out.append(
            f"different inputs ({cur}: {_inputs(current)}, {base}: {_inputs(baseline)}): a "
            "model of sentence pairs solves another task than one of single texts"
        )
    labels, other = current.labels or [], baseline.labels
    if other is not None:
        same = set(labels) == set(other) if baseline.results else same_labels(labels, other)
        if not same:
            out.append(
                f"different labels ({cur}: {clip(', '.join(labels), 200)}; {base}: "
                f"{clip(', '.join(other), 200)})"
            )
    return out


def _inputs(run: Run) -> str:
    """What one row of the run is: single texts, or text pairs (with their columns)."""
    if not run.pairs:
        return "single texts"
    dataset = run.results.dataset if run.results is not None else None
    if dataset is None or dataset.text_pair is None:
        return "text pairs"
    return f"text pairs {clip(f'{dataset.text_column}/{dataset.text_pair.column}', 80)}"


def _data_note(
    current: Run, baseline: Run, *, allow_different_data: bool, roles: Roles
) -> str | None:
    """How the runs' data differed, or None when it did not (or a card does not say);
    UsageError for different data unless ``allow_different_data``."""
    new, old = current.fingerprint, baseline.fingerprint
    if baseline.results is None and old is None:
        return None  # a card that does not show its data: nothing to compare
    if isinstance(new, str) and new and new == old:
        return None
    note = (
        f"the runs saw different data: dataset fingerprints differ ({roles.current} "
        f"{_short(new)} on {_dataset(current)}, {roles.baseline} {_short(old)} on "
        f"{_dataset(baseline)})"
    )
    older = [run.source for run, fp in ((current, new), (baseline, old)) if _is_old_scheme(fp)]
    if older and not all(_is_old_scheme(fp) for fp in (new, old)):
        note += (
            f"; {clip(older[0], 80)} was fingerprinted by an older cardgen (sha256: over all "
            "rows, not rows-sha256: over blocks of rows), so the fingerprints cannot match even "
            "on the same data: evaluate it again with this cardgen"
        )
    if not allow_different_data:
        raise UsageError(
            f"{note}, so the gate cannot tell a regression from a change of data; evaluate both "
            "on the same dataset, or pass --allow-different-data to compare the values anyway"
        )
    return note


def _short(fingerprint: str | None) -> str:
    """A fingerprint for a message: its scheme and 12 hex digits."""
    scheme, _, digest = str(fingerprint).rpartition(":")
    return clip(f"{scheme}:{digest[:12]}" if scheme else digest[:19])


def _is_old_scheme(fingerprint: str | None) -> bool:
    """Whether a fingerprint is from cardgen before block fingerprints (one sha256 of rows)."""
    return isinstance(fingerprint, str) and fingerprint.startswith("sha256:")


def _dataset(run: Run) -> str:
    if run.results is None:
        return f"card {run.source}"
    return clip(str(run.results.dataset.source), 80)
