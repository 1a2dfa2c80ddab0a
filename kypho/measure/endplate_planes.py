"""Plane fits of a vertebral body's endplates in a trial frame (:mod:`kypho.measure.frame`).

For every column of the body's footprint the superior and inferior edges are read on the
mask (or, in the last round, on the CT values); a plane is fitted to each endplate on the
inner footprint, with iterative rejection of outliers, and one to each endplate's rim.
:class:`PlaneRounds` runs one such round in a given frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.imaging.slices import is_thick_slice
from kypho.measure.endplates import column_edges, refine_edges_by_moments
from kypho.measure.sampling import (
    local_extent,
    sample_body_columns,
    sample_on_grid,
    spacing_along,
)
from kypho.measure.thick_endplates import interior_endplate_edges
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import VertebraFrame

__all__ = [
    "FOOTPRINT_STEP_MM",
    "RIM_MARGIN_MM",
    "RIM_RING_MM",
    "THICK_RIM_RING_MM",
    "PlaneRounds",
    "plane_normal",
    "unit",
]

#: Columns closer than this to the border of the body's footprint are left out of the
#: endplate plane fits (rounded ring apophysis, partial volume at the rim).
RIM_MARGIN_MM = 3.0
#: Ring of the footprint (mm inside its border) through which the endplate rim planes
#: are fitted: past the partial-volume columns at the wall, and mostly outside the
#: central concavity. All around the rim, its columns meet the slice grid at every phase.
RIM_RING_MM = (2.0, 5.0)
#: Ring (mm inside the footprint border) of the rim planes at thick slices, fitted on CT
#: edges found from the body's interior. Endplates are 35-48 mm wide at T11-L5 (DOMAIN.md
#: §7.3), smaller higher up, so 7 mm in still leaves most of the central concavity (a
#: biconcave fracture's depression) out of the fit.
THICK_RIM_RING_MM = (2.0, 7.0)
#: Lateral / AP step (mm) of the footprint grid used for plane fits.
FOOTPRINT_STEP_MM = 1.0
#: SI step (mm) of the CT profiles of the last plane-fit round: the moment integrals of a
#: profile interpolated between voxel centres need no finer step for a plane.
CT_STEP_MM = 0.5


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def plane_normal(points: np.ndarray, n_iter: int = 3) -> tuple[np.ndarray, float, int]:
    """Robust plane fit ``z = a x + b y + c`` to local points.

    Parameters
    ----------
    points : (N, 3) ndarray
        Local (lr, ap, si) mm.

    Returns
    -------
    normal : (3,) ndarray
        Unit normal in local coordinates with positive si component.
    rms_mm : float
        RMS residual of the inliers.
    n_inliers : int
    """
    keep = np.ones(len(points), bool)
    coef = np.zeros(3)
    for _ in range(n_iter):
        A = np.c_[points[keep, 0], points[keep, 1], np.ones(int(keep.sum()))]
        coef, *_ = np.linalg.lstsq(A, points[keep, 2], rcond=None)
        res = points[:, 2] - (coef[0] * points[:, 0] + coef[1] * points[:, 1] + coef[2])
        sd = 1.4826 * np.median(np.abs(res[keep] - np.median(res[keep])))
        new_keep = np.abs(res) <= max(2.5 * sd, 0.5)
        if new_keep.sum() < 6 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    normal = unit(np.array([-coef[0], -coef[1], 1.0]))
    rms = float(np.sqrt(np.mean(res[keep] ** 2)))
    return normal, rms, int(keep.sum())


def _footprint_depth(
    grid_x: np.ndarray, grid_y: np.ndarray, top: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (mm) of each column inside the body's footprint (0 outside), and the
    columns' local (x, y) positions; both flattened in the order of ``top``."""
    nx, ny = len(grid_x), len(grid_y)
    footprint = np.isfinite(top).reshape(nx, ny)
    depth = ndimage.distance_transform_edt(footprint, sampling=FOOTPRINT_STEP_MM)
    X, Y = np.meshgrid(grid_x, grid_y, indexing="ij")
    return depth.ravel(), np.c_[X.ravel(), Y.ravel()]


def _fit_rim_planes(
    frame: VertebraFrame,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
    *,
    ring_mm: tuple[float, float] = RIM_RING_MM,
    footprint_top: np.ndarray | None = None,
    found_bottom: np.ndarray | None = None,
    found_top: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """World normals of the planes through the endplate rims (the ring ``ring_mm``
    inside the footprint border), or None when the ring has too few columns.

    By default the edges are the mask's (or refined near it) and the footprint is
    theirs. At thick slices they are the CT edges found from the body's interior: the
    footprint is then the mask's (``footprint_top``), only the columns where an edge was
    found (``found_*``) count, and the ring (:data:`THICK_RIM_RING_MM`) can reach
    further in, since these edges do not depend on the mask (more columns steady the
    plane against the slice grid) while still leaving out the central concavity.
    """
    footprint = top if footprint_top is None else footprint_top
    depth, xy_all = _footprint_depth(grid_x, grid_y, footprint)
    use = (depth >= ring_mm[0]) & (depth <= ring_mm[1])
    use_sup = use if found_top is None else use & found_top
    use_inf = use if found_bottom is None else use & found_bottom
    if min(int(use_sup.sum()), int(use_inf.sum())) < 20:
        return None
    ls_sup, _, _ = plane_normal(np.c_[xy_all[use_sup], top[use_sup]])
    ls_inf, _, _ = plane_normal(np.c_[xy_all[use_inf], bottom[use_inf]])
    rot = frame.rotation()
    return unit(ls_sup @ rot), unit(ls_inf @ rot)


def _fit_planes(
    frame: VertebraFrame,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    bottom: np.ndarray,
    top: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float, float, int] | None:
    """World normals of the two endplate planes fitted on the inner footprint.

    Returns (superior normal, inferior normal, rms superior, rms inferior, inliers), or
    None when the footprint is too small.
    """
    depth, xy_all = _footprint_depth(grid_x, grid_y, top)
    use = depth >= RIM_MARGIN_MM
    if use.sum() < 12:  # tiny body: fall back to the whole footprint
        use = depth > 0
    if use.sum() < 6:
        return None
    xy = xy_all[use]
    ls_sup, rms_sup, k_sup = plane_normal(np.c_[xy, top[use]])
    ls_inf, rms_inf, k_inf = plane_normal(np.c_[xy, bottom[use]])
    rot = frame.rotation()  # rows lr, ap, si: local = world @ rot.T
    return unit(ls_sup @ rot), unit(ls_inf @ rot), rms_sup, rms_inf, min(k_sup, k_inf)


def _ct_edges(
    crop: VertebraCrop,
    frame: VertebraFrame,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    lo_si: float,
    hi_si: float,
    bone_hu: float,
    min_contrast_hu: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Endplate edges of every footprint column placed on the CT values (moments), the
    mask edge where the CT gives none or disagrees by more than a voxel."""
    si_vox = spacing_along(crop.affine, np.asarray(frame.si_axis))
    pad = si_vox + 3.0  # the disc-side window of the moment estimate
    grid_si = np.arange(lo_si - pad, hi_si + pad + 1e-9, CT_STEP_MM)
    mask, hu = sample_body_columns(crop, frame, grid_x, grid_y, grid_si)
    bottom, top = column_edges(mask, grid_si)
    window = {"inner_mm": si_vox + 2.5, "outer_mm": si_vox + 2.5}
    out = []
    for edge, outward in ((bottom, -1), (top, +1)):
        ct, used = refine_edges_by_moments(
            hu, grid_si, edge, outward, bone_hu=bone_hu, min_contrast_hu=min_contrast_hu,
            **window,
        )  # fmt: skip
        out.append(np.where(used & (np.abs(ct - edge) <= si_vox), ct, edge))
    return out[0], out[1]


@dataclass(frozen=True, eq=False)
class PlaneRounds:
    """What every round of endplate plane fits samples: the crop, its body and surface."""

    crop: VertebraCrop
    centroid: np.ndarray
    surface: np.ndarray
    body_f: np.ndarray
    bone_hu: float | None
    min_contrast_hu: float

    def plane_round(
        self, si: np.ndarray, ap: np.ndarray, on_ct: bool
    ) -> tuple[tuple[np.ndarray, np.ndarray, float, float, int] | None,
               tuple[np.ndarray, np.ndarray] | None]:
        """Endplate plane fits (:func:`_fit_planes`) in the frame (si, ap), and the rim
        planes (each round's replace the previous round's: the last, CT, round's are kept).
        """
        crop = self.crop
        frame = VertebraFrame(tuple(self.centroid), tuple(si), tuple(ap))
        # Room for the mask's 0.5 crossing half a voxel beyond the last voxel centre.
        lo, hi = local_extent(self.surface, frame, 3.0 + float(max(crop.spacing_mm)))
        grid_x = np.arange(lo[0], hi[0] + 1e-9, FOOTPRINT_STEP_MM)
        grid_y = np.arange(lo[1], hi[1] + 1e-9, FOOTPRINT_STEP_MM)
        if on_ct:
            bone_hu = float(self.bone_hu)  # type: ignore[arg-type]
            bottom, top = _ct_edges(crop, frame, grid_x, grid_y, lo[2], hi[2], bone_hu,
                                    self.min_contrast_hu)
        else:
            # Edges are interpolated between samples: a finer step than 0.5 mm buys nothing.
            grid_si = np.arange(lo[2], hi[2] + 1e-9, 0.5)
            m = sample_on_grid(self.body_f, crop.affine, frame, grid_x, grid_y, grid_si)
            bottom, top = column_edges(m.reshape(-1, len(grid_si)), grid_si)
        # At thick slices the rim planes are fitted on the edges found from the body's
        # interior instead.
        if on_ct and is_thick_slice(crop.spacing_mm):
            b_in, t_in, f_b, f_t = interior_endplate_edges(
                crop, frame, grid_x, grid_y, lo[2], hi[2], bone_hu, self.min_contrast_hu,
            )
            # Too few columns with a CT endplate (e.g. dense bone): the mask's rim instead.
            rim = _fit_rim_planes(
                frame, grid_x, grid_y, b_in, t_in, ring_mm=THICK_RIM_RING_MM,
                footprint_top=top, found_bottom=f_b, found_top=f_t,
            ) or _fit_rim_planes(frame, grid_x, grid_y, bottom, top)  # fmt: skip
        else:
            rim = _fit_rim_planes(frame, grid_x, grid_y, bottom, top)
        return _fit_planes(frame, grid_x, grid_y, bottom, top), rim
