"""Spine-level summaries in words: density class, and the risk of a further fracture.

Every figure quoted comes from DOMAIN.md with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level
from kypho.measure.calibration import BmdCalibration
from kypho.measure.density import (
    PICKHARDT_NORMAL_HU,
    PICKHARDT_OSTEOPOROSIS_HU,
    acr_class,
    pickhardt_class,
)
from kypho.model import DensityClass, VertebraMeasurement

__all__ = ["DensitySummary", "density_summary", "risk_notes"]

#: Preference order of the level whose HU is classified (Pickhardt thresholds are for L1,
#: DOMAIN.md §2.1; nearest measurable lumbar / T12 level otherwise).
_DENSITY_LEVELS = (Level.L1, Level.L2, Level.T12, Level.L3, Level.L4, Level.L5)
#: Thoracolumbar junction (re-collapse after augmentation OR 2.09, DOMAIN.md §5.5).
_JUNCTION = (Level.T11, Level.T12, Level.L1, Level.L2)


@dataclass
class DensitySummary:
    """Spine-level density fields of :class:`SpineMeasurement` and their notes."""

    reference_level: str | None
    reference_hu: float | None
    class_hu: DensityClass | None
    lumbar_bmd_mg_cm3: float | None
    class_bmd: DensityClass | None
    notes: list[str]


def density_summary(
    vertebrae: list[VertebraMeasurement], calibration: BmdCalibration
) -> DensitySummary:
    """Pickhardt class at L1 (or nearest) and ACR class of the mean of two lumbar BMDs.

    Fractured or cemented vertebrae are skipped where an unfractured one is available,
    because compression raises their HU.
    """
    by = {v.level: v for v in vertebrae if v.trabecular_hu_mean is not None}

    def usable(lv: Level, strict: bool) -> bool:
        v = by.get(lv)
        if v is None:
            return False
        return not strict or (not v.is_fractured and not v.cement_volume_ml)

    notes: list[str] = []
    ref = next((lv for lv in _DENSITY_LEVELS if usable(lv, True)), None)
    ref = ref or next((lv for lv in _DENSITY_LEVELS if usable(lv, False)), None)
    ref_hu = cls_hu = None
    if ref is not None:
        ref_hu = float(by[ref].trabecular_hu_mean)  # type: ignore[arg-type]
        cls_hu = pickhardt_class(ref_hu)
        notes.append(
            f"{ref.display} trabecular attenuation {ref_hu:.0f} HU: {cls_hu.value} by the "
            f"Pickhardt 2013 L1 thresholds (<= {PICKHARDT_OSTEOPOROSIS_HU:.0f} HU likely "
            f"osteoporosis, > 90 % specific; > {PICKHARDT_NORMAL_HU:.0f} HU normal; "
            "DOMAIN.md §2.1)"
            + ("" if ref is Level.L1 else "; L1 not usable, so the nearest level was used")
        )
    lumbar = [lv for lv in (Level.L1, Level.L2, Level.L3, Level.L4) if usable(lv, True)][:2]
    bmd = cls_bmd = None
    if lumbar:
        bmd = float(np.mean([by[lv].bmd_mg_cm3 for lv in lumbar]))  # type: ignore[misc]
        cls_bmd = acr_class(bmd)
        names = "+".join(lv.display for lv in lumbar)
        notes.append(
            f"trabecular BMD {bmd:.0f} mg/cm3 (mean of {names}): {cls_bmd.value} by the ACR "
            "QCT thresholds (> 120 normal, 80-120 low, < 80 osteoporosis; DOMAIN.md §2.2); "
            f"calibration: {calibration.source}"
        )
    return DensitySummary(ref.display if ref else None, ref_hu, cls_hu, bmd, cls_bmd, notes)


def risk_notes(vertebrae: list[VertebraMeasurement]) -> list[str]:
    """Statements of the risk of a further fracture, with figures and sources."""
    fractures = [v for v in vertebrae if v.is_fractured]
    notes: list[str] = []
    if fractures:
        names = ", ".join(
            f"{v.level.display} (grade {int(v.genant_grade)}, {v.morphotype.value})"  # type: ignore[arg-type, union-attr]
            for v in fractures
        )
        notes.append(f"{len(fractures)} vertebral fracture(s): {names}.")
        notes.append(
            "Risk of a further fracture: 19.2 % (95 % CI 13.6-24.8 %) of patients have a new "
            "vertebral fracture within one year of an incident one (Lindsay 2001 JAMA, "
            "DOMAIN.md §0 row 33)."
        )
        notes.append(
            "After augmentation, subsequent fractures occurred in 11 % (kyphoplasty or "
            "vertebroplasty) vs 22 % with non-surgical management (Papanastassiou 2012 "
            "meta-analysis, DOMAIN.md §5.5)."
        )
        if len(fractures) >= 2:
            notes.append(
                "Several prevalent fractures: the baseline fracture count raises the risk of "
                "a new one (OR 1.43 per fracture in VERTOS II, Klazen 2010, DOMAIN.md §5.5)."
            )
    cemented = [v for v in vertebrae if v.cement_volume_ml]
    if cemented and any(v.level in _JUNCTION for v in cemented):
        notes.append(
            "Cement at the thoracolumbar junction: re-collapse after vertebroplasty is more "
            "likely there (OR 2.09, Ma 2021 meta-analysis, DOMAIN.md §5.5)."
        )
    return notes
