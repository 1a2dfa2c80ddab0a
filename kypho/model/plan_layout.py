"""The results.json layout of the plan records (see :mod:`kypho.model.layout`)."""

from __future__ import annotations

from typing import Any

from kypho.model.codec import (
    Bool,
    Dict,
    EmptyAsNone,
    EnumOf,
    Int,
    List,
    Named,
    Num,
    Obj,
    Optional,
    Str,
    Tuple,
    Vec,
)
from kypho.model.findings import ImagingFindings, LevelFindings
from kypho.model.layout import GRADE, HEIGHT_KEYS, LEVEL, NOTES, opt_num
from kypho.model.plan import (
    Approach,
    BalloonPlacement,
    BalloonPlan,
    CementPlan,
    LeakageFactor,
    LeakageRisk,
    LevelPlan,
    Logistics,
    ProcedurePlan,
    Recommendation,
    Restoration,
    Trajectory,
)
from kypho.model.record import Derived, Field, Flatten, Record
from kypho.model.units import KPA_PER_ATM, KPA_PER_PSI

__all__ = [
    "BALLOON",
    "CEMENT",
    "FINDINGS",
    "LEAKAGE",
    "LEVEL_PLAN",
    "LOGISTICS",
    "PLACEMENT",
    "PLAN",
    "RESTORATION",
    "TRAJECTORY",
]

# -- plan -------------------------------------------------------------------------------

TRAJECTORY = Record(Trajectory, [
    Field("side", Str()),
    Field("approach", EnumOf(Approach)),
    Field("cannula_gauge", Int()),
    Field("cannula_outer_diameter_mm", Num(2)),
    Field("entry_ras_mm", Vec(2)),
    Field("isthmus_ras_mm", Vec(2)),
    Field("target_ras_mm", Vec(2)),
    Field("skin_entry_ras_mm", Optional(Vec(2))),
    Field("skin_depth_mm", opt_num(1)),
    *(Field(k, Num(1)) for k in ("medial_angle_deg", "craniocaudal_angle_deg",
                                 "medial_angle_table_deg", "craniocaudal_angle_table_deg",
                                 "path_length_mm", "isthmus_width_mm", "isthmus_height_mm")),
    *(Field(f"clearance_{k}_mm", Num(2)) for k in ("medial", "lateral", "superior",
                                                   "inferior")),
    Field("breach", Bool()),
    Field("notes", NOTES),
])
PLACEMENT = Record(BalloonPlacement, [
    Field("side", Str()),
    Field("centre_ras_mm", Vec(2)),
    Field("axes_ras", Tuple(Vec(4), 3)),
    Field("semi_axes_mm", Vec(2)),
    Field("inflation_volume_ml", Num(2)),
    Field("inside_body", Bool()),
])
RESTORATION = Record(Restoration, [
    Field("current_heights_mm", Named(HEIGHT_KEYS, Num(1)), "current_mm"),
    Field("target_heights_mm", Named(HEIGHT_KEYS, Num(1)), "target_mm"),
    Field("realistic_heights_mm", Named(HEIGHT_KEYS, Num(1)), "realistic_mm"),
    Field("best_case_heights_mm", Named(HEIGHT_KEYS, Num(1)), "best_case_mm"),
    Field("restored_outline_ras_mm", List(Vec(1))),
    Field("current_outline_ras_mm", List(Vec(1))),
    Field("notes", NOTES),
])


class _Pressure(Num):
    """A pressure in kPa written as kPa, psi and atm (psi and atm from the kPa written)."""

    def encode(self, value: Any) -> dict[str, float]:  # type: ignore[override]
        kpa = round(float(value), 0)
        return {"kpa": kpa, "psi": round(kpa / KPA_PER_PSI, 0), "atm": round(kpa / KPA_PER_ATM, 1)}

    def decode(self, data: Any) -> float:
        return float(data["kpa"])

    def schema(self) -> dict[str, Any]:
        return Obj((("kpa", Num()), ("psi", Num()), ("atm", Num()))).schema()


BALLOON = Record(BalloonPlan, [
    Field("device", Str()),
    Field("length_mm", Num(1)),
    Field("max_fill_ml", Num(1)),
    Field("placements", List(PLACEMENT)),
    Derived("total_inflation_ml", Num(2), lambda b: b.total_inflation_ml),
    Field("typical_pressure", Tuple(_Pressure(), 2), "typical_pressure_kpa"),
    Field("max_pressure", _Pressure(), "max_pressure_kpa"),
    Field("restoration", Optional(RESTORATION)),
    Field("notes", NOTES),
])
CEMENT = Record(CementPlan, [
    Field("per_side_ml", Dict(Num(1))),
    Field("total_ml", Num(1)),
    Field("body_volume_ml", Num(1)),
    Field("fill_fraction", Num(3)),
    Field("strength_fill_ml", Num(1)),
    Field("stiffness_fill_ml", Num(1)),
    Field("guidance", NOTES),
])
LEAKAGE = Record(LeakageRisk, [
    Field("score", Num(3)),
    Field("category", Str()),
    Field("factors", List(Record(LeakageFactor, [
        Field("name", Str()), Field("present", Bool()),
        Field("odds_ratio", opt_num(None)), Field("source", Str()),
    ]))),
    Field("notes", NOTES),
])
LOGISTICS = Record(Logistics, [
    Field("procedure_minutes", Num(0)),
    Field("room_minutes", Num(0)),
    Field("anaesthesia", Str()),
    Field("anaesthesia_reasons", List(Str())),
    Field("expected_stay", Str()),
    Field("equipment", List(Str())),
])
FINDINGS = Record(LevelFindings, [
    Flatten("imaging", Record(ImagingFindings, [
        Field("soft_tissue_hu", Num(1)),
        Field("trabecular_hu_sd", Num(1)),
        Field("gas_volume_ml", Num(3)),
        Field("low_density_volume_ml", Num(3)),
        Field("low_density_assessable", Bool()),
        Field("canal_ap_mm", opt_num(1)),
    ])),
    Field("genant_grade", Optional(GRADE)),
    Field("cannula_gauge_planned", Int()),
    Field("target_depth_fraction", Num(None)),
])
LEVEL_PLAN = Record(LevelPlan, [
    Field("level", LEVEL),
    Field("recommendation", EnumOf(Recommendation)),
    Field("reasons", NOTES),
    Field("cautions", NOTES),
    Field("prerequisites", NOTES),
    Field("trajectories", List(TRAJECTORY)),
    Field("alternative_trajectories", List(TRAJECTORY)),
    Field("balloon", Optional(BALLOON)),
    Field("cement", Optional(CEMENT)),
    Field("leakage_risk", Optional(LEAKAGE)),
    Field("logistics", Optional(LOGISTICS)),
    Field("findings", EmptyAsNone(FINDINGS)),
])
PLAN = Record(ProcedurePlan, [
    Field("levels", List(LEVEL_PLAN)),
    Field("session", Optional(LOGISTICS)),
    Field("method", Str()),
    Field("assumptions", NOTES),
    Field("disclaimer", Str()),
    Field("notes", NOTES),
])
