"""A clinician's corrections applied to an analysis, and the downstream stages re-run.

Corrections (a level renamed or the numbering shifted, a grade overridden, a vertebra
excluded, the treated levels chosen) are kept on the original study's rows. From them
and the original's typed records this module derives a corrected analysis: the label
maps and measurements renamed, the grades overridden, and the plan computed again for
the levels the corrections make candidates (or the treated levels, when chosen). The
original analysis is never changed; the corrected one is a new study linked to it.

Pure: typed records in, typed records out. Reading the stored CT and masks and writing
the new version happen at the edge (:mod:`kypho.web.jobs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import GenantGrade, Segmentation, SpineMeasurement, VertebraMeasurement
from kypho.registry.errors import RegistryError

__all__ = [
    "Corrections",
    "VertebraCorrection",
    "apply_corrections",
    "corrections_of",
    "describe",
    "rederive",
]


@dataclass(frozen=True)
class VertebraCorrection:
    """What the clinician changed on one vertebra (None: unchanged)."""

    level: str  # the machine's name
    new_level: str | None = None
    grade: int | None = None
    excluded: bool = False


@dataclass(frozen=True)
class Corrections:
    """Every correction of one study, and the treated levels chosen (new names)."""

    vertebrae: tuple[VertebraCorrection, ...] = ()
    treated_levels: tuple[str, ...] = ()

    @property
    def renames(self) -> dict[str, str]:
        """Machine name -> corrected name, for the renamed vertebrae only."""
        return {c.level: c.new_level for c in self.vertebrae if c.new_level}

    @property
    def empty(self) -> bool:
        return not self.vertebrae and not self.treated_levels


def corrections_of(study: Any) -> Corrections:
    """The corrections stored on a registry study's findings and its treated-level choice."""
    out = []
    for f in study.findings:
        if f.deleted_at is not None:
            continue
        if f.corrected_level or f.grade_override is not None or f.excluded:
            out.append(VertebraCorrection(f.level, f.corrected_level, f.grade_override,
                                          bool(f.excluded)))
    treated = tuple(lv for lv in (study.treated_levels or "").split(",") if lv)
    return Corrections(tuple(out), treated)


def describe(c: Corrections) -> list[str]:
    """One sentence per correction, for the report and the audit of the new version."""
    lines = []
    for v in c.vertebrae:
        if v.new_level:
            lines.append(f"{v.level} renamed {v.new_level}.")
        if v.grade is not None:
            lines.append(f"{v.new_level or v.level}: Genant grade set to {v.grade} by the "
                         "clinician.")
        if v.excluded:
            lines.append(f"{v.new_level or v.level} excluded (no plan, not on the worklist).")
    if c.treated_levels:
        lines.append(f"Treated levels chosen: {', '.join(c.treated_levels)} (plan restricted "
                     "to them).")
    return lines


def _label_lut(present: list[int], renames: dict[str, str]) -> np.ndarray:
    """A 256-entry lookup table old VerSe label -> new label; refuses two vertebrae one name."""
    lut = np.arange(256, dtype=np.uint8)
    for old, new in renames.items():
        lut[int(Level.parse(old))] = int(Level.parse(new))
    after = [int(lut[v]) for v in present]
    clash = sorted({a for a in after if after.count(a) > 1})
    if clash:
        names = ", ".join(Level(a).display for a in clash)
        raise RegistryError(
            f"the corrections give two vertebrae the name {names}: rename or shift the "
            "neighbours too."
        )
    return lut


def _relabel(seg: Segmentation, lut: np.ndarray, renames: dict[str, str]) -> Segmentation:
    levels = tuple(
        dataclasses.replace(info, level=Level.parse(renames.get(info.level.display,
                                                                info.level.display)))
        for info in seg.levels
    )
    return dataclasses.replace(
        seg,
        vertebrae=LabelMap(lut[seg.vertebrae.labels], seg.vertebrae.affine),
        bodies=LabelMap(lut[seg.bodies.labels], seg.bodies.affine),
        levels=levels,
    )


def _correct_vertebra(vm: VertebraMeasurement, c: VertebraCorrection | None) -> tuple[
        VertebraMeasurement, str | None]:
    """The vertebra renamed and regraded; a note when an override cannot apply."""
    if c is None:
        return vm, None
    changes: dict[str, Any] = {}
    note = None
    if c.new_level:
        changes["level"] = Level.parse(c.new_level)
    if c.grade is not None:
        if vm.measurable:
            changes["genant_grade"] = GenantGrade(c.grade)
            measured = "n/a" if vm.genant_grade is None else int(vm.genant_grade)
            changes["notes"] = (*vm.notes, f"Genant grade {c.grade} set by the clinician "
                                f"(measured {measured}).")
        else:
            note = (f"{c.new_level or c.level}: grade {c.grade} set by the clinician, but the "
                    f"vertebra was not measurable ({vm.reason}): no plan from imaging.")
    if c.excluded:
        # An excluded vertebra's numbers are not to be used: it is reported as not
        # measurable, so no summary, worklist or plan counts it as a fracture.
        grade = vm.genant_grade
        graded = "" if grade is None else f"; measured Genant grade {int(grade)}"
        changes.update(
            measurable=False, genant_grade=None, morphotype=None, grade_confidence=None,
            reason=f"excluded by the clinician{graded}",
            notes=(*changes.get("notes", vm.notes), "Excluded by the clinician."),
        )
        note = None
    return dataclasses.replace(vm, **changes), note


def _rename_key(name: str | None, renames: dict[str, str]) -> str | None:
    return None if name is None else renames.get(name, name)


def apply_corrections(
    segmentation: Segmentation, spine: SpineMeasurement, corrections: Corrections
) -> tuple[Segmentation, SpineMeasurement, list[str], list[str]]:
    """Segmentation and measurements after the corrections, and the levels to plan.

    Returns
    -------
    segmentation, spine :
        Renamed label maps and records; overridden grades; excluded vertebrae noted.
    plan_levels : list of str
        The treated levels when chosen, else every fractured level (Genant >= 1, the
        pipeline's rule) after the corrections; excluded vertebrae never.
    notes : list of str
        What could not be applied as asked (e.g. a grade on an unmeasured vertebra).
    """
    from kypho.measure.alignment import spinal_deformity_index

    renames = corrections.renames
    by_level = {c.level: c for c in corrections.vertebrae}
    lut = _label_lut(segmentation.vertebrae.present(), renames)
    seg = _relabel(segmentation, lut, renames)
    notes: list[str] = []
    vertebrae = []
    for vm in spine.vertebrae:
        new, note = _correct_vertebra(vm, by_level.get(vm.level.display))
        vertebrae.append(new)
        if note:
            notes.append(note)
    excluded = {c.new_level or c.level for c in corrections.vertebrae if c.excluded}
    seg_k = {(_rename_key(k, renames) or k): v for k, v in spine.segmental_kyphosis_deg.items()}
    cobb = spine.cobb_levels
    fixed = dataclasses.replace(
        spine,
        vertebrae=tuple(vertebrae),
        cobb_levels=None if cobb is None else tuple(renames.get(x, x) for x in cobb),
        segmental_kyphosis_deg=seg_k,
        density_reference_level=_rename_key(spine.density_reference_level, renames),
        spinal_deformity_index=spinal_deformity_index(
            [v.genant_grade for v in vertebrae if v.level.display not in excluded]),
    )
    if corrections.treated_levels:
        wanted = [lv for lv in corrections.treated_levels if lv not in excluded]
    else:
        # A grade >= 1 set on an unmeasured vertebra still asks for a plan: the planner
        # then says why imaging cannot give one.
        overridden = {
            c.new_level or c.level for c in corrections.vertebrae
            if c.grade is not None and c.grade >= 1
        }
        wanted = [v.level.display for v in vertebrae
                  if (v.is_fractured or v.level.display in overridden)
                  and v.level.display not in excluded]
    return seg, fixed, wanted, notes


def rederive(
    volume: Volume,
    segmentation: Segmentation,
    spine: SpineMeasurement,
    corrections: Corrections,
    *,
    warnings: list[str] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """The corrected analysis: corrections applied, the plan computed again.

    Returns
    -------
    kypho.pipeline.Analysis
        With the renamed segmentation, the corrected measurements and the new plan;
        its warnings say it is a corrected version and list the corrections.
    """
    import time

    from kypho.anatomy.levels import Level
    from kypho.pipeline import Analysis
    from kypho.plan.plan import plan_levels

    seg, fixed, wanted, notes = apply_corrections(segmentation, spine, corrections)
    t = time.perf_counter()
    # Corrections keep level names as the forms wrote them: parsed here, at the edge.
    levels = [Level.parse(name) for name in wanted]
    plan = plan_levels(volume, seg, fixed, levels=levels, progress=progress)
    out_warnings = [*(warnings or []), *(f"Clinician correction: {s}" for s in
                                         describe(corrections)), *notes]
    return Analysis(volume, seg, fixed, plan, out_warnings,
                    {"plan": time.perf_counter() - t})
