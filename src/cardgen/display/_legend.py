"""Where a legend goes: a corner of the axes that covers no marker, else beside them."""

from __future__ import annotations

from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from numpy.typing import NDArray

Corner = Literal["upper left", "upper right", "lower left", "lower right"]


def legend_in_empty_corner(ax: Axes, corners: tuple[Corner, ...], *, fontsize: float) -> None:
    """Put the legend in the first corner whose box covers no marker, else beside the axes."""
    fig = ax.figure
    fig.canvas.figure.draw_without_rendering()  # the layout, no pixels: coordinates are final
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    points = _marker_points(ax)
    for corner in corners:
        box = ax.legend(loc=corner, fontsize=fontsize).get_window_extent(renderer).padded(6)
        inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
        if not (inside & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)).any():
            return
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=fontsize)


def _marker_points(ax: Axes) -> NDArray[np.float64]:
    """Display coordinates (n x 2) of every marker on ``ax``: line markers and scatter points."""
    data = [
        np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)
        for line in ax.get_lines()
        if line.get_marker() not in (None, "None", "", " ")
    ]
    data += [
        np.asarray(c.get_offsets(), dtype=float).reshape(-1, 2)
        for c in ax.collections
        if isinstance(c, PathCollection)
    ]
    return np.asarray(ax.transData.transform(np.concatenate([np.empty((0, 2)), *data])))
