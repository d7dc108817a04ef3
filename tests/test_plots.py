"""Plots read right: legends off the data, axes scaled to it, counts per calibration bin.

Checks are structural, made on drawn figures in display coordinates: where the legend box is,
where each point lands, what the axes span.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from cardgen.display.plots import (
    plot_probe,
    plural,
    probe_figure,
    probe_limits,
    reliability_figure,
)
from cardgen.results.schema import Calibration, CalibrationBin, Metric, ProbeResult, ProbeTerm

GROUPS = ["Africa", "Americas", "Asia", "Europe", "Oceania"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def probe(
    values: list[float], *, labels: int = 2, grouped: bool = True, prefix: str = "t"
) -> ProbeResult:
    """A probe result over terms t0, t1, ... with the given target probabilities."""
    names = ["negative", "positive"] if labels == 2 else [f"c{i}" for i in range(labels)]
    terms = []
    for i, value in enumerate(values):
        rest = (1 - value) / (labels - 1)
        probabilities = {name: rest for name in names[:-1]} | {names[-1]: value}
        group = GROUPS[i % len(GROUPS)] if grouped else None
        terms.append(ProbeTerm(f"{prefix}{i}", group, probabilities, 0.05, [value, value]))
    ranked = sorted(((t.term, v) for t, v in zip(terms, values, strict=True)), key=lambda p: p[1])
    means = {
        g: float(np.mean(values[i :: len(GROUPS)])) for i, g in enumerate(GROUPS[: len(values)])
    }
    return ProbeResult(
        name="country",
        target_label=names[-1],
        templates=["I am from {COUNTRY}.", "{COUNTRY} is a country."],
        terms=terms,
        range=Metric(max(values) - min(values)),
        std=float(np.std(values)),
        flip_rate=0.0,
        lowest=ranked[:5],
        highest=ranked[::-1][:5],
        group_means=means if grouped else {},
        term_kind="country name",
    )


def demo_like() -> list[float]:
    """193 values like the demo's country probe: most near 0.036, a tail up to 0.408."""
    rng = np.random.default_rng(0)
    values = list(0.036 + rng.uniform(0, 0.01, 160)) + list(rng.uniform(0.05, 0.25, 32))
    return [*values, 0.408]


def drawn(fig: Figure) -> Figure:
    fig.canvas.draw()
    return fig


def points(ax: Axes) -> np.ndarray:
    """Display coordinates of every scatter point on ``ax`` (error bars are not points)."""
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = [c.get_offsets() for c in scatters if len(c.get_offsets())]
    return ax.transData.transform(np.concatenate(offsets))


def markers(ax: Axes) -> np.ndarray:
    """Display coordinates of every line marker on ``ax``."""
    xy = [line.get_xydata() for line in ax.get_lines() if line.get_marker() not in ("None", "")]
    return ax.transData.transform(np.concatenate(xy))


def covered(box: Bbox, xy: np.ndarray, pad: float = 3.0) -> np.ndarray:
    """The points of ``xy`` inside ``box`` grown by ``pad`` pixels (a marker's radius)."""
    box = box.padded(pad)
    inside = (xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)
    return xy[inside & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)]


# --- probe plots -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        demo_like(),
        [0.9, 0.8, 0.2, 0.05],
        list(np.linspace(0.05, 0.06, 12)),
        [0.5, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96],
    ],
    ids=["193-countries", "4-terms", "12-close-terms", "one-low-rest-high"],
)
def test_probe_legend_covers_no_point_and_every_point_is_inside(values: list[float]) -> None:
    fig = drawn(probe_figure(probe(values)))
    ax = fig.axes[0]
    xy = points(ax)
    assert len(xy) >= len(values)
    legend = ax.get_legend().get_window_extent()
    assert len(covered(legend, xy)) == 0
    inside = ax.get_window_extent()
    assert ((xy[:, 0] >= inside.x0) & (xy[:, 0] <= inside.x1)).all()


def test_probe_axis_is_scaled_to_the_data() -> None:
    values = demo_like()
    ax = probe_figure(probe(values)).axes[0]
    low, high = ax.get_xlim()
    span = max(values) - min(values)
    assert low <= min(values) and high >= max(values)
    assert min(values) - low <= 0.1 * span and high - max(values) <= 0.1 * span
    # The 193 points now use at least 80% of the width, not 37% of a fixed 0-1 axis.
    assert span / (high - low) >= 0.8


def test_probe_limits_stay_near_the_probability_range() -> None:
    assert probe_limits([0.0, 1.0]) == (-0.02, 1.02)
    low, high = probe_limits([0.5, 0.5])
    assert low == pytest.approx(0.49) and high == pytest.approx(0.51)
    low, high = probe_limits([0.2, 0.7])
    assert low == pytest.approx(0.17) and high == pytest.approx(0.73)


def threshold_lines(ax: Axes) -> list[str]:
    return [
        str(line.get_label()) for line in ax.get_lines() if list(line.get_xdata()) == [0.5, 0.5]
    ]


def test_half_line_only_where_the_data_reach_it() -> None:
    assert threshold_lines(plot_probe(probe(demo_like()))) == []
    assert threshold_lines(plot_probe(probe([0.3, 0.45, 0.6, 0.7]))) == ["0.5 (decision threshold)"]
    assert threshold_lines(plot_probe(probe([0.3, 0.45, 0.6, 0.7], labels=4))) == ["0.5"]


def test_probe_extremes_are_labelled_readably() -> None:
    result = probe(demo_like(), prefix="the Democratic Republic of ")
    fig = drawn(probe_figure(result))
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    expected = {f"{term} {value:.3f}" for term, value in result.lowest + result.highest}
    assert {t.get_text() for t in labels} == expected
    area = ax.get_window_extent()
    boxes = [Text.get_window_extent(t) for t in labels]
    for box in boxes:  # inside the axes, left to right
        assert area.x0 - 1 <= box.x0 and box.x1 <= area.x1 + 1
    for i, box in enumerate(boxes):  # no two labels overlap
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
    legend = ax.get_legend().get_window_extent()
    assert not any(box.overlaps(legend) for box in boxes)


@pytest.mark.parametrize("values", [demo_like(), list(np.linspace(0.05, 0.06, 12))])
def test_probe_labels_stay_inside_the_frame(values: list[float]) -> None:
    """The top label ("the Dominican Republic 0.408") ran into the frame; none may."""
    fig = drawn(probe_figure(probe(values)))
    ax = fig.axes[0]
    area = ax.get_window_extent()
    renderer = fig.canvas.get_renderer()
    for label in (t for t in ax.texts if t.get_text()):
        box = label.get_bbox_patch().get_window_extent(renderer)  # the label's white box
        assert area.y0 < box.y0 and box.y1 < area.y1, label.get_text()
        assert area.x0 < box.x0 and box.x1 < area.x1, label.get_text()


@pytest.mark.parametrize(
    ("count", "length", "grouped"),
    [(4, 500, False), (4, 200, True), (60, 500, True), (8, 80, False)],
    ids=["few-huge-terms", "grouped", "extremes-labelled", "long"],
)
def test_long_terms_are_cut_and_the_axes_keep_their_size(
    count: int, length: int, grouped: bool
) -> None:
    """A 500-character term (the lexicons' limit) collapsed the constrained layout to axes of
    no size: ticks, extremes and legend entries are cut instead."""
    import warnings

    values = list(np.linspace(0.1, 0.9, count))
    result = probe(values, grouped=grouped, prefix="w" * length)
    if grouped:
        for term in result.terms:
            object.__setattr__(term, "group", f"{term.group} " + "g" * length)
        result.group_means = {t.group: 0.5 for t in result.terms}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = drawn(probe_figure(result))
    ax = fig.axes[0]
    assert ax.get_window_extent().width >= 0.3 * fig.bbox.width
    shown = [t.get_text() for t in ax.get_yticklabels()] + [t.get_text() for t in ax.texts]
    shown += [t.get_text() for t in ax.get_legend().get_texts()]
    assert shown and max(map(len, shown)) <= 70 and any("…" in text for text in shown)


@pytest.mark.parametrize(
    ("kind", "axis"),
    [
        ("nationality", "193 nationalities, sorted"),
        ("country name", "193 country names, sorted"),
        ("religion", "193 religions, sorted"),
        ("class", "193 classes, sorted"),
        ("day", "193 days, sorted"),
    ],
)
def test_probe_axis_counts_the_terms_in_the_plural(kind: str, axis: str) -> None:
    result = probe(demo_like())
    result.term_kind = kind
    assert plot_probe(result).get_ylabel() == axis
    assert plural(kind) == axis.split(" ", 1)[1].removesuffix(", sorted")


# --- reliability diagram ---------------------------------------------------------------------


def calibration(bins: list[tuple[float, int, float, float]], n_bins: int = 10) -> Calibration:
    """Bins given as (lower edge, count, mean confidence, accuracy); the rest are empty."""
    width = 1 / n_bins
    filled = {round(lower / width): (count, conf, acc) for lower, count, conf, acc in bins}
    return Calibration(
        ece=0.05,
        n_bins=n_bins,
        bins=[
            CalibrationBin(i * width, (i + 1) * width, *filled.get(i, (0, 0.0, 0.0)))
            for i in range(n_bins)
        ],
    )


BINARY = calibration([(0.5, 40, 0.56, 0.61), (0.7, 7, 0.74, 0.57), (0.9, 953, 0.97, 0.96)])
FOUR = calibration([(0.3, 12, 0.33, 0.25), (0.5, 30, 0.55, 0.6), (0.9, 58, 0.93, 0.9)])


def test_reliability_markers_are_the_given_bins_and_the_legend_says_so() -> None:
    fig = drawn(reliability_figure(BINARY, n_classes=2))
    top = fig.axes[0]
    dots = [line for line in top.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 1  # plotted as given, never recomputed
    assert list(dots[0].get_xdata()) == [0.56, 0.74, 0.97]
    assert list(dots[0].get_ydata()) == [0.61, 0.57, 0.96]
    texts = [t.get_text() for t in top.get_legend().get_texts()]
    assert texts == ["perfect calibration", "one bin: accuracy at mean confidence"]
    assert top.get_ylabel() == "accuracy in bin"
    assert len(covered(top.get_legend().get_window_extent(), markers(top), pad=5)) == 0


def test_reliability_has_a_count_panel_on_the_same_axis() -> None:
    fig = drawn(reliability_figure(FOUR, n_classes=4))
    top, counts = fig.axes
    heights = [bar.get_height() for bar in counts.patches]
    assert heights == [12, 30, 58]
    assert [t.get_text() for t in counts.texts] == ["12", "30", "58"]
    assert counts.get_ylabel() == "examples" and counts.get_yscale() == "linear"
    assert top.get_xlim() == counts.get_xlim() == (0.25, 1.0)


def test_counts_far_apart_use_a_log_scale() -> None:
    counts = reliability_figure(BINARY).axes[1]
    assert counts.get_yscale() == "log" and counts.get_ylabel() == "examples (log)"
    assert [t.get_text() for t in counts.texts] == ["40", "7", "953"]


@pytest.mark.parametrize("n_classes", [2, None])
def test_binary_axes_start_at_one_half(n_classes: int | None) -> None:
    top, counts = reliability_figure(BINARY, n_classes=n_classes).axes
    assert top.get_xlim() == (0.5, 1.0) and counts.get_xlim() == (0.5, 1.0)
    assert top.get_ylim() == (0.5, 1.0)


def test_without_a_class_count_bins_below_one_half_keep_the_full_axis() -> None:
    top = reliability_figure(FOUR).axes[0]
    assert top.get_xlim() == (0.0, 1.0)
    assert top.get_ylim() == (0.0, 1.0)  # below 0.25 would hide the 0.25-accuracy bin otherwise


def test_reliability_y_axis_reaches_down_to_the_worst_bin() -> None:
    worse = calibration([(0.5, 10, 0.55, 0.32), (0.9, 10, 0.95, 0.9)])
    assert reliability_figure(worse, n_classes=2).axes[0].get_ylim() == (0.3, 1.0)


def test_legend_leaves_corners_that_hold_markers() -> None:
    # Markers in the upper-left and the lower-right corners: the legend goes beside the axes.
    crowded = calibration(
        [(0.5, 10, 0.52, 0.99), (0.6, 10, 0.62, 0.98), (0.9, 10, 0.98, 0.52), (0.8, 9, 0.88, 0.5)]
    )
    fig = drawn(reliability_figure(crowded, n_classes=2))
    top = fig.axes[0]
    legend = top.get_legend().get_window_extent()
    assert len(covered(legend, markers(top), pad=5)) == 0
    assert legend.x0 >= top.get_window_extent().x1


@pytest.mark.parametrize(
    ("metric", "title", "axis"),
    [("accuracy", None, "accuracy (95% CI)"), ("macro_f1", None, "macro-f1 (95% CI)"),
     ("accuracy", "subset accuracy", "subset accuracy (95% CI)")],
)  # fmt: skip
def test_slice_panels_name_the_metric_on_the_axis_and_the_column_in_the_title(
    metric: str, title: str | None, axis: str
) -> None:
    from cardgen.analysis.plots import slices_figure
    from cardgen.results.schema import SliceResult, SliceValue

    values = [
        SliceValue(value=v, rows=40, accuracy=Metric(a, a - 0.1, a + 0.1), macro_f1=Metric(a - 0.05))
        for v, a in (("short", 0.8), ("long", 0.6))
    ]
    fig = slices_figure([SliceResult("length", "column", 30, values)], metric=metric, overall=0.7, title=title)
    [ax] = fig.axes
    assert ax.get_xlabel() == axis
    assert ax.get_title(loc="left") == "by length   (dashed: all rows, 0.700)"
    plt.close(fig)


@pytest.mark.parametrize("label", ["映画評論", "レビュー", "😀 emoji", "समीक्षा", "리뷰"])
def test_labels_the_font_lacks_are_drawn_without_a_warning_per_character(
    label: str, tmp_path, recwarn
) -> None:
    from cardgen.display.plots import confusion_matrix_figure, save_figure
    from cardgen.results.schema import ConfusionMatrix

    figure = confusion_matrix_figure(ConfusionMatrix(labels=[label, "other"], counts=[[3, 1], [0, 4]]))
    path = save_figure(figure, tmp_path / "cm.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
