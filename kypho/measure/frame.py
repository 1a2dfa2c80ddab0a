"""A vertebra's own frame: SI axis from its endplates, AP axis from the canal.

DESIGN.md "Vertebral body heights": the superior-inferior axis is the mean normal of the
two endplates, the anterior-posterior axis points from the spinal canal to the body centre,
and the mid-sagittal plane contains both.

How it is found (all in world mm):

1. Start from a guess of the SI axis: the spine's own direction at this level (the line
   through the neighbouring bodies' centroids) when given, else the body's shortest
   principal axis. The AP guess is the direction from the posterior elements (whole
   vertebra minus body, which encloses the canal) to the body centroid.
2. Resample the body mask on a local grid (trilinear, sub-voxel) and read, for every
   column of the body's footprint, its superior and inferior edges.
3. Fit a plane to each endplate surface on the *inner* footprint (at least
   :data:`RIM_MARGIN_MM` from the footprint border, where the rounded rims would tilt the
   fit), with iterative rejection of outliers (residual > 2.5 robust SD): a local
   depression of a fractured endplate, or a mask spur, does not tilt the plane.
4. SI = normalised mean of the two plane normals; iterate from step 2 twice.
5. In the last round, also fit a plane to each endplate's rim (the ring
   :data:`RIM_RING_MM` inside the footprint border). The Cobb lines use it at thick
   slices (:func:`kypho.measure.alignment.combine_endplate_normals`): its columns meet
   the slice grid at every phase, which two rim points alone do not. At thick slices
   (:func:`~kypho.imaging.slices.is_thick_slice`) this plane is fitted
   instead on endplate edges found on the CT from the middle of the body outward
   (:mod:`kypho.measure.thick_endplates`), on a wider ring (:data:`THICK_RIM_RING_MM`):
   the mask of a steeply tilted body can be off there by more than the voxel (disc or
   a corner misassigned), and an edge refined near the mask's edge inherits that.

A wedge fracture has genuinely non-parallel endplates: the mean normal is then the
contract's definition of the axis. When the endplate normals disagree by more than
:data:`MAX_ENDPLATE_ANGLE_DEG`, or a fit is poor, the frame quality is lowered (it feeds
the grade confidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.slices import is_thick_slice
from kypho.measure.endplates import column_edges, refine_edges_by_moments
from kypho.measure.sampling import (
    VertebraCrop,
    local_extent,
    sample_body_columns,
    sample_on_grid,
    spacing_along,
)
from kypho.measure.thick_endplates import interior_endplate_edges
from kypho.model import VertebraFrame

__all__ = ["FrameFit", "estimate_frame", "plane_normal"]

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
#: Endplates of normal vertebrae are close to parallel; beyond this the frame is less sure.
MAX_ENDPLATE_ANGLE_DEG = 25.0
#: Lateral / AP step (mm) of the footprint grid used for plane fits.
FOOTPRINT_STEP_MM = 1.0
#: SI step (mm) of the CT profiles of the last plane-fit round: the moment integrals of a
#: profile interpolated between voxel centres need no finer step for a plane.
CT_STEP_MM = 0.5


@dataclass
class FrameFit:
    """A vertebra frame and how well it was determined.

    Attributes
    ----------
    frame : VertebraFrame
    superior_normal, inferior_normal : (3,) ndarray
        Unit normals of the fitted endplate planes in world RAS, pointing superiorly.
    superior_tilt_deg, inferior_tilt_deg : float
        Angle of each endplate normal from the frame's SI axis, signed positive when the
        normal leans anteriorly.
    quality : float
        0..1, lowered by poor plane fits, few columns or strongly diverging endplates.
    notes : list of str
    superior_rim_normal, inferior_rim_normal : (3,) ndarray or None
        Unit world normals (pointing superiorly) of planes through each endplate's rim
        (:data:`RIM_RING_MM`), at thick slices through its CT edges found from the body's
        interior; None when the footprint is too small for the ring.
    """

    frame: VertebraFrame
    superior_normal: np.ndarray
    inferior_normal: np.ndarray
    superior_tilt_deg: float
    inferior_tilt_deg: float
    quality: float
    notes: list[str] = field(default_factory=list)
    superior_rim_normal: np.ndarray | None = None
    inferior_rim_normal: np.ndarray | None = None


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _orthonormal(si: np.ndarray, ap_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    si = _unit(si)
    ap = ap_hint - np.dot(ap_hint, si) * si
    if np.linalg.norm(ap) < 1e-6:  # hint parallel to SI: fall back to world anterior
        ap = np.array([0.0, 1.0, 0.0]) - si[1] * si
    return si, _unit(ap)


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
    normal = _unit(np.array([-coef[0], -coef[1], 1.0]))
    rms = float(np.sqrt(np.mean(res[keep] ** 2)))
    return normal, rms, int(keep.sum())


def _initial_axes(
    crop: VertebraCrop, centroid: np.ndarray, si_hint: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    pts = crop.body_points_world()
    if si_hint is not None and np.linalg.norm(si_hint) > 0:
        si = _unit(np.asarray(si_hint, float))
    else:
        # Bodies are usually wider and deeper than tall: the least-variance axis is SI
        # when it stands out clearly; otherwise the patient's own SI axis (supine CT).
        w, v = np.linalg.eigh(np.cov((pts - centroid).T))
        si = v[:, 0] if w[0] < 0.7 * w[1] else np.array([0.0, 0.0, 1.0])
    if si[2] < 0:
        si = -si
    post = crop.vertebra & ~crop.body
    if post.sum() >= 10:
        post_c = voxel_to_world(crop.affine, np.argwhere(post)).mean(axis=0)
        ap_hint = centroid - post_c
    else:
        ap_hint = np.array([0.0, 1.0, 0.0])
    return _orthonormal(si, ap_hint)


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
    return _unit(ls_sup @ rot), _unit(ls_inf @ rot)


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
    return _unit(ls_sup @ rot), _unit(ls_inf @ rot), rms_sup, rms_inf, min(k_sup, k_inf)


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


def estimate_frame(
    crop: VertebraCrop,
    *,
    si_hint: np.ndarray | None = None,
    n_iter: int = 3,
    bone_hu: float | None = None,
    min_contrast_hu: float = 100.0,
) -> FrameFit:
    """Estimate the vertebra frame from its body mask (and whole-vertebra mask).

    Parameters
    ----------
    crop : VertebraCrop
        Crop with a non-empty body mask.
    si_hint : (3,) ndarray, optional
        Spine direction at this level (world, any sign), e.g. between neighbour centroids.
    n_iter : int
        Refinement rounds of the endplate plane fits on the mask.
    bone_hu : float, optional
        The body's trabecular HU. When given, a last round fits the endplate planes on
        edges placed on the CT values (:func:`refine_edges_by_moments`): with thick
        slices the mask is a staircase whose plane can be off by degrees, which the
        Cobb angles would inherit.
    min_contrast_hu : float
        Endplate-minus-disc contrast needed to use the CT edge of a column.

    Returns
    -------
    FrameFit
    """
    pts = crop.body_points_world()
    surface = crop.body_surface_world()
    centroid = pts.mean(axis=0)
    si, ap = _initial_axes(crop, centroid, si_hint)
    step_si = 0.5  # edges are interpolated between samples; finer buys nothing here
    # Room for the mask's 0.5 crossing half a voxel beyond the last voxel centre.
    margin = 3.0 + float(max(crop.spacing_mm))
    body_f = crop.body.astype(np.float32)
    notes: list[str] = []
    n_sup = n_inf = si
    rms_sup = rms_inf = 0.0
    n_used = 0

    rims: list[tuple[np.ndarray, np.ndarray] | None] = [None]
    thick = is_thick_slice(crop.spacing_mm)

    def one_round(
        si: np.ndarray, ap: np.ndarray, on_ct: bool
    ) -> tuple[np.ndarray, np.ndarray, float, float, int] | None:
        frame = VertebraFrame(tuple(centroid), tuple(si), tuple(ap))
        lo, hi = local_extent(surface, frame, margin)
        grid_x = np.arange(lo[0], hi[0] + 1e-9, FOOTPRINT_STEP_MM)
        grid_y = np.arange(lo[1], hi[1] + 1e-9, FOOTPRINT_STEP_MM)
        if on_ct:
            bottom, top = _ct_edges(
                crop, frame, grid_x, grid_y, lo[2], hi[2], float(bone_hu), min_contrast_hu
            )
        else:
            grid_si = np.arange(lo[2], hi[2] + 1e-9, step_si)
            m = sample_on_grid(body_f, crop.affine, frame, grid_x, grid_y, grid_si)
            bottom, top = column_edges(m.reshape(-1, len(grid_si)), grid_si)
        # Each round overwrites the rim planes: the last (CT) round's are kept. At thick
        # slices they are fitted on the edges found from the body's interior instead.
        if on_ct and thick:
            b_in, t_in, f_b, f_t = interior_endplate_edges(
                crop, frame, grid_x, grid_y, lo[2], hi[2], float(bone_hu), min_contrast_hu
            )
            # Too few columns with a CT endplate (e.g. dense bone): the mask's rim instead.
            rims[0] = _fit_rim_planes(
                frame, grid_x, grid_y, b_in, t_in, ring_mm=THICK_RIM_RING_MM,
                footprint_top=top, found_bottom=f_b, found_top=f_t,
            ) or _fit_rim_planes(frame, grid_x, grid_y, bottom, top)  # fmt: skip
        else:
            rims[0] = _fit_rim_planes(frame, grid_x, grid_y, bottom, top)
        return _fit_planes(frame, grid_x, grid_y, bottom, top)

    # Rounds on the mask until the axis settles, then (with bone_hu) one on the CT.
    fit = None
    for _ in range(n_iter):
        fit = one_round(si, ap, on_ct=False)
        if fit is None:
            notes.append("body footprint too small for endplate plane fits")
            break
        n_sup, n_inf, rms_sup, rms_inf, n_used = fit
        new_si = _unit(n_sup + n_inf)
        settled = np.degrees(np.arccos(np.clip(np.dot(new_si, si), -1, 1))) < 0.05
        si, ap = _orthonormal(new_si, ap)
        if settled:
            break
    if fit is not None and bone_hu is not None:
        ct_fit = one_round(si, ap, on_ct=True)
        if ct_fit is not None:
            n_sup, n_inf, rms_sup, rms_inf, n_used = ct_fit
            si, ap = _orthonormal(_unit(n_sup + n_inf), ap)
    frame = VertebraFrame(tuple(centroid), tuple(si), tuple(ap))

    def tilt(n: np.ndarray) -> float:
        return float(np.degrees(np.arctan2(np.dot(n, ap), np.dot(n, si))))

    angle = float(np.degrees(np.arccos(np.clip(np.dot(n_sup, n_inf), -1.0, 1.0))))
    quality = 1.0
    if angle > MAX_ENDPLATE_ANGLE_DEG:
        quality *= 0.6
        notes.append(f"endplates diverge by {angle:.0f} deg: frame less certain")
    voxel = float(max(crop.spacing_mm))
    worst_rms = max(rms_sup, rms_inf)
    if worst_rms > voxel:
        quality *= max(0.4, voxel / worst_rms)
        notes.append(f"irregular endplate surface (plane fit RMS {worst_rms:.1f} mm)")
    if n_used < 30:
        quality *= 0.7
    rim = rims[0]
    return FrameFit(
        frame, n_sup, n_inf, tilt(n_sup), tilt(n_inf), quality, notes,
        superior_rim_normal=None if rim is None else rim[0],
        inferior_rim_normal=None if rim is None else rim[1],
    )  # fmt: skip
