"""Balloon kyphoplasty planning per fractured level: candidacy, trajectories, balloon,
cement, leakage risk and logistics. Pure functions; see :func:`plan_levels`.
"""

from kypho.model import ProcedurePlan, Recommendation
from kypho.plan.plan import plan_levels

__all__ = ["ProcedurePlan", "Recommendation", "plan_levels"]
