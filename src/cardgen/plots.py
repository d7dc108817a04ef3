"""Matplotlib (Agg) figures drawn from already computed results; nothing here recomputes metrics."""

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
from .results import Calibration, ConfusionMatrix  # noqa: E402


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
        xticklabels=cm.labels,
        yticklabels=cm.labels,
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
