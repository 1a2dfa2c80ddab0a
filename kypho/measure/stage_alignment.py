"""Measurement sub-stage 5, alignment and summary: endplate tilts, Cobb, lordosis,
segmental kyphosis, density summary; hands on the :class:`SpineMeasurement`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import affine_spacing
from kypho.imaging.slices import is_thick_slice
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
from kypho.measure.calibration import BmdCalibration
from kypho.measure.heights import ct_half_width_mm
from kypho.measure.notes import density_summary, risk_notes
from kypho.measure.sampling import spacing_along
from kypho.measure.stage_bodies import BodyFit, BodyStage, Located
from kypho.measure.thick_endplates import voxel_extent_along
from kypho.model import SpineMeasurement, VertebraFrame

__all__ = ["align_spine"]


def _tilt_in_frame(normal: np.ndarray, frame: VertebraFrame) -> float:
    """Sagittal tilt (degrees) of an endplate normal from the frame's SI axis, positive
    when it leans anteriorly (as :class:`~kypho.measure.frame.FrameFit` reports it)."""
    return float(
        np.degrees(np.arctan2(np.dot(normal, frame.ap_axis), np.dot(normal, frame.si_axis)))
    )


def _endplate_normals(
    m: BodyFit, offset: float, affine: np.ndarray, thick: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Superior and inferior endplate normals of one vertebra for the alignment.

    Endplate lines through the rims (Ha and Hp points), as a Cobb line is drawn, the
    fitted planes giving their coronal lean; combined with the planes through the whole
    rims, which thick slices need. At thick slices a line that disagrees with its
    (mask-independent) rim plane beyond their joint noise is dropped.
    """
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
    return sup, inf


def align_spine(stage: BodyStage, loc: Located, calibration: BmdCalibration) -> SpineMeasurement:
    """Endplate tilts, Cobb angle, lordosis, segmental kyphosis and the spine summary."""
    affine = loc.volume.affine
    results = dict(stage.records)
    measured = stage.fits
    normals = []
    thick = is_thick_slice(affine_spacing(affine))
    for lv, m in sorted(measured.items(), key=lambda kv: int(kv[0])):
        sup, inf = _endplate_normals(m, stage.edge_offset_mm, affine, thick)
        normals.append(EndplateNormals(lv, sup, inf))
        results[lv] = replace(
            results[lv],
            superior_endplate_tilt_deg=_tilt_in_frame(sup, m.fit.frame),
            inferior_endplate_tilt_deg=_tilt_in_frame(inf, m.fit.frame),
        )
    cobb, cobb_levels, cobb_note = cobb_angle(normals)
    s1 = None
    if Level.S in loc.crops and Level.L5 in measured:
        m5 = measured[Level.L5]
        s1 = sacral_endplate_normal(loc.crops[Level.S], m5.fit.frame, m5.profile.ap_depth_mm)
    lordosis = lumbar_lordosis(normals, s1)
    vlist = [results[lv] for lv in sorted(results, key=int)]
    fractured = [v.level for v in vlist if v.is_fractured]
    dsum = density_summary(vlist, calibration)
    notes = [*dsum.notes, *risk_notes(vlist)]
    if lordosis is None:
        notes.append("lumbar lordosis not measured: L1 or the S1 endplate is not visible")
    return SpineMeasurement(
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
