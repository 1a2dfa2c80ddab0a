"""`measure_spine`: measure and grade every vertebra of a segmented spine CT.

Pure computation: a :class:`~kypho.imaging.volume.Volume` and a
:class:`~kypho.anatomy.records.Segmentation` in, a
:class:`~kypho.measure.records.SpineMeasurement` out; no I/O, no printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.errors import KyphoError, NoSpineFoundError
from kypho.imaging.orientation import affine_spacing, voxel_to_world
from kypho.imaging.slices import is_thick_slice
from kypho.imaging.volume import Volume
from kypho.measure.alignment import (
    EndplateNormals,
    cobb_angle,
    combine_endplate_normals,
    consistent_line_sd_deg,
    endplate_line_normal,
    line_tilt_sd_deg,
    lumbar_lordosis,
    sacral_endplate_normal,
    segmental_kyphosis,
    spinal_deformity_index,
)
from kypho.measure.calibration import BmdCalibration, default_calibration, internal_calibration
from kypho.measure.density import (
    TrabecularDensity,
    cement_mask,
    pickhardt_class,
    trabecular_density,
)
from kypho.measure.frame import FrameFit, estimate_frame
from kypho.measure.grading import grade_spine
from kypho.measure.heights import (
    HeightProfile,
    ct_half_width_mm,
    edge_offset_mm,
    measure_heights,
)
from kypho.measure.notes import density_summary, risk_notes
from kypho.measure.plausibility import (
    MeasuredBody,
    check_before_grading,
    check_graded,
    ct_confirmation,
    mark_not_measurable,
)
from kypho.measure.posterior_wall import retropulsion_mm
from kypho.measure.reference_levels import cortical_reference, min_endplate_contrast
from kypho.measure.sampling import VertebraCrop, crop_vertebra, merged_boxes, spacing_along
from kypho.measure.thick_endplates import voxel_extent_along
from kypho.model import Segmentation, SpineMeasurement, VertebraFrame, VertebraMeasurement

__all__ = ["MeasurementInputError", "measure_spine"]

ProgressCallback = Callable[[float, str], None]

#: Bodies smaller than this (mL) are fragments, not measurable bodies.
MIN_BODY_ML = 1.0
#: Cement filling more than this share of the body leaves no native bone to measure.
MAX_CEMENT_FRACTION = 0.4
#: Cement must exceed the image's cortical bone by this share of the cortex-to-trabecular
#: contrast (DOMAIN.md §11.4: a fixed 1600 HU is not validated; use the image's own bone).
CEMENT_MARGIN = 0.5
#: Smallest cement deposit reported (mL): single bright voxels are noise or calcification.
MIN_CEMENT_ML = 0.05
#: Minimum Ha, Hm or Hp (mm) for both endplates to be told apart.
MIN_HEIGHT_MM = 2.0


class MeasurementInputError(KyphoError):
    """The volume and the segmentation cannot be measured together."""


@dataclass
class _Measured:
    crop: VertebraCrop
    fit: FrameFit
    profile: HeightProfile
    radius_mm: float


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


def _unmeasurable(
    lv: Level, centroid: np.ndarray, reason: str, **kw: object
) -> VertebraMeasurement:
    return VertebraMeasurement(
        level=lv, centroid_ras_mm=tuple(float(v) for v in centroid), measurable=False,
        reason=reason, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def measure_spine(
    volume: Volume,
    segmentation: Segmentation,
    *,
    calibration: BmdCalibration | None = None,
    progress: ProgressCallback | None = None,
) -> SpineMeasurement:
    """Measure, grade and summarise every vertebra.

    Parameters
    ----------
    volume : Volume
        The CT (HU, canonical grid).
    segmentation : Segmentation
        Whole-vertebra and body label maps (VerSe labels) on the same grid.
    calibration : BmdCalibration, optional
        Phantom HU -> BMD coefficients. Without it an internal (fat/muscle/air)
        calibration is tried, then the documented default.
    progress : callable(fraction, message), optional

    Returns
    -------
    SpineMeasurement
        One :class:`VertebraMeasurement` per vertebra found (unmeasurable ones with a
        reason), alignment and notes.

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
    hints = _si_hints(presacral, centroids)
    cortical = cortical_reference({k: v for k, v in crops.items() if k is not Level.S})

    results: dict[Level, VertebraMeasurement] = {}
    measured: dict[Level, _Measured] = {}
    dens: dict[Level, TrabecularDensity | None] = {}
    n_total = max(len(levels), 1)
    for k, lv in enumerate(sorted(levels, key=int)):
        if progress:
            progress(0.8 * k / n_total, f"measuring {lv.display}")
        cen = centroids[lv]
        crop = crops.get(lv)
        info = infos.get(lv)
        if lv is Level.S:
            results[lv] = _unmeasurable(lv, cen, "sacrum: not graded (used for the S1 endplate)")
            continue
        if crop is None or not crop.body.any():
            results[lv] = _unmeasurable(lv, cen, "no vertebral body mask for this level")
            continue
        body_ml = float(crop.body.sum() * crop.voxel_volume_ml)
        if crop.touches_edge:
            results[lv] = _unmeasurable(
                lv, cen, "vertebral body cut by the field of view", body_volume_ml=body_ml
            )
            continue
        if body_ml < MIN_BODY_ML:
            results[lv] = _unmeasurable(
                lv, cen, f"body mask too small to measure ({body_ml:.2f} mL)",
                body_volume_ml=body_ml,
            )  # fmt: skip
            continue
        dens[lv] = trabecular_density(
            crop, cortical_hu=cortical if np.isfinite(cortical) else None
        )
        bone_hu = dens[lv].median_hu if dens[lv] is not None else None  # type: ignore[union-attr]
        contrast = min_endplate_contrast(crop)
        fit = estimate_frame(
            crop, si_hint=hints.get(lv), bone_hu=bone_hu, min_contrast_hu=contrast
        )
        pts = crop.body_surface_world()
        radius = float(np.max(np.linalg.norm(pts - fit.frame.origin_ras_mm, axis=1))) + 4.0
        profile = measure_heights(
            crop, fit.frame, radius, min_contrast_hu=contrast, bone_hu=bone_hu
        )
        if profile is None or min(profile.heights.as_array()) < MIN_HEIGHT_MM:
            results[lv] = _unmeasurable(
                lv, cen, "both endplates could not be found (body too collapsed or mask "
                "too irregular)", frame=fit.frame, body_volume_ml=body_ml,
            )  # fmt: skip
            continue
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
            notes=(*fit.notes, *(
                ("part of the vertebra is outside the field of view (body complete)",)
                if info is not None and info.cut_by_fov else ()
            )),
        )  # fmt: skip
        results[lv] = vm
        measured[lv] = _Measured(crop, fit, profile, radius)

    # CT-derived endplates sit inside the surface by an amount common to the image
    # (cortical thickness, slice profile): measured once over all endplates.
    offset = edge_offset_mm([m.profile for m in measured.values()])
    for lv, m in measured.items():
        m.profile = m.profile.with_edge_offset(offset)
        results[lv] = replace(
            results[lv],
            heights_mm=m.profile.heights,
            height_segments_ras_mm=m.profile.segments_ras_mm(m.fit.frame),
            retropulsion_mm=retropulsion_mm(m.profile),
        )

    # Density and cement.
    trab_meds = [d.median_hu for lv, d in dens.items() if lv in measured and d is not None]
    trab_ref = float(np.median(trab_meds)) if trab_meds else float("nan")
    cement_thr = cortical + CEMENT_MARGIN * (cortical - trab_ref) if trab_meds else float("inf")
    if calibration is None:
        bone = vert_lab > 0
        calibration = internal_calibration(hu, bone, affine) or default_calibration()
    for lv, m in measured.items():
        vm = results[lv]
        cem_ml = float(cement_mask(m.crop, cement_thr).sum() * m.crop.voxel_volume_ml)
        change: dict[str, object] = {"cement_volume_ml": cem_ml if cem_ml >= MIN_CEMENT_ML else 0.0}
        notes = list(vm.notes)
        if change["cement_volume_ml"]:
            notes.append(
                f"cement: {cem_ml:.1f} mL above {cement_thr:.0f} HU (image cortical bone "
                f"{cortical:.0f} HU)"
            )
            if vm.body_volume_ml and cem_ml > MAX_CEMENT_FRACTION * vm.body_volume_ml:
                results[lv] = _unmeasurable(
                    lv, np.asarray(vm.centroid_ras_mm),
                    f"cement fills {100 * cem_ml / vm.body_volume_ml:.0f} % of the body",
                    body_volume_ml=vm.body_volume_ml, cement_volume_ml=cem_ml, frame=vm.frame,
                )  # fmt: skip
                continue
        d = dens[lv]
        if d is not None:
            change.update(
                trabecular_hu_mean=d.mean_hu,
                trabecular_hu_median=d.median_hu,
                bmd_mg_cm3=calibration.bmd(d.mean_hu),
            )
            if Level.T12 <= lv <= Level.L5:
                change["density_class"] = pickhardt_class(d.mean_hu)
            if d.excluded_high_ml > MIN_CEMENT_ML:
                notes.append(
                    f"{d.excluded_high_ml:.1f} mL of dense voxels (> {d.upper_limit_hu:.0f} HU: "
                    "cement or sclerosis) left out of the trabecular density"
                )
        results[lv] = replace(vm, notes=tuple(notes), **change)  # type: ignore[arg-type]
    measured = {lv: m for lv, m in measured.items() if results[lv].measurable}
    # Numbers that fail an anatomical sanity check are not graded (and not used as
    # anyone's healthy neighbour).
    bodies = [
        MeasuredBody(
            lv, results[lv].heights_mm, float(results[lv].body_volume_ml or 0.0),  # type: ignore[arg-type]
            results[lv].trabecular_hu_median, tuple(m.profile.line_shift_mm),  # type: ignore[arg-type]
        )
        for lv, m in measured.items()
    ]  # fmt: skip
    for lv, problems in check_before_grading(bodies).items():
        results[lv] = mark_not_measurable(results[lv], problems)
    measured = {lv: m for lv, m in measured.items() if results[lv].measurable}

    if progress:
        progress(0.85, "grading")
    graded = sorted(measured, key=int)
    if graded:
        # Height noise: a quarter voxel per endplate, or half the column spread if larger.
        spacing_si = np.array([max(affine_spacing(affine))] * len(graded))
        spread = [float(np.median(measured[lv].profile.spread_mm)) / 2 for lv in graded]
        sd = np.hypot(0.25 * spacing_si, spread)
        grades = grade_spine(
            graded,
            [results[lv].heights_mm for lv in graded],  # type: ignore[misc]
            sd,
            np.array([measured[lv].fit.quality for lv in graded]),
        )
        for lv, g in zip(graded, grades, strict=True):
            conf = g.confidence
            if infos.get(lv) is not None and infos[lv].cut_by_fov:
                conf *= 0.8
            vm = replace(
                results[lv],
                expected_heights_mm=g.expected,
                height_loss=g.loss,
                genant_grade=g.grade,
                morphotype=g.morphotype,
                grade_confidence=float(np.clip(conf, 0.0, 1.0)),
                posterior_wall_height_loss=g.loss.posterior,
                notes=(*results[lv].notes, *g.notes),
            )
            confirmation = ct_confirmation(measured[lv].profile.columns, offset, vm.heights_mm)
            problems = check_graded(vm.heights_mm, g.loss, g.grade, g.morphotype, confirmation)  # type: ignore[arg-type]
            results[lv] = mark_not_measurable(vm, problems) if problems else vm
        measured = {lv: m for lv, m in measured.items() if results[lv].measurable}

    # Alignment: endplate lines through the rims (Ha and Hp points), as a Cobb line is
    # drawn, the fitted planes giving their coronal lean; combined with the planes
    # through the whole rims, which thick slices need. At thick slices a line that
    # disagrees with its (mask-independent) rim plane beyond their joint noise is dropped.
    normals = []
    thick = is_thick_slice(affine_spacing(affine))
    for lv, m in sorted(measured.items(), key=lambda kv: int(kv[0])):
        p, fr = m.profile, m.fit.frame
        ends = (float(p.positions_mm[0]), float(p.positions_mm[2]))
        sup = endplate_line_normal(
            fr, ends, (float(p.superior_mm[0]), float(p.superior_mm[2])), m.fit.superior_normal
        )
        inf = endplate_line_normal(
            fr, ends, (float(p.inferior_mm[0]), float(p.inferior_mm[2])), m.fit.inferior_normal
        )
        # Each rim point is known to within the CT edge interval (uniform, so SD = half
        # width / sqrt 3); the mask's half voxel where the CT placed no edge. Without an
        # image offset (too few vertebrae) this vertebra's own sets the interval: a
        # common shift of both points does not tilt the line.
        si_vox = p.columns.voxel_mm
        f_ct = p.hu_refined_fraction
        own = p.columns.outward_differences()
        off_sd = offset if offset > 0 or not own.size else max(-float(np.mean(own)), 0.0)
        half_w = f_ct * ct_half_width_mm(si_vox, off_sd) + (1.0 - f_ct) * 0.5 * si_vox
        if thick:
            # The rim points' CT edges are searched within a voxel spacing along the axis
            # of the mask's edge, but a mask drawn in thick slices is only known to the
            # voxel box's extent along that axis (its staircase on a tilted endplate,
            # ~2.8 mm at 40 degrees and 0.7 x 0.7 x 3 mm against a ~1 mm spacing): the
            # rest stays in the points. The rim planes at thick slices are fitted on CT
            # edges found from the body's interior instead, free of the mask.
            axis = np.asarray(fr.si_axis)
            extra = voxel_extent_along(affine, axis) - spacing_along(affine, axis)
            half_w = max(half_w, 0.5 * extra)
        line_sd = line_tilt_sd_deg(half_w / np.sqrt(3.0), abs(ends[0] - ends[1]))
        sd_sup = sd_inf = line_sd
        if thick:
            sd_sup = consistent_line_sd_deg(sup, line_sd, m.fit.superior_rim_normal)
            sd_inf = consistent_line_sd_deg(inf, line_sd, m.fit.inferior_rim_normal)
        sup = combine_endplate_normals(sup, sd_sup, m.fit.superior_rim_normal)
        inf = combine_endplate_normals(inf, sd_inf, m.fit.inferior_rim_normal)
        normals.append(EndplateNormals(lv, sup, inf))
        results[lv] = replace(
            results[lv],
            superior_endplate_tilt_deg=_tilt_in_frame(sup, fr),
            inferior_endplate_tilt_deg=_tilt_in_frame(inf, fr),
        )
    cobb, cobb_levels, cobb_note = cobb_angle(normals)
    s1 = None
    if Level.S in crops and Level.L5 in measured:
        m5 = measured[Level.L5]
        s1 = sacral_endplate_normal(crops[Level.S], m5.fit.frame, m5.profile.ap_depth_mm)
    lordosis = lumbar_lordosis(normals, s1)
    vlist = [results[lv] for lv in sorted(results, key=int)]
    fractured = [v.level for v in vlist if v.is_fractured]
    dsum = density_summary(vlist, calibration)
    notes = [*dsum.notes, *risk_notes(vlist)]
    if lordosis is None:
        notes.append("lumbar lordosis not measured: L1 or the S1 endplate is not visible")
    spine = SpineMeasurement(
        vertebrae=tuple(vlist),
        cobb_deg=cobb,
        cobb_levels=cobb_levels,
        cobb_note=cobb_note,
        lumbar_lordosis_deg=lordosis,
        segmental_kyphosis_deg=segmental_kyphosis(normals, fractured),
        spinal_deformity_index=spinal_deformity_index([v.genant_grade for v in vlist]),
        notes=tuple(notes),
        density_reference_level=dsum.reference_level,
        density_reference_hu=dsum.reference_hu,
        density_class_hu=dsum.class_hu,
        lumbar_bmd_mg_cm3=dsum.lumbar_bmd_mg_cm3,
        density_class_bmd=dsum.class_bmd,
        bmd_calibration=calibration.source,
    )
    if progress:
        progress(1.0, "measured")
    return spine


def _tilt_in_frame(normal: np.ndarray, frame: VertebraFrame) -> float:
    """Sagittal tilt (degrees) of an endplate normal from the frame's SI axis, positive
    when it leans anteriorly (as :class:`~kypho.measure.frame.FrameFit` reports it)."""
    return float(
        np.degrees(np.arctan2(np.dot(normal, frame.ap_axis), np.dot(normal, frame.si_axis)))
    )
