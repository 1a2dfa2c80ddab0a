"""Endplate edges found on the CT from the body's interior, for thick-slice CTs.

At thick slices the body mask of a steeply tilted vertebra can be off by several
millimetres at an endplate (a disc, or the neighbour's endplate, kept in the body; a
corner left out), far more than the voxel. An edge refined on the CT in a window
centred on such a mask edge finds nothing, or the wrong endplate. The trabecular
interior of the body is where the mask is reliable, so here each column is read from
the middle of the body outward: the endplate is the first bright band (its peak at
least ``min_contrast_hu`` above the body's own trabecular HU), and the disc the first
minimum beyond it. The edge is then placed from the moments of the profile between the
interior and that minimum, the same model as
:func:`kypho.imaging.edges.refine_edges_by_moments` with a per-column window.
Heights (:func:`mask_free_edges`) and the endplate rim planes of the frame use these
edges where the mask is off by more than its voxel.

Pure array computation, vectorised over columns: arrays are ``(n_columns, n_samples)``.
"""

from __future__ import annotations

import numpy as np

from kypho.imaging.edges import edge_from_moments
from kypho.measure.endplates import column_edges
from kypho.measure.sampling import sample_body_columns, spacing_along
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import VertebraFrame

__all__ = [
    "edges_from_interior",
    "interior_endplate_edges",
    "mask_free_edges",
    "outward_rise",
    "voxel_extent_along",
]

#: Room (mm) sampled beyond the farthest endplate peak for the disc minimum, in the
#: thick-slice search from the interior (only the first minimum past the peak is used).
DISC_ROOM_MM = 6.0
#: SI step (mm) of the CT profiles (as the frame's CT round).
CT_STEP_MM = 0.5


def voxel_extent_along(affine: np.ndarray, direction: np.ndarray) -> float:
    """Extent (mm) of one voxel box projected on a world direction.

    A mask surface drawn in voxels is uncertain by this much along its normal: for an
    endplate tilted by 40 degrees at 0.7 x 0.7 x 3 mm it is ~2.8 mm, while the voxel's
    spacing along that direction (``1 / |A^-1 d|``) is ~1 mm.

    Parameters
    ----------
    affine : (4, 4) ndarray
        Voxel-to-world affine.
    direction : (3,) ndarray
        World direction (any length).
    """
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    return float(np.abs(np.asarray(affine, float)[:3, :3].T @ d).sum())


def _peak_and_disc(
    p: np.ndarray, in_range: np.ndarray, i0: np.ndarray, bone_hu: float, min_contrast_hu: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of outward profiles (N, S): whether an endplate peak and the drop after
    it were found, the peak's index and the disc minimum's index."""
    n, s = p.shape
    k = np.arange(s)[None, :]
    # Endplate: from the first sample above bone + contrast, the profile must fall by the
    # contrast below its running maximum (the disc); the peak is that maximum. A noise
    # bump on the rising flank falls by less, so it is not taken for the endplate.
    bright = in_range & (p >= bone_hu + min_contrast_hu)
    has_peak = bright.any(axis=1)
    c = np.argmax(bright, axis=1)
    # A column that starts in bright bone runs along a cortical wall (or cement), not
    # through trabecular bone to an endplate.
    has_peak &= c > i0
    from_c = k >= c[:, None]
    run_max = np.maximum.accumulate(np.where(from_c, p, -np.inf), axis=1)
    drop = from_c & (p <= run_max - min_contrast_hu)
    has_drop = drop.any(axis=1)
    j_drop = np.argmax(drop, axis=1)
    j_peak = np.argmax(np.where(from_c & (k <= j_drop[:, None]), p, -np.inf), axis=1)
    # Disc: the first local minimum from the drop on (before the next endplate rises).
    falling = np.zeros((n, s), bool)
    falling[:, :-1] = p[:, 1:] >= p[:, :-1]
    falling[:, -1] = True
    j_min = np.argmax((k >= j_drop[:, None]) & falling, axis=1)
    return has_peak, has_drop, j_peak, j_min


def edges_from_interior(
    hu: np.ndarray,
    si: np.ndarray,
    start: np.ndarray,
    limit: np.ndarray,
    outward: int,
    *,
    bone_hu: float,
    min_contrast_hu: float,
    inner_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Endplate edge of each column, searched outward from inside the body.

    Parameters
    ----------
    hu : (N, S) ndarray of float
        CT values along the columns (finite).
    si : (S,) ndarray of float
        Sample positions in mm, ascending and evenly spaced.
    start : (N,) ndarray of float
        Position (mm) inside the body where each search begins; NaN skips the column.
    limit : (N,) ndarray of float
        Farthest position (mm, in the ``outward`` direction) where the endplate peak may
        lie.
    outward : {+1, -1}
        +1 for a superior edge, -1 for an inferior one.
    bone_hu : float
        The body's trabecular HU (``T`` of the moment model).
    min_contrast_hu : float
        Rise of the endplate peak above ``bone_hu``, and its drop to the disc minimum,
        needed to accept a column.
    inner_mm : float
        Extent of the moment window inside the peak (reaches into trabecular bone).

    Returns
    -------
    edge : (N,) ndarray of float
        Edge positions (mm); NaN where no endplate was found.
    found : (N,) ndarray of bool
    """
    n, s = hu.shape
    step = float(si[1] - si[0])
    ok = np.isfinite(start) & np.isfinite(limit)
    # Work in outward sample order: index 0 at the far inferior end for outward = -1.
    p = hu if outward > 0 else hu[:, ::-1]
    pos = si if outward > 0 else si[::-1]
    to_idx = (lambda x: (x - si[0]) / step) if outward > 0 else (lambda x: (si[-1] - x) / step)
    i0 = np.clip(np.round(to_idx(np.nan_to_num(start))).astype(int), 0, s - 1)
    i1 = np.clip(np.round(to_idx(np.nan_to_num(limit))).astype(int), 0, s - 1)
    k = np.arange(s)[None, :]
    in_range = (k >= i0[:, None]) & (k <= i1[:, None])

    has_peak, has_drop, j_peak, j_min = _peak_and_disc(p, in_range, i0, bone_hu,
                                                       min_contrast_hu)
    rows = np.arange(n)
    peak = p[rows, j_peak]
    disc = p[rows, j_min]

    # Moments over [a, j_min] with a = peak - inner window (model of edges.py).
    k_in = max(1, round(inner_mm / step))
    a = np.maximum(j_peak - k_in, 0)
    win = (k >= a[:, None]) & (k <= j_min[:, None])
    q = np.where(win, p - disc[:, None], 0.0)
    z = (k - a[:, None]) * step
    w = np.where((k == a[:, None]) | (k == j_min[:, None]), 0.5 * step, step)
    u, m0 = edge_from_moments(q, z, w, bone_hu - disc)
    span = (j_min - a) * step
    found = (
        ok
        & has_peak
        & has_drop
        & (j_min > j_peak)
        & (peak - disc >= min_contrast_hu)
        & np.isfinite(u)
        & (m0 > 0)
        & (u > 0)
        & (u < span)
    )
    edge_pos = pos[a] + outward * u
    return np.where(found, edge_pos, np.nan), found


def interior_endplate_edges(
    crop: VertebraCrop,
    frame: VertebraFrame,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    lo_si: float,
    hi_si: float,
    bone_hu: float,
    min_contrast_hu: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Endplate edges of every column of a body's footprint, found on the CT from the
    middle of the body outward (:func:`edges_from_interior`), for thick slices.

    Parameters
    ----------
    crop : VertebraCrop
        Crop with the body mask and HU.
    frame : VertebraFrame
        Local frame whose SI axis the columns follow.
    grid_x, grid_y : (NX,), (NY,) ndarray of float
        Local LR and AP positions (mm) of the columns.
    lo_si, hi_si : float
        Local SI extent (mm) of the body.
    bone_hu : float
        The body's trabecular HU.
    min_contrast_hu : float
        Endplate contrast needed to accept a column.

    Returns
    -------
    bottom, top : (NX * NY,) ndarray of float
        Inferior and superior edges (local SI mm), NaN where not found.
    found_bottom, found_top : (NX * NY,) ndarray of bool
    """
    si_axis = np.asarray(frame.si_axis)
    si_vox = spacing_along(crop.affine, si_axis)
    # How far the true endplate may lie beyond the mask's: the voxel box's extent along
    # the axis (the staircase of a tilted surface), plus a thin endplate's own blur.
    reach = voxel_extent_along(crop.affine, si_axis) + 2.5
    pad = reach + DISC_ROOM_MM
    grid_si = np.arange(lo_si - pad, hi_si + pad + 1e-9, CT_STEP_MM)
    mask, hu = sample_body_columns(crop, frame, grid_x, grid_y, grid_si)
    bottom, top = column_edges(mask, grid_si)
    # The middle of each column is inside the body even where the mask's endplate is
    # several millimetres off: the search starts there.
    mid = 0.5 * (bottom + top)
    kw = {"bone_hu": bone_hu, "min_contrast_hu": min_contrast_hu, "inner_mm": si_vox + 2.5}
    b_ct, b_found = edges_from_interior(hu, grid_si, mid, bottom - reach, -1, **kw)
    t_ct, t_found = edges_from_interior(hu, grid_si, mid, top + reach, +1, **kw)
    return b_ct, t_ct, b_found, t_found


def mask_free_edges(
    hu: np.ndarray,
    si: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
    bottom_hu: np.ndarray,
    top_hu: np.ndarray,
    used_b: np.ndarray,
    used_t: np.ndarray,
    bone_hu: float,
    min_contrast_hu: float,
    reach_mm: float,
    si_vox: float,
) -> tuple[np.ndarray, ...]:
    """At thick slices, columns whose mask edge is off by more than a voxel take the
    endplate found on the CT from the middle of the body outward.

    A body mask drawn in thick slices can keep a disc, or lose a corner, over several
    mm at a steep endplate; the CT refinement near the mask's edge then finds nothing or
    the neighbour's endplate (see this module's docstring). Where the first
    endplate band out from the interior lies more than the voxel box's extent along the
    axis (``reach_mm``) from the mask's edge, and the CT does not fall outward across
    the mask's edge (:func:`outward_rise`), both edges of the column are replaced by
    it.
    """
    mid = 0.5 * (bottom + top)
    kw = {"bone_hu": bone_hu, "min_contrast_hu": min_contrast_hu, "inner_mm": si_vox + 2.5}
    out = []
    for mask_edge, ct_edge, used, outward in (
        (bottom, bottom_hu, used_b, -1),
        (top, top_hu, used_t, +1),
    ):
        found_edge, found = edges_from_interior(
            hu, si, mid, mask_edge + outward * (reach_mm + 2.5), outward, **kw
        )
        off = found & (np.abs(found_edge - mask_edge) > reach_mm)
        # A mask edge at this body's endplate has the bright band inside and the disc
        # outside: the CT falls outward across it. Where it rises instead, the edge lies
        # in the disc (in front of the neighbour's endplate) or in the body short of its
        # endplate; a dense band inside the body, with the mask right beyond the real
        # endplate, keeps the mask.
        off &= outward_rise(hu, si, mask_edge, outward, reach_mm) > 0
        out.append(
            (
                np.where(off, found_edge, mask_edge),
                np.where(off, found_edge, ct_edge),
                used | off,
            )
        )
    (b, bh, ub), (t, th, ut) = out
    return b, t, bh, th, ub, ut


def outward_rise(
    hu: np.ndarray, si: np.ndarray, edge: np.ndarray, outward: int, width_mm: float
) -> np.ndarray:
    """Mean HU over ``width_mm`` outside each column's ``edge`` minus the mean over
    ``width_mm`` inside it (NaN where either is empty)."""
    d = (si[None, :] - edge[:, None]) * outward
    out_w = (d > 0) & (d <= width_mm)
    in_w = (d <= 0) & (d > -width_mm)
    with np.errstate(invalid="ignore"):
        return (hu * out_w).sum(1) / out_w.sum(1) - (hu * in_w).sum(1) / in_w.sum(1)
