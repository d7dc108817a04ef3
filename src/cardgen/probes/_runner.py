"""Running probes: every fill of every probe goes through the model in one batched call."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cardgen.errors import ProbeError
from cardgen.evaluation.options import check_run_options
from cardgen.probes._files import resolve_probes
from cardgen.probes._lexicons import Lexicon
from cardgen.probes._measures import summarize_probe
from cardgen.probes._probe import BUILTIN_SUITES, Probe
from cardgen.results.rundir import staged_run_dir
from cardgen.results.schema import SCHEMA_VERSION, ProbeResult
from cardgen.tasks.decisions import Decider, single_label
from cardgen.trust.atomic import write_json, write_jsonl
from cardgen.trust.untrusted import quote

if TYPE_CHECKING:
    from cardgen.models import TextClassifier
    from cardgen.models.base import RunStats

PROBES_FILE = "probes.json"
PROBE_FILLS_FILE = "probe_fills.jsonl"


@dataclass
class ProbeRun:
    """Probe results by name, the per-fill rows behind them, and the model's time."""

    results: dict[str, ProbeResult]
    fills: list[dict[str, Any]]
    wall_seconds: float
    device: str


def match_label(labels: Sequence[str], name: str, *, what: str) -> str:
    """The model label called ``name`` (case-insensitive), in the model's spelling."""
    for label in labels:
        if label.lower() == name.lower():
            return label
    shown = ", ".join(labels[:20]) + (f", ... ({len(labels):,} in all)" if len(labels) > 20 else "")
    raise ProbeError(f"{what} {quote(name)} is not a label of the model; its labels are: {shown}")


def _label(labels: Sequence[str], name: str | None, what: str) -> str | None:
    return match_label(labels, name, what=what) if name else None


def default_target(labels: Sequence[str]) -> str:
    """The label named ``positive`` (any case); ProbeError when the model has none, since any
    other choice would be a silent guess."""
    found = next((label for label in labels if label.lower() == "positive"), None)
    if found is None:
        shown = ", ".join(quote(label, 40) for label in labels[:20])
        raise ProbeError(
            "the model has no 'positive' label, so say which label the probes measure: pass "
            f"--target-label (one of {shown}) or set target_label in the probe file"
        )
    return found


def checked_target(target_label: str | None) -> str | None:
    """``target_label``, the label probes measure where they name none; ProbeError when empty."""
    if target_label is not None and not target_label.strip():
        raise ProbeError("--target-label is empty; name one of the model's labels")
    return target_label


def probe_labels(
    labels: Sequence[str], probes: Sequence[Probe], target_label: str | None = None
) -> tuple[list[str], list[str | None]]:
    """The target and expected label of each probe among the model's ``labels``, with
    ``target_label`` for probes that name none; ProbeError, before the model runs, for a label
    the model lacks or a model without a default target."""
    target_label = checked_target(target_label)
    targets = [
        _label(labels, p.target_label or target_label, "target label") or default_target(labels)
        for p in probes
    ]
    return targets, [_label(labels, p.expected_label, "expected label") for p in probes]


def measure_probes(
    model: TextClassifier,
    probes: Sequence[Probe],
    *,
    target_label: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
    decider: Decider | None = None,
) -> ProbeRun:
    """Fill every template of every probe with every term, predict once, and summarise.

    ``target_label`` applies to probes that do not name their own; None picks
    ``default_target``. Labels are checked before the model runs. ``decider`` (over the
    model's labels) makes the predictions of a multi-label model label sets.
    """
    decider = decider or single_label(model.labels)
    labels = list(model.labels)
    targets, expected = probe_labels(labels, probes, target_label)
    filled = [probe.fills() for probe in probes]
    scores, stats = _predict(model, filled, batch_size=batch_size, progress=progress)
    results: dict[str, ProbeResult] = {}
    fills: list[dict[str, Any]] = []
    start = 0
    for probe, target, expect, fill in zip(probes, targets, expected, filled, strict=True):
        shape = (len(probe.templates), len(probe.lexicon.terms), len(labels))
        block = scores[start : start + shape[0] * shape[1]].reshape(shape)
        results[probe.name] = summarize_probe(
            probe,
            block,
            labels,
            target,
            expected=expect,
            n_bootstrap=n_bootstrap,
            seed=seed,
            decider=decider,
        )
        fills.extend(_fill_rows(probe, fill, block, labels, decider))
        start += shape[0] * shape[1]
    return ProbeRun(results, fills, stats.wall_seconds, stats.device)


def _predict(
    model: TextClassifier,
    filled: list[tuple[list[str], list[str] | None]],
    *,
    batch_size: int | None,
    progress: bool,
) -> tuple[np.ndarray[Any, Any], RunStats]:
    """Scores of every fill in order: single texts in one call, pairs in another."""
    single = [text for texts, pairs in filled if pairs is None for text in texts]
    firsts = [text for texts, pairs in filled if pairs is not None for text in texts]
    seconds = [pair for _, pairs in filled if pairs is not None for pair in pairs]
    runs = []
    if single or not firsts:
        runs.append(model.predict_scores(single, batch_size=batch_size, progress=progress))
    if firsts:
        runs.append(
            model.predict_scores(
                firsts, batch_size=batch_size, progress=progress, text_pairs=seconds
            )
        )
    order = [pairs is not None for texts, pairs in filled for _ in texts]
    scores = np.empty((len(order), runs[0][0].shape[1]))
    at_pairs = np.array(order, dtype=bool)
    if single or not firsts:
        scores[~at_pairs] = runs[0][0]
    if firsts:
        scores[at_pairs] = runs[-1][0]
    stats = runs[0][1]
    if len(runs) == 2:
        stats = replace(stats, wall_seconds=stats.wall_seconds + runs[1][1].wall_seconds)
    return scores, stats


def _fill_rows(
    probe: Probe,
    filled: tuple[list[str], list[str] | None],
    block: np.ndarray[Any, Any],
    labels: list[str],
    decider: Decider,
) -> list[dict[str, Any]]:
    """One row per fill of ``probe`` (its ``filled`` texts and pairs, scored as ``block``)."""
    rows = []
    n_terms = len(probe.lexicon.terms)
    texts, pairs = filled
    decided = decider.decide(block.reshape(-1, len(labels)))
    for n, text in enumerate(texts):
        i, j = divmod(n, n_terms)
        rows.append(
            {
                "probe": probe.name,
                "template": i,
                "term": probe.lexicon.terms[j],
                "group": probe.lexicon.groups[j],
                "text": text,
                **({} if pairs is None else {"pair": pairs[n]}),
                "predicted": decider.name(decided[n]),
                "probabilities": {
                    label: round(float(p), 7) for label, p in zip(labels, block[i, j], strict=True)
                },
            }
        )
    return rows


def plot_file(name: str) -> str:
    """The plot's file name for probe ``name``: ``probe_<name>.png``, safe on any filesystem.

    A name that had to be changed (other characters, over 80 long) gets a short hash of itself,
    so that two probes never share a plot.
    """
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name)[:80]
    if safe != name:
        safe += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"probe_{safe}.png"


def write_probe_files(run: ProbeRun, output_dir: Path) -> None:
    """One PNG per probe (recorded in ``ProbeResult.plot``) and the per-fill rows."""
    from cardgen.display.plots import probe_figure, save_figure

    for name, result in run.results.items():
        result.plot = plot_file(name)
        save_figure(probe_figure(result), output_dir / result.plot)
    write_jsonl(output_dir / PROBE_FILLS_FILE, run.fills)


def run_probes(
    model: str | Path | TextClassifier,
    probes: Sequence[str | Path | Probe] = tuple(BUILTIN_SUITES),
    *,
    lexicons: Mapping[str, Lexicon] | None = None,
    target_label: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
    output_dir: str | Path | None = None,
) -> dict[str, ProbeResult]:
    """Run bias probes on a model; with ``output_dir``, write probes.json, fills and plots.

    ``probes`` are built-in names (``country``, ``nationality``, ``religion``,
    ``gender-names``, ``pronouns``), TOML/YAML probe files or ``Probe`` objects; ``lexicons``
    (placeholder -> Lexicon) replaces the terms of built-in placeholders. A model path loads
    with default options. Raises ProbeError on a bad probe before the model runs.
    """
    from cardgen.models import load_model

    check_run_options(batch_size=batch_size, n_bootstrap=n_bootstrap, seed=seed)
    resolved = resolve_probes(probes, lexicons=lexicons)
    with staged_run_dir(output_dir) as out:
        classifier = load_model(model) if isinstance(model, (str, Path)) else model
        check_pair_model(classifier, resolved)
        run = measure_probes(
            classifier,
            resolved,
            target_label=target_label,
            n_bootstrap=n_bootstrap,
            seed=seed,
            batch_size=batch_size,
            progress=progress,
        )
        if out is not None:
            _write_probe_run(run, classifier, seed, out)
    return run.results


def check_pair_model(model: TextClassifier, probes: Sequence[Probe]) -> None:
    """ProbeError for single-text probes of a model that says it was fine-tuned on sentence
    pairs (``pairs_fit``): it would score lone sentences, unlike anything it learnt."""
    from cardgen.models.pairs import finetuning_task, pairs_fit

    single = [probe.name for probe in probes if probe.pairs is None]
    if not single or not pairs_fit(model):
        return
    raise ProbeError(
        f"probe {quote(single[0])} fills single texts, but model {quote(model.info().id)} was "
        f"fine-tuned on sentence pairs (finetuning_task: {quote(finetuning_task(model))}; "
        f"labels: {quote(', '.join(model.labels))}); write its templates as pairs, "
        '["premise {X}", "hypothesis"], in a probe file'
    )


def _write_probe_run(run: ProbeRun, classifier: TextClassifier, seed: int, out: Path) -> None:
    from cardgen import __version__

    write_probe_files(run, out)
    n_fills = len(run.fills)
    write_json(
        out / PROBES_FILE,
        {
            "schema_version": SCHEMA_VERSION,
            "cardgen_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": asdict(classifier.info()),
            "timing": {
                "device": run.device,
                "fills": n_fills,
                "wall_seconds": round(run.wall_seconds, 4),
                "fills_per_second": round(n_fills / max(run.wall_seconds, 1e-9), 2),
            },
            "seed": seed,
            "files": {"fills": PROBE_FILLS_FILE},
            "probes": {name: asdict(result) for name, result in run.results.items()},
        },
    )
