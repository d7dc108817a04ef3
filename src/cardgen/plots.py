"""Matplotlib (Agg) figures drawn from already computed results; nothing here recomputes metrics.

Labels, terms and group names come from datasets and lexicons; they pass through ``_text`` so
that a ``$`` in them is drawn as a dollar sign, never parsed as mathtext (which can fail).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ._io import atomic_open  # noqa: E402
from .results import Calibration, ConfusionMatrix, ProbeResult  # noqa: E402


def plot_confusion_matrix(
    cm: ConfusionMatrix, *, normalize: bool = False, ax: Axes | None = None
) -> Axes:
    """Heatmap of counts (or row-normalised rates), gold labels on rows."""
    if ax is None:
        _, ax = plt.subplots(figsize=_square_size(len(cm.labels)))
    values: list[list[Any]] = cm.normalized() if normalize else cm.counts
    k = len(cm.labels)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(
        xticks=range(k),
        yticks=range(k),
        xticklabels=[_text(label) for label in cm.labels],
        yticklabels=[_text(label) for label in cm.labels],
        xlabel="predicted",
        ylabel="gold",
        title="row-normalised" if normalize else "counts",
    )
    ax.tick_params(axis="x", labelrotation=45 if k > 3 else 0)
    if k <= 25:
        peak = max(max(row) for row in values) or 1
        size = 9 if k <= 8 else 6
        for i, row in enumerate(values):
            for j, value in enumerate(row):
                text = f"{value:.2f}" if normalize else str(value)
                color = "white" if value > 0.6 * peak else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color)
    return ax


def confusion_matrix_figure(cm: ConfusionMatrix) -> Figure:
    """Counts and row-normalised matrices side by side."""
    width, height = _square_size(len(cm.labels))
    fig, (left, right) = plt.subplots(1, 2, figsize=(2 * width, height), layout="constrained")
    plot_confusion_matrix(cm, ax=left)
    plot_confusion_matrix(cm, normalize=True, ax=right)
    return fig


def plot_reliability(calibration: Calibration, *, ax: Axes | None = None) -> Axes:
    """Reliability diagram: accuracy against confidence per bin, with the diagonal."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    filled = [b for b in calibration.bins if b.count]
    width = 1.0 / calibration.n_bins
    ax.bar(
        [b.lower for b in filled],
        [b.accuracy for b in filled],
        width=width,
        align="edge",
        edgecolor="black",
        color="tab:blue",
        alpha=0.8,
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.plot(
        [b.confidence for b in filled],
        [b.accuracy for b in filled],
        "o",
        color="tab:orange",
        label="mean confidence",
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (top class)",
        ylabel="accuracy",
        title=f"reliability (ECE {calibration.ece:.3f})",
    )
    ax.legend(loc="upper left")
    return ax


def reliability_figure(calibration: Calibration) -> Figure:
    """The reliability diagram on a figure of its own."""
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    plot_reliability(calibration, ax=ax)
    return fig


LABEL_ALL_UP_TO = 40


def plot_probe(result: ProbeResult, *, ax: Axes | None = None) -> Axes:
    """Every term's mean target probability, sorted, with its spread over templates.

    Up to 40 terms every term is labelled; beyond that all are drawn and only the extremes
    (``result.lowest`` / ``result.highest``) are labelled, so 190+ countries stay readable.
    Terms are coloured by group when the lexicon has groups.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=_probe_size(len(result.terms)), layout="constrained")
    target = result.target_label
    terms = sorted(result.terms, key=lambda t: t.probabilities[target])
    values = [t.probabilities[target] for t in terms]
    groups = list(dict.fromkeys(t.group for t in result.terms if t.group is not None))
    palette = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    colors = [
        palette(groups.index(t.group) % palette.N) if t.group is not None else "tab:blue"
        for t in terms
    ]
    rows = range(len(terms))
    ax.errorbar(
        values,
        rows,
        xerr=[t.target_std for t in terms],
        fmt="none",
        ecolor="lightgray",
        elinewidth=1,
        zorder=1,
    )
    ax.scatter(values, rows, c=colors, s=18 if len(terms) <= LABEL_ALL_UP_TO else 8, zorder=2)
    mean = sum(values) / len(values)
    ax.axvline(mean, color="gray", linestyle="--", linewidth=1, label=f"mean {mean:.2f}")
    for group in groups:
        ax.scatter(
            [],
            [],
            color=palette(groups.index(group) % palette.N),
            label=_legend(
                f"{group} (mean {result.group_means[group]:.2f})"
                if group in result.group_means
                else group
            ),
        )
    if len(terms) <= LABEL_ALL_UP_TO:
        ax.set_yticks(list(rows), [_text(t.term) for t in terms], fontsize=8)
    else:
        ax.set_yticks([])
        _label_extremes(ax, result, terms, values)
    kind = result.term_kind or "term"
    interval = (
        f" [95% CI {result.range.ci_low:.3f}, {result.range.ci_high:.3f}]"
        if result.range.ci_low is not None and result.range.ci_high is not None
        else ""
    )
    ax.set(
        xlim=(0, 1),
        ylim=(-1, len(terms)),
        xlabel=_text(f"P({target}), mean over {len(result.templates)} templates (bars: std)"),
        ylabel=_text(f"{len(terms)} {kind}s, sorted"),
        title=_text(
            f"{result.name}: range {result.range.value:.3f}{interval}, "
            f"flip rate {result.flip_rate:.1%}"
        ),
    )
    ax.legend(loc="lower right", fontsize=7)
    return ax


def _label_extremes(ax: Axes, result: ProbeResult, terms: list[Any], values: list[float]) -> None:
    """Name the lowest terms (bottom) and highest (top), spaced so that labels never overlap."""
    row = {t.term: i for i, t in enumerate(terms)}
    height_points = ax.bbox.height * 72 / ax.figure.dpi
    step = max(1.0, 1.6 * 7 * len(terms) / height_points)
    span = int(max(len(result.lowest), len(result.highest)) * step) + 2
    ends = (
        (result.lowest, values[:span], lambda rank: rank * step),
        (result.highest, values[-span:], lambda rank: len(terms) - 1 - rank * step),
    )
    for extremes, band, place in ends:
        x, align = _free_side(min(band), max(band))
        for rank, (term, value) in enumerate(extremes):
            ax.annotate(
                _text(f"{term} {value:.3f}"),
                xy=(value, row[term]),
                xytext=(x, place(rank)),
                fontsize=7,
                va="center",
                ha=align,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
                arrowprops={"arrowstyle": "-", "color": "gray", "linewidth": 0.5},
            )


def _text(value: str) -> str:
    """Text from data, drawn literally: a ``$`` does not start mathtext."""
    return str(value).replace("$", r"\$")


def _legend(value: str) -> str:
    """A legend entry; matplotlib hides labels that start with ``_``, so pad those."""
    text = _text(value)
    return f" {text}" if text.startswith("_") else text


def _free_side(low: float, high: float) -> tuple[float, str]:
    """Where labels of points between ``low`` and ``high`` go: beside them, where there is room."""
    if 1 - high >= low:
        return high + 0.05, "left"
    return low - 0.05, "right"


def probe_figure(result: ProbeResult) -> Figure:
    """The probe plot on a figure sized for its number of terms."""
    fig, ax = plt.subplots(figsize=_probe_size(len(result.terms)), layout="constrained")
    plot_probe(result, ax=ax)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG atomically and close the figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def _square_size(k: int) -> tuple[float, float]:
    side = min(12.0, max(4.0, 0.45 * k + 2.5))
    return side, side * 0.85


def _probe_size(n_terms: int) -> tuple[float, float]:
    if n_terms <= LABEL_ALL_UP_TO:
        return 7.0, max(3.0, 0.22 * n_terms + 1.5)
    return 7.0, 8.0
