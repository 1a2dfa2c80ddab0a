"""Typed records of a kyphoplasty plan; each one is valid once built and has to_json().

Coordinates are world RAS mm, lengths mm, volumes mL, pressures kPa (JSON also gives psi
and atm), angles degrees. The geometric records (trajectories, balloons) live in
:mod:`kypho.plan.geometry_records` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kypho.anatomy.levels import Level
from kypho.plan.geometry_records import (
    Approach,
    BalloonPlacement,
    BalloonPlan,
    Restoration,
    Trajectory,
    _finite,
    _r,
)

__all__ = [
    "Approach",
    "BalloonPlacement",
    "BalloonPlan",
    "CementPlan",
    "LeakageFactor",
    "LeakageRisk",
    "LevelPlan",
    "Logistics",
    "ProcedurePlan",
    "Recommendation",
    "Restoration",
    "Trajectory",
]

DISCLAIMER = (
    "Decision support only, computed from CT geometry. Not a substitute for the treating "
    "physician's judgement, MRI/clinical confirmation of the fracture's acuity and "
    "symptoms, or the device instructions for use."
)


class Recommendation(StrEnum):
    BALLOON_KYPHOPLASTY = "balloon_kyphoplasty"
    VERTEBROPLASTY = "vertebroplasty"
    NOT_SUITABLE = "not_suitable"


@dataclass
class CementPlan:
    """Planned cement volumes and how they compare with published fill targets."""

    per_side_ml: dict[str, float]
    total_ml: float
    body_volume_ml: float
    fill_fraction: float
    strength_fill_ml: float
    stiffness_fill_ml: float
    guidance: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for k, v in self.per_side_ml.items():
            _finite(v, f"per_side_ml[{k}]", 0.0)
        _finite(self.total_ml, "total_ml", 0.0)
        if abs(self.total_ml - sum(self.per_side_ml.values())) > 0.05:
            raise ValueError("total_ml must equal the sum of per_side_ml")
        _finite(self.body_volume_ml, "body_volume_ml", 0.0)
        if not 0.0 <= _finite(self.fill_fraction, "fill_fraction") <= 1.0:
            raise ValueError(f"fill_fraction must be in [0, 1], got {self.fill_fraction}")

    def to_json(self) -> dict:
        return {
            "per_side_ml": {k: _r(v, 1) for k, v in self.per_side_ml.items()},
            "total_ml": _r(self.total_ml, 1),
            "body_volume_ml": _r(self.body_volume_ml, 1),
            "fill_fraction": _r(self.fill_fraction, 3),
            "strength_fill_ml": _r(self.strength_fill_ml, 1),
            "stiffness_fill_ml": _r(self.stiffness_fill_ml, 1),
            "guidance": list(self.guidance),
        }


@dataclass(frozen=True)
class LeakageFactor:
    name: str
    present: bool
    odds_ratio: float | None
    source: str

    def to_json(self) -> dict:
        return {"name": self.name, "present": bool(self.present),
                "odds_ratio": self.odds_ratio, "source": self.source}


@dataclass
class LeakageRisk:
    """Estimated probability of cement leakage (0..1) and the factors behind it."""

    score: float
    category: str
    factors: list[LeakageFactor]
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= _finite(self.score, "score") <= 1.0:
            raise ValueError(f"leakage score must be a probability, got {self.score}")
        if self.category not in ("low", "moderate", "high"):
            raise ValueError(f"category must be low/moderate/high, got {self.category!r}")

    def to_json(self) -> dict:
        return {"score": _r(self.score, 3), "category": self.category,
                "factors": [f.to_json() for f in self.factors], "notes": list(self.notes)}


@dataclass
class Logistics:
    procedure_minutes: float
    room_minutes: float
    anaesthesia: str
    anaesthesia_reasons: list[str]
    expected_stay: str
    equipment: list[str]

    def __post_init__(self) -> None:
        _finite(self.procedure_minutes, "procedure_minutes", 0.0)
        _finite(self.room_minutes, "room_minutes", 0.0)

    def to_json(self) -> dict:
        return {"procedure_minutes": _r(self.procedure_minutes, 0),
                "room_minutes": _r(self.room_minutes, 0), "anaesthesia": self.anaesthesia,
                "anaesthesia_reasons": list(self.anaesthesia_reasons),
                "expected_stay": self.expected_stay, "equipment": list(self.equipment)}


@dataclass
class LevelPlan:
    level: Level
    recommendation: Recommendation
    reasons: list[str]
    cautions: list[str]
    prerequisites: list[str]
    trajectories: list[Trajectory] = field(default_factory=list)
    alternative_trajectories: list[Trajectory] = field(default_factory=list)
    balloon: BalloonPlan | None = None
    cement: CementPlan | None = None
    leakage_risk: LeakageRisk | None = None
    logistics: Logistics | None = None
    findings: dict[str, float | bool | str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.level = Level.parse(self.level)
        self.recommendation = Recommendation(self.recommendation)
        if not self.reasons:
            raise ValueError(f"{self.level.display}: a recommendation needs a reason")
        if self.recommendation is Recommendation.BALLOON_KYPHOPLASTY and self.balloon is None:
            raise ValueError(f"{self.level.display}: kyphoplasty recommended without a balloon")

    def to_json(self) -> dict:
        return {
            "level": self.level.display,
            "recommendation": str(self.recommendation),
            "reasons": list(self.reasons),
            "cautions": list(self.cautions),
            "prerequisites": list(self.prerequisites),
            "trajectories": [t.to_json() for t in self.trajectories],
            "alternative_trajectories": [t.to_json() for t in self.alternative_trajectories],
            "balloon": None if self.balloon is None else self.balloon.to_json(),
            "cement": None if self.cement is None else self.cement.to_json(),
            "leakage_risk": None if self.leakage_risk is None else self.leakage_risk.to_json(),
            "logistics": None if self.logistics is None else self.logistics.to_json(),
            "findings": dict(self.findings),
        }


@dataclass
class ProcedurePlan:
    levels: list[LevelPlan]
    session: Logistics | None
    method: str
    assumptions: list[str]
    disclaimer: str = DISCLAIMER
    notes: list[str] = field(default_factory=list)

    def level(self, name: Level | int | str) -> LevelPlan:
        lv = Level.parse(name)
        for p in self.levels:
            if p.level is lv:
                return p
        raise KeyError(f"{lv.display} is not in this plan")

    def to_json(self) -> dict:
        return {
            "levels": [p.to_json() for p in self.levels],
            "session": None if self.session is None else self.session.to_json(),
            "method": self.method,
            "assumptions": list(self.assumptions),
            "disclaimer": self.disclaimer,
            "notes": list(self.notes),
        }
