"""Measurement sub-stages 1-2, geometry and heights: each vertebra located, cropped,
framed and its Ha, Hm, Hp measured.

:func:`locate_vertebrae` hands a :class:`Located` (crops, centroids, SI hints, the
image's cortical level) to :func:`measure_bodies`, which hands a :class:`BodyStage`
(one record per vertebra, the fits behind the measurable ones) to the density stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.errors import MeasurementInputError, NoSpineFoundError
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import Volume
from kypho.measure.canal import canal_ap_mm
from kypho.measure.cement import cement_as_bone, cement_threshold_hu
from kypho.measure.density import TrabecularDensity, trabecular_density
from kypho.measure.frame import FrameFit, estimate_frame
from kypho.measure.heights import HeightProfile, edge_offset_mm, measure_heights
from kypho.measure.posterior_wall import retropulsion_mm
from kypho.measure.reference_levels import (
    cortical_reference,
    image_noise_sd_hu,
    min_endplate_contrast,
)
from kypho.measure.sampling import merged_boxes
from kypho.measure.vertebra_region import VertebraCrop, crop_vertebra
from kypho.model import LevelInfo, Segmentation, VertebraMeasurement
from kypho.threads import map_in_threads

__all__ = [
    "MIN_BODY_ML",
    "MIN_HEIGHT_MM",
    "BodyFit",
    "BodyStage",
    "Located",
    "locate_vertebrae",
    "measure_bodies",
    "unmeasurable",
]

ProgressCallback = Callable[[float, str], None]

#: Bodies smaller than this (mL) are fragments, not measurable bodies.
MIN_BODY_ML = 1.0
#: Minimum Ha, Hm or Hp (mm) for both endplates to be told apart.
MIN_HEIGHT_MM = 2.0


@dataclass(frozen=True, eq=False)
class Located:
    """Every vertebra of the segmentation, cropped and placed (hand-off of stage 1)."""

    volume: Volume
    segmentation: Segmentation
    levels: tuple[Level, ...]
    infos: dict[Level, LevelInfo]
    crops: dict[Level, VertebraCrop]
    centroids: dict[Level, np.ndarray]
    hints: dict[Level, np.ndarray]
    #: The image's cortical bone level (HU), NaN when not found.
    cortical_hu: float
    #: The image's bone noise SD (HU, :func:`image_noise_sd_hu`), NaN without a body.
    noise_sd_hu: float = float("nan")


@dataclass(frozen=True, eq=False)
class BodyFit:
    """What a measurable vertebra's heights came from: crop, frame fit, height profile."""

    crop: VertebraCrop
    fit: FrameFit
    profile: HeightProfile
    radius_mm: float


@dataclass(frozen=True, eq=False)
class BodyStage:
    """One record per vertebra, with the fits of the measurable ones (stages 2-4)."""

    records: dict[Level, VertebraMeasurement]
    fits: dict[Level, BodyFit]
    density: dict[Level, TrabecularDensity | None]
    #: Common CT edge offset of the endplates (mm), see :func:`edge_offset_mm`.
    edge_offset_mm: float
    #: The spine's trabecular level (HU), against which cement is found (NaN if none).
    spine_bone_hu: float
    #: The image's bone noise SD (HU), see :attr:`Located.noise_sd_hu`.
    noise_sd_hu: float = float("nan")


def _check_inputs(volume: Volume, seg: Segmentation) -> None:
    if volume.hu.shape != seg.vertebrae.labels.shape:
        raise MeasurementInputError(
            f"the segmentation grid {seg.vertebrae.labels.shape} does not match the CT "
            f"grid {volume.hu.shape}"
        )
    if not np.allclose(volume.affine, seg.vertebrae.affine, atol=1e-3):
        raise MeasurementInputError(
            "the segmentation and the CT have different affines (resample the masks "
            "onto the CT grid first)"
        )
    if not seg.levels and not seg.vertebrae.labels.any():
        raise NoSpineFoundError("the segmentation holds no vertebra to measure")


def _si_hints(levels: list[Level], centroids: dict[Level, np.ndarray]) -> dict[Level, np.ndarray]:
    """Local spine direction (cranial) at each level from its neighbours' centroids."""
    order = sorted(levels, key=lambda lv: -centroids[lv][2])  # cranial first
    hints: dict[Level, np.ndarray] = {}
    for i, lv in enumerate(order):
        a = centroids[order[i - 1]] if i > 0 else centroids[lv]
        b = centroids[order[i + 1]] if i + 1 < len(order) else centroids[lv]
        d = a - b
        if np.linalg.norm(d) > 1e-6:
            hints[lv] = d / np.linalg.norm(d)
    return hints


def unmeasurable(
    lv: Level, centroid: np.ndarray, reason: str, **kw: object
) -> VertebraMeasurement:
    """The record of a vertebra that is not measured, and why."""
    return VertebraMeasurement(
        level=lv, centroid_ras_mm=tuple(float(v) for v in centroid), measurable=False,
        reason=reason, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def locate_vertebrae(volume: Volume, segmentation: Segmentation) -> Located:
    """Stage 1: crop every vertebra present and place it (centroid, local SI direction).

    Raises
    ------
    MeasurementInputError
        When the masks are not on the CT grid.
    NoSpineFoundError
        When the segmentation is empty.
    """
    _check_inputs(volume, segmentation)
    hu, affine = volume.hu, volume.affine
    vert_lab, body_lab = segmentation.vertebrae.labels, segmentation.bodies.labels
    infos = {info.level: info for info in segmentation.levels}
    # One pass per label map gives every label's bounding box (and so which are present).
    boxes = merged_boxes(segmentation.vertebrae.boxes(), segmentation.bodies.boxes())
    present = [i + 1 for i, b in enumerate(boxes) if b is not None]
    levels = list(infos)
    for lab in present:
        try:
            lv = Level(lab)
        except ValueError:
            continue
        if lv not in infos:
            levels.append(lv)
    if not levels:
        raise NoSpineFoundError("the segmentation holds no vertebra to measure")

    crops: dict[Level, VertebraCrop] = {}
    for lv in levels:
        box = boxes[int(lv) - 1] if int(lv) <= len(boxes) else None
        if box is not None:
            c = crop_vertebra(hu, vert_lab, body_lab, affine, int(lv), bbox=box)
            if c is not None:
                crops[lv] = c

    def centroid_of(lv: Level) -> np.ndarray:
        if lv in crops and crops[lv].body.any():
            return crops[lv].body_points_world().mean(axis=0)
        if lv in infos:
            return np.asarray(infos[lv].centroid_ras_mm, float)
        if lv in crops:
            return voxel_to_world(crops[lv].affine, np.argwhere(crops[lv].vertebra)).mean(axis=0)
        return np.full(3, np.nan)

    centroids = {lv: centroid_of(lv) for lv in levels}
    presacral = [lv for lv in levels if lv is not Level.S and np.all(np.isfinite(centroids[lv]))]
    return Located(
        volume=volume,
        segmentation=segmentation,
        levels=tuple(levels),
        infos=infos,
        crops=crops,
        centroids=centroids,
        hints=_si_hints(presacral, centroids),
        cortical_hu=cortical_reference({k: v for k, v in crops.items() if k is not Level.S}),
        noise_sd_hu=image_noise_sd_hu(crops),
    )


def _measure_one(
    loc: Located, lv: Level, dens: TrabecularDensity | None, spine_bone_hu: float
) -> tuple[VertebraMeasurement, BodyFit | None, TrabecularDensity | None]:
    """Frame and heights of one vertebra (its trabecular level ``dens`` guides the frame
    fit); ``spine_bone_hu`` is the spine's trabecular level, against which cement is
    found."""
    cen, crop, info = loc.centroids[lv], loc.crops.get(lv), loc.infos.get(lv)
    if lv is Level.S:
        return unmeasurable(lv, cen, "sacrum: not graded (used for the S1 endplate)"), None, None
    if crop is None or not crop.body.any():
        return unmeasurable(lv, cen, "no vertebral body mask for this level"), None, None
    body_ml = float(crop.body.sum() * crop.voxel_volume_ml)
    if crop.touches_edge:
        why = "vertebral body cut by the field of view"
        return unmeasurable(lv, cen, why, body_volume_ml=body_ml), None, None
    if body_ml < MIN_BODY_ML:
        why = f"body mask too small to measure ({body_ml:.2f} mL)"
        return unmeasurable(lv, cen, why, body_volume_ml=body_ml), None, None
    bone_hu = dens.median_hu if dens is not None else None
    if bone_hu is not None:  # the endplates of a cemented body are read around its cement
        threshold = cement_threshold_hu(loc.cortical_hu, spine_bone_hu)
        crop, bone_hu = cement_as_bone(crop, threshold, bone_hu, spine_bone_hu)
    contrast = min_endplate_contrast(crop, image_sd_hu=loc.noise_sd_hu)
    fit = estimate_frame(crop, si_hint=loc.hints.get(lv), bone_hu=bone_hu,
                         min_contrast_hu=contrast)  # fmt: skip
    pts = crop.body_surface_world()
    radius = float(np.max(np.linalg.norm(pts - fit.frame.origin_ras_mm, axis=1))) + 4.0
    profile = measure_heights(crop, fit.frame, radius, min_contrast_hu=contrast, bone_hu=bone_hu)
    if profile is None or min(profile.heights.as_array()) < MIN_HEIGHT_MM:
        return unmeasurable(
            lv, cen, "both endplates could not be found (body too collapsed or mask "
            "too irregular)", frame=fit.frame, body_volume_ml=body_ml,
        ), None, dens  # fmt: skip
    vm = VertebraMeasurement(
        level=lv,
        centroid_ras_mm=tuple(float(v) for v in cen),
        measurable=True,
        frame=fit.frame,
        heights_mm=profile.heights,
        body_volume_ml=body_ml,
        ap_depth_mm=profile.ap_depth_mm,
        width_mm=profile.width_mm,
        superior_endplate_tilt_deg=fit.superior_tilt_deg,
        inferior_endplate_tilt_deg=fit.inferior_tilt_deg,
        retropulsion_mm=retropulsion_mm(profile),
        canal_ap_mm=canal_ap_mm(crop, fit.frame),
        notes=(*fit.notes, *(
            ("part of the vertebra is outside the field of view (body complete)",)
            if info is not None and info.cut_by_fov else ()
        )),
    )  # fmt: skip
    return vm, BodyFit(crop, fit, profile, radius), dens


def _densities(loc: Located) -> dict[Level, TrabecularDensity | None]:
    """Trabecular density of every body of the segmentation (the sacrum has none)."""
    cortical = loc.cortical_hu if np.isfinite(loc.cortical_hu) else None
    bodies = [(lv, crop) for lv, crop in loc.crops.items()
              if lv is not Level.S and crop.body.any()]
    found = map_in_threads(lambda item: trabecular_density(item[1], cortical_hu=cortical), bodies)
    return {lv: d for (lv, _), d in zip(bodies, found, strict=True)}


def measure_bodies(loc: Located, progress: ProgressCallback | None = None) -> BodyStage:
    """Stage 2: every vertebra's frame and heights, endplates corrected for the image's
    common CT edge offset."""
    results: dict[Level, VertebraMeasurement] = {}
    fits: dict[Level, BodyFit] = {}
    dens: dict[Level, TrabecularDensity | None] = {}
    n_total = max(len(loc.levels), 1)
    every = _densities(loc)
    # The spine's level: the median body's (a few cemented or sclerotic ones do not move
    # it, and a body mostly filled with cement has cement for its own).
    meds = [d.median_hu for d in every.values() if d is not None]
    spine_bone_hu = float(np.median(meds)) if meds else float("nan")
    order = sorted(loc.levels, key=int)
    measured = map_in_threads(
        lambda lv: _measure_one(loc, lv, every.get(lv), spine_bone_hu), order
    )
    for k, (lv, (vm, fit, d)) in enumerate(zip(order, measured, strict=True)):
        if progress:
            progress(0.8 * (k + 1) / n_total, f"measured {lv.display}")
        results[lv] = vm
        if d is not None or fit is not None:
            dens[lv] = d
        if fit is not None:
            fits[lv] = fit
    # CT-derived endplates sit inside the surface by an amount common to the image
    # (cortical thickness, slice profile): measured once over all endplates.
    offset = edge_offset_mm([m.profile for m in fits.values()])
    for lv, m in list(fits.items()):
        profile = m.profile.with_edge_offset(offset)
        fits[lv] = BodyFit(m.crop, m.fit, profile, m.radius_mm)
        results[lv] = replace(
            results[lv],
            heights_mm=profile.heights,
            height_segments_ras_mm=profile.segments_ras_mm(m.fit.frame),
            retropulsion_mm=retropulsion_mm(profile),
        )
    return BodyStage(results, fits, dens, offset, spine_bone_hu, loc.noise_sd_hu)
