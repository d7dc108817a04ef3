"""The slice plot: a metric per slice value with its 95% CI, one panel per slice column."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cardgen.display.plots import _short, _text, interval_bars, plt
from cardgen.results.schema import SliceResult

FIGURE_WIDTH = 7.5


def plot_slice(
    result: SliceResult,
    *,
    metric: str = "accuracy",
    overall: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Each value's ``metric`` with its CI as a horizontal bar; slices under the minimum size
    hollow and grey; ``overall`` (the whole set) as a dashed line; ``title`` names the metric
    on the axis (default: ``metric``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(result.values) + 1.2), layout="constrained")
    values = result.values
    for small, color in ((False, "tab:blue"), (True, "0.6")):
        rows = [y for y, v in enumerate(values) if v.small == small]
        if not rows:
            continue
        metrics = [getattr(values[y], metric) for y in rows]
        centre = [m.value for m in metrics]
        low = [m.value if m.ci_low is None else m.ci_low for m in metrics]
        high = [m.value if m.ci_high is None else m.ci_high for m in metrics]
        interval_bars(ax, rows, low, high, ecolor=color, capsize=3, lw=1.5)
        ax.plot(centre, rows, "o", color=color, mfc="white" if small else color)
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels([_label(v.value, v.description, v.rows, v.small) for v in values])
    ax.invert_yaxis()
    heading = f"by {result.column}"
    if overall is not None:
        ax.axvline(overall, color="0.3", ls="--", lw=1)
        heading += f"   (dashed: all rows, {overall:.3f})"
    ax.set_xlim(*_limits(result, metric, overall))
    ax.set_xlabel(f"{title or metric.replace('_', '-')} (95% CI)")
    ax.set_title(_text(heading), loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax


def _limits(result: SliceResult, metric: str, overall: float | None) -> tuple[float, float]:
    """The x range that holds every value, CI and the overall line, padded, within [0, 1]."""
    metrics = [getattr(v, metric) for v in result.values]
    points = [p for m in metrics for p in (m.value, m.ci_low, m.ci_high) if p is not None]
    points += [] if overall is None else [overall]
    low, high = min(points), max(points)
    pad = max(0.02, 0.08 * (high - low))
    return max(-0.01, low - pad), min(1.01, high + pad)


def _label(value: str, description: str | None, rows: int, small: bool) -> str:
    extra = f" ({description})" if description else ""
    return f"{_short(value)}{_text(extra)}, n={rows:,}{' (small)' if small else ''}"


def slices_figure(
    slices: Sequence[SliceResult],
    *,
    metric: str = "accuracy",
    overall: float | None = None,
    title: str | None = None,
) -> Figure:
    """One panel per slice column that has values, stacked, sized for their values."""
    shown = [s for s in slices if s.values]
    heights = [0.3 * len(s.values) + 0.9 for s in shown]
    fig, axes = plt.subplots(
        len(shown),
        1,
        figsize=(FIGURE_WIDTH, sum(heights) + 0.2),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for result, ax in zip(shown, axes[:, 0], strict=True):
        plot_slice(result, metric=metric, overall=overall, ax=ax, title=title)
    # margins set by hand: constrained layout doubles the drawing time of this figure
    longest = max(
        len(_label(v.value, v.description, v.rows, v.small)) for s in shown for v in s.values
    )
    inches, gap = sum(heights) + 0.2, 0.8  # figure height; space for a label and a title
    axis = (inches - 0.9 - gap * (len(shown) - 1)) / len(shown)
    fig.subplots_adjust(
        left=min(0.6, (0.085 * longest + 0.2) / FIGURE_WIDTH),
        right=0.97,
        top=1 - 0.35 / inches,
        bottom=0.55 / inches,
        hspace=gap / max(axis, 0.1),
    )
    return fig
