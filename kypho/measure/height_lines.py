"""Height lines inside the real body: rims, concave walls and osteophytes are anatomy.

DESIGN.md "Vertebral body heights" reads Ha, Hm, Hp at 10 %, 50 % and 90 % of the AP depth.
On real shapes a line at 10 % can leave the body (an anterior lip at one corner, a waisted
anterior wall); :func:`inside_positions` moves such a line inwards until it lies inside.
"""

from __future__ import annotations

import numpy as np

from kypho.measure.endplates import column_edges

__all__ = ["LINE_FILL", "MAX_ENDPLATE_SLOPE", "MAX_LINE_SHIFT", "inside_positions"]

#: A height line lies inside the body when the body's mid-sagittal section fills at least
#: this share of it between its two endplates (a concave anterior wall, the "waist", leaves
#: a gap in a line drawn through both rims; DESIGN.md "Vertebral body heights").
LINE_FILL = 0.9
#: Steepest endplate slope (tan 60 degrees) accepted at a height line: a grade 3 wedge
#: tilts the superior endplate by about 24 degrees (DOMAIN.md §1.1 table, wedge angle), so
#: an edge steeper than 60 degrees is a wall (a rim lip, an osteophyte), not an endplate.
MAX_ENDPLATE_SLOPE = float(np.tan(np.radians(60.0)))
#: Half baseline (mm) of that slope: two 3 mm slices' staircase must not read as a wall.
SLOPE_HALF_BASE_MM = 2.0
#: Farthest a height line may be moved inwards, as a share of the AP depth (10 % -> 25 %).
MAX_LINE_SHIFT = 0.15


def inside_positions(
    section: np.ndarray, ap: np.ndarray, si: np.ndarray, positions: np.ndarray, depth_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """AP positions of the height lines moved inwards until they lie inside the body.

    Rims, concave (waisted) anterior walls and osteophytes are normal anatomy, but a line
    at 10 % of the depth drawn through them can leave the body: through a lip that sticks
    out at one corner it ends on the receding wall, not on an endplate, and reads a height
    far too short. A line is inside when the section fills it between its edges
    (:data:`LINE_FILL`) and both edges are endplates, not walls
    (:data:`MAX_ENDPLATE_SLOPE`). The anterior and posterior lines move towards the
    middle in steps of the grid until they are inside, at most
    :data:`MAX_LINE_SHIFT` of the depth; the middle line stays.

    Parameters
    ----------
    section : (A, S) ndarray of float
        Slab-mean body mask in the mid-sagittal plane.
    ap, si : (A,), (S,) ndarray
        Local coordinates (mm) of the section, ascending.
    positions : (3,) ndarray
        Nominal AP positions of Ha, Hm, Hp (mm).
    depth_mm : float
        AP depth of the body.

    Returns
    -------
    positions : (3,) ndarray
        The positions used (the nominal ones where no inside position was found).
    shift_mm : (3,) ndarray
        Distance moved; NaN where no position within reach is inside.
    """
    bottom, top = column_edges(section, si)
    inside = section >= 0.5
    z = si[None, :]
    span = (z >= bottom[:, None]) & (z <= top[:, None])
    with np.errstate(all="ignore"):
        fill = (inside & span).sum(axis=1) / span.sum(axis=1)
    step = float(ap[1] - ap[0])
    k = max(1, round(SLOPE_HALF_BASE_MM / step))
    slope = np.full(len(ap), np.inf)
    if len(ap) > 2 * k:
        d_top = np.abs(top[2 * k :] - top[: -2 * k]) / (2 * k * step)
        d_bot = np.abs(bottom[2 * k :] - bottom[: -2 * k]) / (2 * k * step)
        slope[k:-k] = np.fmax(d_top, d_bot)
    good = (fill >= LINE_FILL) & (slope <= MAX_ENDPLATE_SLOPE)
    out = np.asarray(positions, float).copy()
    shift = np.zeros(3)
    reach = MAX_LINE_SHIFT * depth_mm
    for idx, inward in ((0, -1.0), (2, +1.0)):
        moves = np.arange(0.0, reach + 1e-9, step)
        cand = out[idx] + inward * moves
        j = np.clip(np.round((cand - ap[0]) / step).astype(int), 0, len(ap) - 1)
        ok = np.flatnonzero(good[j])
        if ok.size:
            out[idx] = float(cand[ok[0]])
            shift[idx] = float(moves[ok[0]])
        else:
            shift[idx] = np.nan
    return out, shift
