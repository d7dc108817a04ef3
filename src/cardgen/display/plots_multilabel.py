"""Figures of a multi-label run, drawn from its computed results (nothing is recomputed)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cardgen.display.plots import _short, interval_bars
from cardgen.results.schema import Calibration, ClassMetrics, LabelDetail

MAX_BARS = 40
"""Most labels the F1 plot shows (those with the most support)."""


def plot_label_f1(
    per_class: list[ClassMetrics], details: list[LabelDetail], *, ax: Axes | None = None
) -> Axes:
    """Horizontal bars of each label's F1 with its 95% CI, support written beside each bar."""
    rows = list(zip(per_class, details, strict=True))
    if len(rows) > MAX_BARS:
        rows = sorted(rows, key=lambda pair: -pair[0].support)[:MAX_BARS]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, max(2.5, 0.32 * len(rows) + 1.2)), layout="constrained")
    positions = range(len(rows))
    f1 = [row.f1 for row, _ in rows]
    low = [d.f1_ci[0] if d.f1_ci else row.f1 for row, d in rows]
    high = [d.f1_ci[1] if d.f1_ci else row.f1 for row, d in rows]
    ax.barh(positions, f1, color="tab:blue")
    interval_bars(ax, positions, low, high, capsize=3, ecolor="black")
    for y, (row, _) in enumerate(rows):
        ax.text(
            1.01,
            y,
            f"n={row.support:,}",
            va="center",
            fontsize=7,
            transform=ax.get_yaxis_transform(),
        )
    shown = "" if len(rows) == len(per_class) else f" ({len(rows)} of {len(per_class)} labels)"
    ax.set(
        yticks=list(positions),
        yticklabels=[_short(row.label) for row, _ in rows],
        xlim=(0, 1),
        xlabel="F1 (bars: 95% bootstrap CI)",
        title=f"F1 per label{shown}",
    )
    ax.invert_yaxis()
    return ax


def plot_label_reliability(calibration: Calibration, *, ax: Axes | None = None) -> Axes:
    """Observed frequency against mean predicted probability over all (example, label) cells,
    one marker per bin, its area growing with the bin's count."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    filled = [b for b in calibration.bins if b.count]
    largest = max((b.count for b in filled), default=1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.scatter(
        [b.confidence for b in filled],
        [b.accuracy for b in filled],
        s=[20 + 180 * b.count / largest for b in filled],
        color="tab:blue",
        label="one bin (area: cells in it)",
        zorder=3,
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability in bin",
        ylabel="share of cells where the label is gold",
        title=f"reliability of label probabilities (ECE {calibration.ece:.3f})",
    )
    ax.legend(loc="upper left", fontsize=8, markerscale=0.5)
    return ax


def label_f1_figure(per_class: list[ClassMetrics], details: list[LabelDetail]) -> Figure:
    ax = plot_label_f1(per_class, details)
    return ax.figure  # type: ignore[return-value]


def label_reliability_figure(calibration: Calibration) -> Figure:
    ax = plot_label_reliability(calibration)
    return ax.figure  # type: ignore[return-value]
