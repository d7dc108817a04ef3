"""Matplotlib (Agg) figures drawn from already computed results; nothing here recomputes metrics.

Labels, terms and group names come from datasets and lexicons; they pass through ``_text``: a
``$`` is drawn as a dollar sign (never mathtext, which can fail), controls escaped, long ones cut.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from cardgen.display._legend import legend_in_empty_corner  # noqa: E402
from cardgen.display.tables import visible  # noqa: E402
from cardgen.results.schema import Calibration, ConfusionMatrix, ProbeResult  # noqa: E402
from cardgen.trust.atomic import atomic_open  # noqa: E402

SHORT_TICK = 8  # longer labels on the x axis are turned, so that neighbours do not overlap
MAX_TICK_LABELS = 60  # a confusion matrix of more labels is drawn without their names


def interval_bars(ax: Axes, rows: Any, low: Any, high: Any, **style: Any) -> None:
    """Each interval from ``low`` to ``high`` at its row, an error bar about its own middle: a
    bootstrap percentile CI need not hold its point estimate (no negative lengths about it)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    ax.errorbar((low + high) / 2, rows, xerr=(high - low) / 2, fmt="none", **style)


def plot_confusion_matrix(
    cm: ConfusionMatrix, *, normalize: bool = False, ax: Axes | None = None
) -> Axes:
    """Heatmap of counts (or row-normalised rates), gold labels on rows."""
    if ax is None:
        _, ax = plt.subplots(figsize=_square_size(len(cm.labels), max(map(len, cm.labels))))
    values: list[list[Any]] = cm.normalized() if normalize else cm.counts
    k = len(cm.labels)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xlabel="predicted", ylabel="gold", title="row-normalised" if normalize else "counts")
    if k > MAX_TICK_LABELS:  # unreadable, and drawing thousands of them takes minutes
        order = f"{k:,} labels in the order of the per-class table"
        ax.set(xticks=[], yticks=[], xlabel=f"predicted ({order})", ylabel=f"gold ({order})")
        return ax
    names = [_short(label) for label in cm.labels]
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names)
    if k > 3 or max(len(label) for label in cm.labels) > SHORT_TICK:  # turned about their ends
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
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
    width, height = _square_size(len(cm.labels), max(map(len, cm.labels), default=0))
    fig, (left, right) = plt.subplots(1, 2, figsize=(2 * width, height), layout="constrained")
    plot_confusion_matrix(cm, ax=left)
    plot_confusion_matrix(cm, normalize=True, ax=right)
    return fig


def plot_reliability(
    calibration: Calibration, *, n_classes: int | None = None, ax: Axes | None = None
) -> Axes:
    """Reliability diagram: each bin's accuracy at its mean confidence, against the diagonal.

    The confidence axis starts where the top class's probability can start: at ``1 /
    n_classes`` (0.5 for a binary model). Without ``n_classes`` it starts at 0.5 when no
    filled bin lies wholly below 0.5, else at 0. The legend goes in an upper-left or
    lower-right corner that holds no marker, else beside the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    filled = [b for b in calibration.bins if b.count]
    low = confidence_floor(calibration, n_classes)
    floor_y = min([low] + [int(b.accuracy * 10) / 10 for b in filled])
    ax.plot([low, 1], [low, 1], linestyle="--", color="gray", label="perfect calibration", zorder=1)
    ax.plot(
        [b.confidence for b in filled],
        [b.accuracy for b in filled],
        "o",
        color="tab:blue",
        markersize=6,
        clip_on=False,
        zorder=3,
        label="one bin: accuracy at mean confidence",
    )
    ax.set(
        xlim=(low, 1),
        ylim=(floor_y, 1),
        xlabel="mean confidence in bin (top-class probability)",
        ylabel="accuracy in bin",
        title=f"reliability (ECE {calibration.ece:.3f}, {calibration.n_bins} bins)",
    )
    legend_in_empty_corner(ax, ("upper left", "lower right"), fontsize=8)
    return ax


def plot_bin_counts(
    calibration: Calibration, *, n_classes: int | None = None, ax: Axes | None = None
) -> Axes:
    """How many examples fall in each confidence bin: bars over the bins, counts written on."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 1.6), layout="constrained")
    filled = [b for b in calibration.bins if b.count]
    low = confidence_floor(calibration, n_classes)
    bars = ax.bar(
        [max(b.lower, low) for b in filled],
        [b.count for b in filled],
        width=[b.upper - max(b.lower, low) for b in filled],
        align="edge",
        color="tab:gray",
        edgecolor="white",
    )
    counts = [b.count for b in filled] or [1]
    ax.bar_label(bars, labels=[f"{b.count:,}" for b in filled], fontsize=7, padding=1)
    ax.set(xlim=(low, 1), xlabel="confidence (top-class probability)")
    if max(counts) > 20 * min(counts):  # small bins would vanish on a linear scale
        ax.set_yscale("log")
        ax.set(ylim=(0.5, max(counts) * 4), ylabel="examples (log)")
    else:
        ax.set(ylim=(0, max(counts) * 1.3), ylabel="examples")
    return ax


def confidence_floor(calibration: Calibration, n_classes: int | None = None) -> float:
    """The lowest top-class confidence possible: ``1 / n_classes``, or a guess from the bins."""
    if n_classes is not None and n_classes >= 2:
        return 1 / n_classes
    below_half = any(b.count and b.upper <= 0.5 for b in calibration.bins)
    return 0.0 if below_half else 0.5


def reliability_figure(calibration: Calibration, *, n_classes: int | None = None) -> Figure:
    """The reliability diagram over a panel of counts per bin, sharing the confidence axis."""
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(5, 6.2),
        layout="constrained",
        sharex=True,
        gridspec_kw={"height_ratios": [3.2, 1]},
    )
    plot_bin_counts(calibration, n_classes=n_classes, ax=bottom)
    plot_reliability(calibration, n_classes=n_classes, ax=top)
    top.set_xlabel("")
    top.tick_params(labelbottom=False)
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
    low, high = probe_limits(values)
    mean = sum(values) / len(values)
    ax.axvline(mean, color="gray", linestyle="--", linewidth=1, label=f"mean {mean:.2f}")
    if low < 0.5 < high:
        binary = len(terms[0].probabilities) == 2
        ax.axvline(
            0.5,
            color="black",
            linestyle=":",
            linewidth=1,
            label="0.5 (decision threshold)" if binary else "0.5",
        )
    for group in groups:
        group_mean = result.group_means.get(group)
        suffix = "" if group_mean is None else f" (mean {group_mean:.2f})"
        color = palette(groups.index(group) % palette.N)
        ax.scatter([], [], color=color, label=_legend(_cut(group) + suffix))
    kind = result.term_kind or "term"
    interval = (
        f" [95% CI {result.range.ci_low:.3f}, {result.range.ci_high:.3f}]"
        if result.range.ci_low is not None and result.range.ci_high is not None
        else ""
    )
    ax.set(
        xlim=(low, high),
        ylim=(-1, len(terms)),
        xlabel=f"P({_short(target)}), mean over {len(result.templates)} templates (bars: std)",
        ylabel=_text(f"{len(terms)} {kind if len(terms) == 1 else plural(kind)}, sorted"),
        title=f"{_short(result.name)}: range {result.range.value:.3f}{interval}, "
        f"flip rate {result.flip_rate:.1%}",
    )
    # Beside the axes: inside, it would cover the lowest or highest terms, which are the finding.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=7)
    if len(terms) <= LABEL_ALL_UP_TO:
        ax.set_yticks(list(rows), [_short(t.term) for t in terms], fontsize=8)
    else:
        ax.set_yticks([])
        _label_extremes(ax, result, terms, values)
    return ax


def plural(noun: str) -> str:
    """The English plural of a noun phrase's last word: nationality -> nationalities,
    country name -> country names, class -> classes."""
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    return noun + "s"


def probe_limits(values: list[float]) -> tuple[float, float]:
    """The x range of a probe plot: the terms' values with a 6% margin, within [-0.02, 1.02]."""
    low, high = min(values), max(values)
    pad = max(0.06 * (high - low), 0.01)
    return max(low - pad, -0.02), min(high + pad, 1.02)


def _label_extremes(ax: Axes, result: ProbeResult, terms: list[Any], values: list[float]) -> None:
    """Name the lowest terms (bottom) and highest (top), spaced so that labels never overlap.

    Each end's labels go on the side of its band of points with more room; each label sits
    beside the points of its own rows and is pulled back inside the axes when it is too wide
    or, at the top and bottom rows, too high or too low.
    """
    fig = ax.figure
    with missing_glyphs_drawn_as_boxes():
        fig.canvas.draw()  # run the layout first: placement is measured in axes fractions
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    row = {t.term: i for i, t in enumerate(terms)}
    height_points = ax.bbox.height * 72 / fig.dpi
    step = max(1.0, 1.6 * 7 * len(terms) / height_points)
    span = int(max(len(result.lowest), len(result.highest)) * step) + 2
    left, right = ax.get_xlim()

    def fraction(value: float) -> float:
        return (value - left) / (right - left)

    ends = (
        (result.lowest, values[:span], lambda rank: rank * step),
        (result.highest, values[-span:], lambda rank: len(terms) - 1 - rank * step),
    )
    for top, (extremes, band, place) in enumerate(ends):
        _, align = _free_side(fraction(min(band)), fraction(max(band)))
        placed = []
        for rank, (term, value) in enumerate(extremes):
            y = place(rank)
            near = [fraction(v) for v in values[max(0, int(y - step)) : int(y + step) + 2]]
            near.append(fraction(value))
            x = max(near) + 0.03 if align == "left" else min(near) - 0.03
            label = ax.annotate(
                f"{_short(term)} {value:.3f}",
                xy=(value, row[term]),
                xytext=(x, y),
                textcoords=ax.get_yaxis_transform(),
                fontsize=7,
                va="center",
                ha=align,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
                arrowprops={"arrowstyle": "-", "color": "gray", "linewidth": 0.5},
            )
            width = Text.get_window_extent(label, renderer).width / ax.bbox.width  # not the arrow
            if align == "left" and x + width > 0.99:
                label.set_x(max(0.01, 0.99 - width))
            elif align == "right" and x - width < 0.01:
                label.set_x(min(0.99, 0.01 + width))
            placed.append(label)
        _inside_vertically(ax, placed, renderer, top=bool(top))


def _inside_vertically(ax: Axes, labels: list[Any], renderer: Any, *, top: bool) -> None:
    """Move one end's labels together, keeping their spacing, until the outermost one (with
    its white box) is inside the axes."""
    if not labels:
        return
    margin = 4.0  # pixels between a label's text and the frame, room for its box
    for label in labels:
        label.update_positions(renderer)  # an annotation's text is placed when it is drawn
    boxes = [Text.get_window_extent(label, renderer) for label in labels]  # not the arrows
    area = ax.bbox
    if top:
        shift = min(0.0, area.y1 - margin - max(b.y1 for b in boxes))
    else:
        shift = max(0.0, area.y0 + margin - min(b.y0 for b in boxes))
    if shift:
        bottom, upper = ax.get_ylim()
        rows = shift * (upper - bottom) / area.height
        for label in labels:
            x, y = label.xyann
            label.xyann = (x, y + rows)


def _text(value: str) -> str:
    """Text from data, drawn literally: control characters escaped, a ``$`` not starting
    mathtext."""
    return visible(value).replace("$", r"\$")


def _short(value: str) -> str:
    """Text from data for a tick or a point's label, drawn literally and ``_cut``."""
    return _text(_cut(value))


def _cut(value: str, limit: int = 30) -> str:
    """``value`` cut to ``limit`` characters, so that a term of hundreds (a lexicon allows
    500) does not squeeze the axes to nothing."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _legend(value: str) -> str:
    """A legend entry; matplotlib hides labels that start with ``_``, so pad those."""
    text = _text(value)
    return f" {text}" if text.startswith("_") else text


def _free_side(low: float, high: float) -> tuple[float, str]:
    """Where labels of points between axes fractions ``low`` and ``high`` go: the roomier side."""
    if 1 - high >= low:
        return high + 0.05, "left"
    return low - 0.05, "right"


def probe_figure(result: ProbeResult) -> Figure:
    """The probe plot on a figure sized for its number of terms."""
    fig, ax = plt.subplots(figsize=_probe_size(len(result.terms)), layout="constrained")
    plot_probe(result, ax=ax)
    return fig


@contextmanager
def missing_glyphs_drawn_as_boxes() -> Iterator[None]:
    """Draw characters the font lacks (CJK, emoji) as boxes without matplotlib's warning per
    character: the tables and the card show those labels whole."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        yield


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save as PNG atomically and close the figure."""
    buffer = io.BytesIO()
    with missing_glyphs_drawn_as_boxes():
        fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def _square_size(k: int, longest: int = 0) -> tuple[float, float]:
    """Room for ``k`` rows and columns and for tick labels of ``longest`` characters (cut)."""
    side = min(12.0, max(4.0, 0.45 * k + 2.5) + 0.06 * min(longest, 30))
    return side, side * 0.85


def _probe_size(n_terms: int) -> tuple[float, float]:
    """Room for the terms, plus about 2 inches on the right for the legend."""
    if n_terms <= LABEL_ALL_UP_TO:
        return 8.5, max(3.0, 0.22 * n_terms + 1.5)
    return 8.5, 8.0
