"""Compatibility alias: the plan records live in :mod:`kypho.model.plan`."""

from kypho.model.plan import (
    DISCLAIMER,
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

__all__ = [
    "DISCLAIMER",
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
