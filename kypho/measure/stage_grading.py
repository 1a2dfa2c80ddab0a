"""Measurement sub-stage 4, grading: sanity checks, Genant grade and morphotype.

Numbers that fail an anatomical sanity check are not graded (and not used as anyone's
healthy neighbour); a grade the CT's own endplates do not confirm is withdrawn.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import affine_spacing
from kypho.measure.ct_confirmation import ct_confirmation
from kypho.measure.focal_pit import focal_pit
from kypho.measure.grading import grade_spine
from kypho.measure.heights import beside_hm_mm
from kypho.measure.plausibility import (
    MeasuredBody,
    check_before_grading,
    check_graded,
    mark_not_measurable,
)
from kypho.measure.stage_bodies import BodyStage, Located
from kypho.model import GenantGrade, Morphotype, VertebraMeasurement

__all__ = ["grade_bodies"]


def _checked(stage: BodyStage) -> dict[Level, VertebraMeasurement]:
    results = dict(stage.records)
    bodies = [
        MeasuredBody(
            lv, results[lv].heights_mm, float(results[lv].body_volume_ml or 0.0),  # type: ignore[arg-type]
            results[lv].trabecular_hu_median, tuple(m.profile.line_shift_mm),  # type: ignore[arg-type]
        )
        for lv, m in stage.fits.items()
    ]  # fmt: skip
    for lv, problems in check_before_grading(bodies).items():
        results[lv] = mark_not_measurable(results[lv], problems)
    return results


def grade_bodies(stage: BodyStage, loc: Located) -> BodyStage:
    """Sanity checks, then grades with their confidence; returns the graded stage."""
    results = _checked(stage)
    fits = {lv: m for lv, m in stage.fits.items() if results[lv].measurable}
    graded = sorted(fits, key=int)
    if graded:
        # Height noise: a quarter voxel per endplate, or half the column spread if larger.
        voxel_mm = float(max(affine_spacing(loc.volume.affine)))
        spread = np.array([float(np.median(fits[lv].profile.spread_mm)) / 2 for lv in graded])
        sd = np.hypot(0.25 * voxel_mm, spread)
        grades = grade_spine(
            graded,
            [results[lv].heights_mm for lv in graded],  # type: ignore[misc]
            sd,
            np.array([fits[lv].fit.quality for lv in graded]),
        )
        for lv, g in zip(graded, grades, strict=True):
            conf = g.confidence
            if loc.infos.get(lv) is not None and loc.infos[lv].cut_by_fov:
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
            columns = fits[lv].profile.columns
            confirmation = ct_confirmation(columns, stage.edge_offset_mm, vm.heights_mm)
            problems = check_graded(
                vm.heights_mm, g.loss, g.grade, g.morphotype, confirmation,  # type: ignore[arg-type]
                expected=g.expected, resolution_mm=voxel_mm,
            )  # fmt: skip
            if g.morphotype is Morphotype.BICONCAVE and g.grade >= GenantGrade.MILD:
                # Read beside the slab only here: ~10 % of the heights' cost per body.
                f = fits[lv]
                beside = beside_hm_mm(f.crop, f.fit.frame, f.profile, stage.edge_offset_mm)
                pit = focal_pit(vm.heights_mm, g.expected, g.grade, g.morphotype, beside)  # type: ignore[arg-type]
                problems += [pit] if pit is not None else []
            results[lv] = mark_not_measurable(vm, problems) if problems else vm
        fits = {lv: m for lv, m in fits.items() if results[lv].measurable}
    return BodyStage(results, fits, stage.density, stage.edge_offset_mm)
