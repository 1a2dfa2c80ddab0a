"""Where in the trunk a vertebral body can be: near its left-right middle, behind its
front.

The spine runs in the trunk's midline, in its posterior half (the bodies lie just in
front of the canal, which lies ~40-80 mm in front of the skin of the back). Long bones
of the arms, a contrast-filled aorta beside the column, the sternum in front and the
table below are column-like too; their place in the trunk's cross-section tells them
apart from vertebral bodies whatever their intensity.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.threshold import largest_region

__all__ = ["outside_trunk_midline"]

#: A body's centre lies within this fraction of the trunk's width from the trunk's
#: left-right middle: a scoliotic apex moves it 30-50 mm off a ~300 mm wide trunk.
MIDLINE_HALF_WIDTH = 0.25
#: ...and behind this fraction of the trunk's depth, counted from the back: bodies sit
#: at ~20-45 % of the depth in the chest and abdomen, and the front of a deep lordotic
#: lumbar body at ~55 %.
POSTERIOR_DEPTH = 0.65


def outside_trunk_midline(
    nodes: list[Node], body: np.ndarray, spacing_mm: tuple[float, float, float]
) -> set[int]:
    """Labels of cores whose centre lies outside the trunk's posterior midline region.

    Parameters
    ----------
    nodes : list of Node
        Candidate cores (coarse-array mm).
    body : (X, Y, Z) ndarray of bool
        The patient's body on the coarse grid.
    spacing_mm : tuple of 3 float
        Coarse voxel size.

    Returns
    -------
    set of int
        Empty along an axis where the field of view cuts the trunk (a crop around the
        spine): its middle or back is then unknown.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    out: set[int] = set()
    cache: dict[int, tuple[float, float, float, float, bool, bool] | None] = {}
    for node in nodes:
        k = int(np.clip(round(node.centroid_mm[2] / sp[2]), 0, body.shape[2] - 1))
        if k not in cache:
            trunk = largest_region(body[:, :, k], connectivity=4)  # the trunk, not the arms
            if trunk.any():
                xs = np.flatnonzero(trunk.any(axis=1))
                ys = np.flatnonzero(trunk.any(axis=0))
                # A trunk the field of view cuts has no middle or back to measure from.
                whole_x = xs[0] > 0 and xs[-1] < body.shape[0] - 1
                whole_y = ys[0] > 0 and ys[-1] < body.shape[1] - 1
                cache[k] = (
                    xs[0] * sp[0],
                    (xs[-1] + 1) * sp[0],
                    ys[0] * sp[1],
                    (ys[-1] + 1) * sp[1],
                    whole_x,
                    whole_y,
                )
            else:
                cache[k] = None
        box = cache[k]
        if box is None:
            continue
        x0, x1, y0, y1, whole_x, whole_y = box
        x, y = node.centroid_mm[0], node.centroid_mm[1]
        # Canonical axis 1 runs posterior -> anterior: y0 is the back.
        off_midline = whole_x and abs(x - 0.5 * (x0 + x1)) > MIDLINE_HALF_WIDTH * (x1 - x0)
        too_anterior = whole_y and y - y0 > POSTERIOR_DEPTH * (y1 - y0)
        if off_midline or too_anterior:
            out.add(node.label)
    return out
