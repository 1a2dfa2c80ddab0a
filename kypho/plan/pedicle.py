"""Where the vertebral body and the two pedicles are, in the vertebra's own frame.

The pedicle is the bone of the whole-vertebra mask that is neither body nor canal,
lateral to the canal and just posterior to the body. Walking posteriorly from the body
wall, each side's cross-section (perpendicular to the AP axis) is tracked slice by slice
until it merges with the lamina, transverse and articular processes; the narrowest
tracked section is the (coarse) isthmus. :mod:`kypho.plan.trajectory` then re-measures
the isthmus perpendicular to the planned path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.measure.canal import BodyGeometry
from kypho.measure.local_grid import LocalGrid

__all__ = ["PedicleSeed", "find_pedicle"]

#: How far posterior to the body wall a pedicle is tracked (pedicle plus isthmus region;
#: lumbar chord lengths are ~45-50 mm including the body, the pedicle itself < 20 mm).
MAX_PEDICLE_TRACK_MM = 25.0
#: Tracking stops once a section grows beyond this multiple of the smallest one: the
#: pedicle has joined the lamina / transverse and articular processes.
MERGE_AREA_FACTOR = 1.5
#: A section smaller than this fraction of the one RAMP_LOOKAHEAD_MM further back is a
#: partial section at the body cut, not the isthmus.
RAMP_FRACTION = 0.6
RAMP_LOOKAHEAD_MM = 3.0
#: Tracked length before a merge with the posterior arch is accepted.
MIN_PEDICLE_LENGTH_MM = 4.0


@dataclass(frozen=True)
class PedicleSeed:
    """Coarse pedicle isthmus on one side, in local mm.

    ``side`` is +1 for the patient's right (local +x), -1 for the left.
    """

    side: int
    centre_mm: np.ndarray
    width_mm: float
    height_mm: float
    area_mm2: float
    tracked_mm: float


def find_pedicle(grid: LocalGrid, body: BodyGeometry, side: int) -> PedicleSeed | None:
    """Track one pedicle posteriorly from the body wall and return its narrowest section.

    Parameters
    ----------
    grid : LocalGrid
    body : BodyGeometry
    side : {+1, -1}
        +1 the patient's right (local +x), -1 the left.

    Returns
    -------
    PedicleSeed or None
        None when no bone is found on that side behind the body (pedicle absent, cut by
        the field of view, or not segmented).
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (right) or -1 (left), got {side!r}")
    xs, ys, zs = grid.axis_mm(0), grid.axis_mm(1), grid.axis_mm(2)
    posterior = grid.vert & ~grid.body
    half = (side * (xs - body.x_centre_mm) > 0)[:, None]
    # Pedicles sit within the body's height: ignore processes far above or below it.
    zband = (np.abs(zs - body.z_centre_mm) < 0.75 * body.height_mm)[None, :]
    h = grid.step_mm
    k_start = int(np.searchsorted(ys, body.y_posterior_mm + h)) - 1
    # Start behind the body on this side: the first slice without body voxels there, so
    # rim slivers left by the body cut are not mistaken for the pedicle.
    in_half = half[:, 0][:, None, None] & zband[0][None, None, :]
    side_body = (grid.body & in_half).any(axis=(0, 2))
    k_stop = int(np.searchsorted(ys, body.y_posterior_mm - MAX_PEDICLE_TRACK_MM))
    while k_start > max(k_stop, 0) and side_body[k_start]:
        k_start -= 1
    sections = _track_sections(grid, posterior, half & zband,
                               range(min(k_start, len(ys) - 1), max(k_stop, 0) - 1, -1))
    if not sections:
        return None
    i0, i1, i_best = _narrowest(np.array([s[1] for s in sections]), h)
    best = sections[i_best]
    return PedicleSeed(
        side=side,
        centre_mm=best[2],
        width_mm=best[3],
        height_mm=best[4],
        area_mm2=best[1],
        tracked_mm=float(sections[i0][0] - sections[i1 - 1][0]),
    )


#: One tracked cross-section: AP position (mm), area (mm2), centre (local mm), width and
#: height (mm).
Section = tuple[float, float, np.ndarray, float, float]


def _track_sections(grid: LocalGrid, bone: np.ndarray, window: np.ndarray,
                    ks: range) -> list[Section]:
    """Follow one connected section of `bone` (within the (X, Z) `window`) through the
    coronal slices `ks`.

    The first non-empty slice starts with its largest component; each next slice keeps
    the component that overlaps the previous one most; tracking stops at an empty slice
    or where nothing overlaps.
    """
    xs, ys, zs = grid.axis_mm(0), grid.axis_mm(1), grid.axis_mm(2)
    h = grid.step_mm
    prev: np.ndarray | None = None
    sections: list[Section] = []
    for k in ks:
        sl = bone[:, k, :] & window
        if not sl.any():
            if prev is None:
                continue
            break
        lab, nlab = ndimage.label(sl)
        if prev is None:
            sizes = np.bincount(lab.ravel(), minlength=nlab + 1)[1:]
            keep = lab == (int(np.argmax(sizes)) + 1)
        else:
            overlap = np.bincount(lab[prev], minlength=nlab + 1)[1:]
            if overlap.max() == 0:
                break
            keep = lab == (int(np.argmax(overlap)) + 1)
        ii, kk = np.nonzero(keep)
        centre = np.array([xs[ii].mean(), ys[k], zs[kk].mean()])
        sections.append(
            (ys[k], float(keep.sum()) * h * h, centre, float(np.ptp(xs[ii]) + h),
             float(np.ptp(zs[kk]) + h))
        )
        prev = keep
    return sections


def _narrowest(areas: np.ndarray, h: float) -> tuple[int, int, int]:
    """First and end index of the pedicle's run of sections, and its narrowest section."""
    m = max(1, round(RAMP_LOOKAHEAD_MM / h))
    # Skip the ramp where the (often oblique) body cut leaves a partial section.
    i0 = 0
    while i0 + m < len(areas) and areas[i0] < RAMP_FRACTION * areas[i0 + m]:
        i0 += 1
    # Stop where the section balloons: the pedicle has joined the posterior arch.
    i1 = len(areas)
    min_after = max(1, round(MIN_PEDICLE_LENGTH_MM / h))
    for i in range(i0 + min_after, len(areas)):
        if areas[i] > MERGE_AREA_FACTOR * areas[i0:i].min():
            i1 = i
            break
    i_best = i0 + int(np.argmin(areas[i0:i1]))
    return i0, i1, i_best
