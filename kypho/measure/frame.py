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
   :data:`~kypho.measure.endplate_planes.RIM_MARGIN_MM` from the footprint border,
   where the rounded rims would tilt the fit), with iterative rejection of outliers
   (residual > 2.5 robust SD): a local depression of a fractured endplate, or a mask
   spur, does not tilt the plane (:mod:`kypho.measure.endplate_planes`).
4. SI = normalised mean of the two plane normals; iterate from step 2 twice.
5. In the last round, also fit a plane to each endplate's rim (the ring
   :data:`~kypho.measure.endplate_planes.RIM_RING_MM` inside the footprint border). The
   Cobb lines use it at thick slices
   (:func:`kypho.measure.alignment.combine_endplate_normals`): its columns meet the
   slice grid at every phase, which two rim points alone do not. At thick slices
   (:func:`~kypho.imaging.slices.is_thick_slice`) this plane is fitted instead on
   endplate edges found on the CT from the middle of the body outward
   (:mod:`kypho.measure.thick_endplates`), on a wider ring
   (:data:`~kypho.measure.endplate_planes.THICK_RIM_RING_MM`): the mask of a steeply
   tilted body can be off there by more than the voxel (disc or a corner misassigned),
   and an edge refined near the mask's edge inherits that.

A wedge fracture has genuinely non-parallel endplates: the mean normal is then the
contract's definition of the axis. When the endplate normals disagree by more than
:data:`MAX_ENDPLATE_ANGLE_DEG`, or a fit is poor, the frame quality is lowered (it feeds
the grade confidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kypho.imaging.orientation import voxel_to_world
from kypho.measure.endplate_planes import PlaneRounds, plane_normal, unit
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import VertebraFrame

__all__ = ["FrameFit", "estimate_frame", "plane_normal"]

#: Endplates of normal vertebrae are close to parallel; beyond this the frame is less sure.
MAX_ENDPLATE_ANGLE_DEG = 25.0


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
        (:data:`~kypho.measure.endplate_planes.RIM_RING_MM`), at thick slices through its
        CT edges found from the body's interior; None when the footprint is too small for the ring.
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


def _orthonormal(si: np.ndarray, ap_hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    si = unit(si)
    ap = ap_hint - np.dot(ap_hint, si) * si
    if np.linalg.norm(ap) < 1e-6:  # hint parallel to SI: fall back to world anterior
        ap = np.array([0.0, 1.0, 0.0]) - si[1] * si
    return si, unit(ap)


def _initial_axes(
    crop: VertebraCrop, centroid: np.ndarray, si_hint: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    pts = crop.body_points_world()
    if si_hint is not None and np.linalg.norm(si_hint) > 0:
        si = unit(np.asarray(si_hint, float))
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


def _frame_quality(n_sup: np.ndarray, n_inf: np.ndarray, worst_rms: float, n_used: int,
                   voxel: float, notes: list[str]) -> float:
    """0..1 confidence in the frame from its endplate fits; reasons appended to `notes`."""
    angle = float(np.degrees(np.arccos(np.clip(np.dot(n_sup, n_inf), -1.0, 1.0))))
    quality = 1.0
    if angle > MAX_ENDPLATE_ANGLE_DEG:
        quality *= 0.6
        notes.append(f"endplates diverge by {angle:.0f} deg: frame less certain")
    if worst_rms > voxel:
        quality *= max(0.4, voxel / worst_rms)
        notes.append(f"irregular endplate surface (plane fit RMS {worst_rms:.1f} mm)")
    if n_used < 30:
        quality *= 0.7
    return quality


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
    surface = crop.body_surface_world()
    centroid = crop.body_points_world().mean(axis=0)
    si, ap = _initial_axes(crop, centroid, si_hint)
    sampling = PlaneRounds(crop, centroid, surface, crop.body.astype(np.float32),
                              bone_hu, min_contrast_hu)
    notes: list[str] = []
    n_sup = n_inf = si
    rms_sup = rms_inf = 0.0
    n_used = 0
    rim = None

    # Rounds on the mask until the axis settles, then (with bone_hu) one on the CT.
    fit = None
    for _ in range(n_iter):
        fit, rim = sampling.plane_round(si, ap, on_ct=False)
        if fit is None:
            notes.append("body footprint too small for endplate plane fits")
            break
        n_sup, n_inf, rms_sup, rms_inf, n_used = fit
        new_si = unit(n_sup + n_inf)
        settled = np.degrees(np.arccos(np.clip(np.dot(new_si, si), -1, 1))) < 0.05
        si, ap = _orthonormal(new_si, ap)
        if settled:
            break
    if fit is not None and bone_hu is not None:
        ct_fit, rim = sampling.plane_round(si, ap, on_ct=True)
        if ct_fit is not None:
            n_sup, n_inf, rms_sup, rms_inf, n_used = ct_fit
            si, ap = _orthonormal(unit(n_sup + n_inf), ap)
    frame = VertebraFrame(tuple(centroid), tuple(si), tuple(ap))

    def tilt(n: np.ndarray) -> float:
        return float(np.degrees(np.arctan2(np.dot(n, ap), np.dot(n, si))))

    quality = _frame_quality(n_sup, n_inf, max(rms_sup, rms_inf), n_used,
                             float(max(crop.spacing_mm)), notes)
    return FrameFit(
        frame, n_sup, n_inf, tilt(n_sup), tilt(n_inf), quality, notes,
        superior_rim_normal=None if rim is None else rim[0],
        inferior_rim_normal=None if rim is None else rim[1],
    )  # fmt: skip
