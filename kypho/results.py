"""The results document: one JSON per study with a versioned schema.

The schema is documented in ``docs/results-schema.md``; bump :data:`SCHEMA_VERSION`
(major for breaking changes) whenever a key changes meaning or disappears.
"""

from __future__ import annotations

import math
from typing import Any

from kypho import __version__
from kypho.measure.records import SpineMeasurement, VertebraMeasurement

__all__ = ["DISCLAIMER", "SCHEMA_VERSION", "analysis_to_json", "vertebra_to_json"]

SCHEMA_VERSION = "1.0.0"

DISCLAIMER = (
    "kypho is research software. Its measurements, grades and plans support, and do not "
    "replace, the judgement of a qualified clinician who has reviewed the images."
)


def _num(value: float | None, ndigits: int = 2) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else round(value, ndigits)


def _vec(value: Any, ndigits: int = 2) -> list[float] | None:
    if value is None:
        return None
    return [round(float(v), ndigits) for v in value]


def vertebra_to_json(v: VertebraMeasurement) -> dict[str, Any]:
    """One entry of ``vertebrae[]``; every key is present, unmeasured values are null."""
    return {
        "level": v.level.display,
        "label": v.label,
        "centroid_ras_mm": _vec(v.centroid_ras_mm),
        "measurable": bool(v.measurable),
        "reason": v.reason,
        "failed_checks": list(v.failed_checks),
        "heights_mm": v.heights_mm.to_json() if v.heights_mm else None,
        "expected_heights_mm": v.expected_heights_mm.to_json() if v.expected_heights_mm else None,
        "height_loss_pct": {k: round(100.0 * x, 1) for k, x in v.height_loss.to_json(4).items()}
        if v.height_loss
        else None,
        "ratios": {
            "anterior_posterior": _num(v.heights_mm.anterior / v.heights_mm.posterior, 3),
            "middle_posterior": _num(v.heights_mm.middle / v.heights_mm.posterior, 3),
        }
        if v.heights_mm and v.heights_mm.posterior > 0
        else None,
        "genant_grade": None if v.genant_grade is None else int(v.genant_grade),
        "morphotype": None if v.morphotype is None else v.morphotype.value,
        "grade_confidence": _num(v.grade_confidence, 3),
        "body_volume_ml": _num(v.body_volume_ml),
        "ap_depth_mm": _num(v.ap_depth_mm),
        "width_mm": _num(v.width_mm),
        "endplate_tilt_deg": {
            "superior": _num(v.superior_endplate_tilt_deg, 1),
            "inferior": _num(v.inferior_endplate_tilt_deg, 1),
        },
        "posterior_wall": {
            "height_loss_pct": None
            if v.posterior_wall_height_loss is None
            else round(100.0 * v.posterior_wall_height_loss, 1),
            "retropulsion_mm": _num(v.retropulsion_mm, 1),
        },
        "trabecular_hu": _num(v.trabecular_hu_mean, 1),
        "trabecular_hu_median": _num(v.trabecular_hu_median, 1),
        "bmd_mg_cm3": _num(v.bmd_mg_cm3, 1),
        "density_class": None if v.density_class is None else v.density_class.value,
        "cement_volume_ml": _num(v.cement_volume_ml),
        "height_segments_ras_mm": {
            k: [_vec(a), _vec(b)] for k, (a, b) in v.height_segments_ras_mm.items()
        }
        if v.height_segments_ras_mm
        else None,
        "frame": v.frame.to_json() if v.frame else None,
        "notes": list(v.notes),
    }


def spine_to_json(spine: SpineMeasurement) -> dict[str, Any]:
    fractures = [
        {
            "level": v.level.display,
            "genant_grade": int(v.genant_grade),  # type: ignore[arg-type]
            "morphotype": None if v.morphotype is None else v.morphotype.value,
        }
        for v in spine.fractures
    ]
    worst = max((f["genant_grade"] for f in fractures), default=0)
    return {
        "cobb_deg": _num(spine.cobb_deg, 1),
        "cobb_levels": list(spine.cobb_levels) if spine.cobb_levels else None,
        "cobb_note": spine.cobb_note,
        "lumbar_lordosis_deg": _num(spine.lumbar_lordosis_deg, 1),
        "segmental_kyphosis_deg": {k: _num(x, 1) for k, x in spine.segmental_kyphosis_deg.items()},
        "fractures": fractures,
        "worst_grade": worst,
        "spinal_deformity_index": int(spine.spinal_deformity_index),
        "density": {
            "reference_level": spine.density_reference_level,
            "reference_hu": _num(spine.density_reference_hu, 1),
            "class_by_hu": None if spine.density_class_hu is None else spine.density_class_hu.value,
            "lumbar_bmd_mg_cm3": _num(spine.lumbar_bmd_mg_cm3, 1),
            "class_by_bmd": None
            if spine.density_class_bmd is None
            else spine.density_class_bmd.value,
            "calibration": spine.bmd_calibration,
        },
        "notes": list(spine.notes),
    }


def analysis_to_json(analysis: Any) -> dict[str, Any]:
    """The whole results document for a :class:`kypho.pipeline.Analysis`."""
    vol = analysis.volume
    seg = analysis.segmentation
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kypho_version": __version__,
        "disclaimer": DISCLAIMER,
        "input": {
            "source": vol.source,
            "shape": list(vol.shape),
            "spacing_mm": [round(s, 4) for s in vol.spacing_mm],
            "affine_ras": [[round(float(x), 5) for x in row] for row in vol.affine],
            "meta": {k: v for k, v in vol.meta.items() if k != "warnings"},
        },
        "segmentation": {
            "method": seg.method,
            "levels": [info.to_json() for info in seg.levels],
        },
        "warnings": list(analysis.warnings),
        "timings_s": {k: round(v, 3) for k, v in analysis.timings_s.items()},
        "vertebrae": [],
        "spine": None,
        "plan": None,
    }
    if analysis.spine is not None:
        doc["vertebrae"] = [vertebra_to_json(v) for v in analysis.spine.vertebrae]
        doc["spine"] = spine_to_json(analysis.spine)
        # The flat keys, kept at top level for simple consumers.
        doc["cobb_deg"] = doc["spine"]["cobb_deg"]
        doc["fractures"] = doc["spine"]["fractures"]
    if analysis.plan is not None:
        doc["plan"] = analysis.plan.to_json()
    if getattr(analysis, "simulation", None) is not None:
        from kypho.simulate.records import to_dict

        doc["simulation"] = to_dict(analysis.simulation)
    return doc
