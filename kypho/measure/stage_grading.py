"""Measurement sub-stage 4, grading: sanity checks, Genant grade and morphotype.

Numbers that fail an anatomical sanity check are not graded (and not used as anyone's
healthy neighbour); a grade the CT's own endplates do not confirm is withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import affine_spacing
from kypho.measure.ct_confirmation import CtConfirmation, ct_confirmation
from kypho.measure.focal_pit import focal_pit
from kypho.measure.graded_checks import check_graded, posterior_problem
from kypho.measure.grading import GradeResult, grade_spine, without_morphotype
from kypho.measure.heights import beside_hm_mm
from kypho.measure.interior_heights import interior_heights
from kypho.measure.plausibility import (
    Gate,
    Implausibility,
    MeasuredBody,
    check_before_grading,
    mark_not_measurable,
)
from kypho.measure.stage_bodies import BodyFit, BodyStage, Located
from kypho.model import GenantGrade, Heights, Morphotype, VertebraMeasurement

__all__ = ["grade_bodies"]


#: Problems of a mask-based grade that a reading of the CT alone can settle: the CT
#: shows no endplate where the mask ends, or the mask's heights make no real morphotype.
_REREAD_GATES = frozenset({Gate.CT_UNCONFIRMED, Gate.MORPHOTYPE})


@dataclass(frozen=True, eq=False)
class _SpineGrading:
    """What :func:`grade_spine` graded the measurable vertebrae on (to grade one again)."""

    levels: list[Level]
    heights: list[Heights]
    sd_mm: np.ndarray
    quality: np.ndarray


def _checked(stage: BodyStage) -> tuple[dict[Level, VertebraMeasurement], list[MeasuredBody]]:
    results = dict(stage.records)
    # A cemented body's interior is cement, not a sign that its mask holds another
    # tissue, and no reference for its neighbours' bone: its density is not compared.
    bodies = [
        MeasuredBody(
            lv, results[lv].heights_mm, float(results[lv].body_volume_ml or 0.0),  # type: ignore[arg-type]
            None if results[lv].cement_volume_ml else results[lv].trabecular_hu_median,
            tuple(m.profile.line_shift_mm),  # type: ignore[arg-type]
            m.profile.columns.voxel_mm,
        )
        for lv, m in stage.fits.items()
    ]  # fmt: skip
    for lv, problems in check_before_grading(bodies).items():
        results[lv] = mark_not_measurable(results[lv], problems)
    return results, bodies


def _grade_problems(
    level: Level, heights: Heights, g: GradeResult, confirmation: CtConfirmation,
    voxel_mm: float, pit: Implausibility | None,
) -> list[Implausibility]:
    """The checks of a graded vertebra (:func:`check_graded`, :func:`posterior_problem`)
    and ``pit``, the focal pit its biconcave grade rests on (:func:`_pit`), if any."""
    problems = check_graded(
        heights, g.loss, g.grade, g.morphotype, confirmation,
        expected=g.expected, resolution_mm=voxel_mm, hp_unbounded=not g.has_neighbour,
    )  # fmt: skip
    if (p := posterior_problem(level, heights, g)) is not None:
        problems.append(p)
    if pit is not None:
        problems.append(pit)
    return problems


def _pit(heights: Heights, g: GradeResult, fit: BodyFit, offset_mm: float) -> Implausibility | None:
    """Why a biconcave grade rests on a focal endplate pit, or None (:func:`focal_pit`)."""
    if g.morphotype is not Morphotype.BICONCAVE or g.grade < GenantGrade.MILD:
        return None
    # Read beside the slab only here: ~10 % of the heights' cost per body.
    beside = beside_hm_mm(fit.crop, fit.fit.frame, fit.profile, offset_mm)
    return focal_pit(heights, g.expected, g.grade, g.morphotype, beside)


def _reread(
    lv: Level, g: GradeResult, confirmation: CtConfirmation, stage: BodyStage,
    bodies: list[MeasuredBody], grading: _SpineGrading, voxel_mm: float, conf_scale: float,
) -> tuple[VertebraMeasurement, BodyFit] | None:
    """The vertebra re-measured on the CT from its interior outward and graded again,
    when that reading passes every check; None otherwise (see :mod:`interior_heights`).
    ``conf_scale`` multiplies the grade's confidence (a vertebra cut by the image)."""
    fit = stage.fits[lv]
    ih = interior_heights(fit.crop, fit.fit.frame, fit.profile, stage.edge_offset_mm,
                          g.expected, confirmation, stage.noise_sd_hu)  # fmt: skip
    if ih is None:
        return None
    i = grading.levels.index(lv)
    heights = [ih.heights if j == i else h for j, h in enumerate(grading.heights)]
    g2 = grade_spine(grading.levels, heights, grading.sd_mm, grading.quality)[i]
    swapped = [replace(b, heights_mm=ih.heights) if b.level is lv else b for b in bodies]
    if check_before_grading(swapped).get(lv):
        return None
    seen = CtConfirmation(tuple(ih.heights.as_array()), (1.0, 1.0, 1.0), (True, True, True))  # type: ignore[arg-type]
    profile = replace(fit.profile, heights=ih.heights, superior_mm=ih.superior_mm,
                      inferior_mm=ih.inferior_mm)  # fmt: skip
    fit2 = BodyFit(fit.crop, fit.fit, profile, fit.radius_mm)
    pit = _pit(ih.heights, g2, fit2, stage.edge_offset_mm)
    if _grade_problems(lv, ih.heights, g2, seen, voxel_mm, pit):
        return None
    old = "/".join(f"{h:.1f}" for h in stage.records[lv].heights_mm.as_array())  # type: ignore[union-attr]
    note = (
        f"heights read on the CT from the body's interior outward: the body mask's "
        f"({old} mm) were not confirmed by the endplates the CT shows"
    )
    vm = replace(
        stage.records[lv],
        heights_mm=ih.heights,
        height_segments_ras_mm=profile.segments_ras_mm(fit.fit.frame),
        expected_heights_mm=g2.expected,
        height_loss=g2.loss,
        genant_grade=g2.grade,
        morphotype=g2.morphotype,
        grade_confidence=float(np.clip(g2.confidence * conf_scale, 0.0, 1.0)),
        posterior_wall_height_loss=g2.loss.posterior,
        notes=(*stage.records[lv].notes, *g2.notes, note),
    )
    return vm, fit2


def grade_bodies(stage: BodyStage, loc: Located) -> BodyStage:
    """Sanity checks, then grades with their confidence; returns the graded stage."""
    results, bodies = _checked(stage)
    fits = {lv: m for lv, m in stage.fits.items() if results[lv].measurable}
    graded = sorted(fits, key=int)
    if graded:
        # Height noise: a quarter voxel per endplate, or half the column spread if larger.
        voxel_mm = float(max(affine_spacing(loc.volume.affine)))
        spread = np.array([float(np.median(fits[lv].profile.spread_mm)) / 2 for lv in graded])
        grading = _SpineGrading(
            levels=graded,
            heights=[results[lv].heights_mm for lv in graded],  # type: ignore[misc]
            sd_mm=np.hypot(0.25 * voxel_mm, spread),
            quality=np.array([fits[lv].fit.quality for lv in graded]),
        )
        grades = grade_spine(grading.levels, grading.heights, grading.sd_mm, grading.quality)
        for i, (lv, g) in enumerate(zip(graded, grades, strict=True)):
            heights = results[lv].heights_mm
            if (pit := _pit(heights, g, fits[lv], stage.edge_offset_mm)) is not None:  # type: ignore[arg-type]
                # The pit is no deformity, but the body's other heights can show one.
                # When they do not, the vertebra stays "not measurable": a shallow
                # biconcave fracture can look like a node (the fixed suite's 3 mm T12).
                beside = without_morphotype(
                    g, "biconcave", pit.reason + ": graded on Ha and Hp",
                    height_sd_mm=float(grading.sd_mm[i]), hp_mm=heights.posterior,  # type: ignore[union-attr]
                    frame_quality=float(grading.quality[i]),
                )  # fmt: skip
                g, pit = (beside, None) if beside.grade >= GenantGrade.MILD else (g, pit)
            cut = loc.infos.get(lv) is not None and loc.infos[lv].cut_by_fov
            scale = 0.8 if cut else 1.0
            conf = g.confidence * scale
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
            confirmation = ct_confirmation(columns, stage.edge_offset_mm, vm.heights_mm)  # type: ignore[arg-type]
            problems = _grade_problems(lv, vm.heights_mm, g, confirmation, voxel_mm, pit)  # type: ignore[arg-type]
            again = None
            if problems and all(p.gate in _REREAD_GATES for p in problems):
                again = _reread(lv, g, confirmation, stage, bodies, grading, voxel_mm, scale)
            if again is not None:
                results[lv], fits[lv] = again
            else:
                results[lv] = mark_not_measurable(vm, problems) if problems else vm
        fits = {lv: m for lv, m in fits.items() if results[lv].measurable}
    return replace(stage, records=results, fits=fits)
