"""Records of the simulation stage and their JSON form (results.json ``simulation``).

All serialisation of the stage lives in :func:`to_dict` (one place, so that the typed
results model can take it over); the records themselves hold numbers and masks only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kypho.measure.calibration import REFERENCE_HU, BmdCalibration, InternalReference
from kypho.simulate.cement import (
    INTERDIGITATION_MM,
    STIFFNESS_FILL_FRACTION,
    STRENGTH_FILL_FRACTION,
    CementFill,
)
from kypho.simulate.compression import CompressionResult
from kypho.simulate.inflation import InflationResult, InflationStep
from kypho.simulate.lift import ElasticLift

__all__ = [
    "FRAGILITY_THRESHOLDS_N",
    "AdjacentStress",
    "FEOutcome",
    "LevelSimulation",
    "Simulation",
    "fragility",
    "to_dict",
]

#: VirtuOst/BCT spine strength categories (N): fragile <= 4500 W / 6500 M, low strength up
#: to 6000 W / 8500 M (Keaveny 2020, DOMAIN.md §8.3).  They belong to another FE pipeline:
#: absolute strengths are not interchangeable (DOMAIN.md §8.2 caution).
FRAGILITY_THRESHOLDS_N = {"female": (4500.0, 6000.0), "male": (6500.0, 8500.0)}
YIELD_CRITERION = "load at which 2 % of the bone volume reaches its Kopperdahl compressive " \
    "yield stress (minimum principal stress, linear)"


def fragility(failure_load_n: float) -> dict[str, str]:
    """Category per sex against the BCT thresholds (pipeline-specific, indicative only)."""
    out = {}
    for sex, (fragile, low) in FRAGILITY_THRESHOLDS_N.items():
        if not np.isfinite(failure_load_n):
            out[sex] = "not measurable"
        elif failure_load_n <= fragile:
            out[sex] = "fragile"
        elif failure_load_n < low:
            out[sex] = "low strength"
        else:
            out[sex] = "normal"
    return out


@dataclass(frozen=True)
class FEOutcome:
    """Stiffness and strength of one FE run (the fields stay in the result)."""

    stiffness_n_per_mm: float
    failure_load_n: float
    failure_criterion: str
    yield_failure_load_n: float
    elements: int
    solve_s: float

    @classmethod
    def from_result(cls, res: CompressionResult) -> FEOutcome:
        """Summarise a compression result."""
        crit = (f"Bonelab linear definition: stiffness x 0.68 % strain x model height "
                f"({res.model_height_mm:.1f} mm)")
        return cls(res.stiffness_n_per_mm, res.linear_failure_load_n, crit,
                   res.yield_failure_load_n, res.n_elements, res.solve_s + res.assembly_s)


@dataclass(frozen=True)
class AdjacentStress:
    """Stress in the adjacent bodies under the same load before and after augmentation.

    Attributes
    ----------
    load_n : float
        Axial load applied in both runs.
    mean_pre_mpa, mean_post_mpa, peak_pre_mpa, peak_post_mpa : float
        Mean and 99th-percentile compressive (minimum principal) stress magnitude in the
        adjacent bodies' endplate layers.
    """

    load_n: float
    mean_pre_mpa: float
    mean_post_mpa: float
    peak_pre_mpa: float
    peak_post_mpa: float

    @property
    def mean_change_pct(self) -> float:
        """Change of the mean stress (%)."""
        return 100.0 * (self.mean_post_mpa / self.mean_pre_mpa - 1.0)

    @property
    def peak_change_pct(self) -> float:
        """Change of the peak stress (%)."""
        return 100.0 * (self.peak_post_mpa / self.peak_pre_mpa - 1.0)


@dataclass(frozen=True)
class LevelSimulation:
    """Simulated kyphoplasty of one level: FE before/after, inflation per balloon, cement."""

    level: str
    fe_pre: FEOutcome
    fe_post: FEOutcome
    inflation: dict[str, InflationResult]
    cement: CementFill
    adjacent: AdjacentStress | None = None
    planned_cement_ml: float | None = None
    notes: list[str] = field(default_factory=list)
    #: Mid-sagittal cut through the cement (AP x SI, element size): 0 outside, 1 bone,
    #: 2 cement, 3 end-cap; and the axial stress (MPa, compression negative) there
    #: before and after augmentation at the Bonelab displacement.  For figures only.
    section: np.ndarray | None = field(default=None, repr=False)
    stress_pre_mpa: np.ndarray | None = field(default=None, repr=False)
    stress_post_mpa: np.ndarray | None = field(default=None, repr=False)
    elastic_lift: ElasticLift | None = None


@dataclass(frozen=True)
class Simulation:
    """The simulation stage's output for one study."""

    levels: list[LevelSimulation]
    calibration: BmdCalibration
    calibration_fit: InternalReference | None
    resolution_mm: float
    material: str
    method: str
    assumptions: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


def _r(value: float | None, nd: int) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), nd)


def _step(s: InflationStep) -> dict[str, Any]:
    return {"volume_ml": _r(s.volume_ml, 3), "pressure_mpa": _r(s.pressure_mpa, 3),
            "heights_mm": dict(zip(("ha", "hm", "hp"), (_r(g, 2) for g in s.gain_mm),
                                   strict=True))}


def _fe(o: FEOutcome) -> dict[str, Any]:
    return {"stiffness_n_per_mm": _r(o.stiffness_n_per_mm, 0),
            "failure_load_n": _r(o.failure_load_n, 0), "failure_criterion": o.failure_criterion,
            "yield_failure_load_n": _r(o.yield_failure_load_n, 0),
            "yield_criterion": YIELD_CRITERION,
            "fragility_pipeline_specific": fragility(o.failure_load_n),
            "elements": o.elements, "solve_s": _r(o.solve_s, 2)}


def _lift(e: ElasticLift | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"pressure_mpa": _r(e.pressure_mpa, 3), "lift_mm": _r(e.lift_mm, 4),
            "cavity_opening_mm": _r(e.cavity_opening_mm, 4),
            "model": "FE: final balloon pressure on the cavity faces, inferior cap held "
                     "axially, no preload; elastic part of the height gain"}


def _level(lv: LevelSimulation) -> dict[str, Any]:
    infl = {side: {"steps": [_step(s) for s in r.steps], "stop_reason": r.stop_reason,
                   "cavity_voxels": int(r.cavity.sum())} for side, r in lv.inflation.items()}
    c, a = lv.cement, lv.adjacent
    return {
        "level": lv.level, "fe_pre": _fe(lv.fe_pre), "fe_post": _fe(lv.fe_post),
        "inflation": {"steps": next(iter(infl.values()), {"steps": []})["steps"],
                      "per_balloon": infl, "elastic_lift": _lift(lv.elastic_lift)},
        "cement": {"volume_ml": _r(c.volume_ml, 2), "planned_ml": _r(lv.planned_cement_ml, 2),
                   "body_volume_ml": _r(c.body_volume_ml, 1),
                   "fill_fraction": _r(c.fill_fraction, 3),
                   "restores_strength": bool(c.fill_fraction >= STRENGTH_FILL_FRACTION),
                   "restores_stiffness": bool(c.fill_fraction >= STIFFNESS_FILL_FRACTION),
                   "interdigitation_mm": INTERDIGITATION_MM},
        "adjacent": {"stress_change_pct": None if a is None else _r(a.mean_change_pct, 1),
                     "peak_stress_change_pct": None if a is None else _r(a.peak_change_pct, 1),
                     "load_n": None if a is None else _r(a.load_n, 0),
                     "mean_stress_mpa": None if a is None else
                     {"pre": _r(a.mean_pre_mpa, 3), "post": _r(a.mean_post_mpa, 3)},
                     "peak_stress_mpa": None if a is None else
                     {"pre": _r(a.peak_pre_mpa, 3), "post": _r(a.peak_post_mpa, 3)}},
        "notes": list(lv.notes),
    }


def _fit(f: InternalReference) -> dict[str, Any]:
    return {"tissues": {k: {"observed_hu": _r(v, 1), "reference_hu": REFERENCE_HU[k],
                            "voxels": f.voxels[k]} for k, v in f.observed_hu.items()},
            "scale": _r(f.scale, 4), "offset_hu": _r(f.offset_hu, 1),
            "residual_rms_hu": _r(f.residual_rms_hu, 1), "r_squared": _r(f.r_squared, 4)
            if f.r_squared is not None else None}


def _calibration(cal: BmdCalibration, fit: InternalReference | None) -> dict[str, Any]:
    return {"slope_mg_per_hu": _r(cal.slope, 5), "intercept_mg": _r(cal.intercept, 2),
            "source": cal.source, "fit": None if fit is None else _fit(fit)}


def to_dict(
    record: Simulation | LevelSimulation | FEOutcome | BmdCalibration,
    fit: InternalReference | None = None,
) -> dict[str, Any]:
    """Plain JSON of a simulation (results.json ``simulation``) or of one of its parts.

    ``fit`` goes with a :class:`BmdCalibration` (the internal reference it came from).
    """
    if isinstance(record, LevelSimulation):
        return _level(record)
    if isinstance(record, FEOutcome):
        return _fe(record)
    if isinstance(record, BmdCalibration):
        return _calibration(record, fit)
    return {
        "method": record.method,
        "material_law": record.material,
        "resolution_mm": record.resolution_mm,
        "calibration": _calibration(record.calibration, record.calibration_fit),
        "assumptions": list(record.assumptions),
        "thresholds_note": "fragility categories use the VirtuOst/BCT spine thresholds "
                           "(Keaveny 2020, DOMAIN.md §8.3); they belong to another FE "
                           "pipeline, so the category is indicative only",
        "levels": [_level(lv) for lv in record.levels],
        "skipped": dict(record.skipped),
    }
