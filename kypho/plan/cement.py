"""Planned cement volume and cement-leakage risk for one level (DOMAIN.md §5.2, §5.3)."""

from __future__ import annotations

import numpy as np

from kypho.model import BalloonPlan, CementPlan, LeakageFactor, LeakageRisk

__all__ = ["leakage_risk", "plan_cement"]

#: Cement beyond the balloon cavity that interdigitates with the surrounding trabeculae.
#: FREE reports inflation volume ~ cement volume (DOMAIN.md §5.2), so this is small.
#: ASSUMPTION: +10 %.
INTERDIGITATION_FRACTION = 0.10
#: Fill of the body volume that restores strength / stiffness (cadaver study, §5.2).
STRENGTH_FILL_FRACTION = 0.162
STIFFNESS_FILL_FRACTION = 0.298
#: FREE: ~2.4 mL per side (§5.2); SWISSspine: >= 4.5 mL per level gave better pain
#: relief (§5.2).
FREE_PER_SIDE_ML = 2.4
SWISSSPINE_MIN_TOTAL_ML = 4.5
#: Baseline leakage after kyphoplasty / vertebroplasty (meta-analysis, §5.3).
BASELINE_LEAK_KP = 0.184
BASELINE_LEAK_VP = 0.547
#: Odds ratios (§5.3, World Neurosurg 2017 meta-analysis).
OR_CORTICAL_DISRUPTION = 5.56
OR_CLEFT = 1.40
OR_LOW_VISCOSITY = 3.32
#: Category cut-offs on the estimated probability. ASSUMPTION: "low" below the
#: kyphoplasty baseline rounded up (25 %), "high" at or above 50 %.
MODERATE_FROM = 0.25
HIGH_FROM = 0.50


def plan_cement(balloon: BalloonPlan, body_volume_ml: float) -> CementPlan:
    """Cement per side = balloon cavity x (1 + interdigitation); compared with fill targets."""
    per_side = {
        p.side: round(p.inflation_volume_ml * (1.0 + INTERDIGITATION_FRACTION), 2)
        for p in balloon.placements
    }
    total = round(sum(per_side.values()), 2)
    fill = total / body_volume_ml if body_volume_ml > 0 else 0.0
    strength_ml = STRENGTH_FILL_FRACTION * body_volume_ml
    stiffness_ml = STIFFNESS_FILL_FRACTION * body_volume_ml
    guidance = [
        f"Planned {total:.1f} mL = {100 * fill:.0f} % of the body volume "
        f"({body_volume_ml:.1f} mL). Cadaver data: 16.2 % ({strength_ml:.1f} mL) restores "
        f"strength, 29.8 % ({stiffness_ml:.1f} mL) stiffness (DOMAIN.md §5.2).",
        f"Typical: ~{FREE_PER_SIDE_ML} mL per side, about the balloon inflation volume "
        "(FREE, §5.2); SWISSspine: >= 4.5 mL per level associated with better pain relief.",
        "Fill the cavity under lateral fluoroscopy with high-viscosity cement; stop at the "
        "posterior quarter of the body or at the first sign of extravasation.",
    ]
    if total < SWISSSPINE_MIN_TOTAL_ML:
        guidance.append(
            f"Planned total is below the 4.5 mL SWISSspine threshold: consider a larger "
            f"fill if the cavity and leakage risk allow (up to ~{strength_ml:.1f} mL)."
        )
    return CementPlan(
        per_side_ml=per_side,
        total_ml=total,
        body_volume_ml=float(body_volume_ml),
        fill_fraction=float(min(fill, 1.0)),
        strength_fill_ml=float(strength_ml),
        stiffness_fill_ml=float(stiffness_ml),
        guidance=guidance,
    )


def leakage_risk(*, cortical_disruption: bool, cleft: bool, planned_total_ml: float | None,
                 vertebroplasty: bool = False) -> LeakageRisk:
    """Leakage probability from the published baseline and odds ratios (DOMAIN.md §5.3).

    The odds ratios are combined multiplicatively, as if independent (an ASSUMPTION: the
    meta-analysis reports them one at a time). Low-viscosity cement is listed but not
    applied because the plan prescribes high-viscosity cement.
    """
    base = BASELINE_LEAK_VP if vertebroplasty else BASELINE_LEAK_KP
    factors = [
        LeakageFactor("cortical disruption / posterior wall involvement", cortical_disruption,
                      OR_CORTICAL_DISRUPTION, "DOMAIN.md §5.3 (OR 5.56)"),
        LeakageFactor("intravertebral cleft", cleft, OR_CLEFT, "DOMAIN.md §5.3 (OR 1.40)"),
        LeakageFactor("low-viscosity cement (plan uses high viscosity)", False,
                      OR_LOW_VISCOSITY, "DOMAIN.md §5.3 (OR 3.32)"),
    ]
    odds = base / (1.0 - base)
    for f in factors:
        if f.present and f.odds_ratio is not None:
            odds *= f.odds_ratio
    p = float(odds / (1.0 + odds))
    notes = [
        f"Baseline {100 * base:.1f} % leakage for "
        f"{'vertebroplasty' if vertebroplasty else 'kyphoplasty'} "
        "(meta-analysis, DOMAIN.md §5.3); CT detects more (KAVIAR 73 % KP), mostly asymptomatic.",
        "Odds ratios combined as if independent (assumption).",
    ]
    if planned_total_ml is not None and planned_total_ml > 2 * FREE_PER_SIDE_ML:
        factors.append(LeakageFactor("cement volume above typical", True, None,
                                     "DOMAIN.md §5.3 (leaking levels +0.59 mL on average)"))
        notes.append("Planned volume above the typical 2 x 2.4 mL: larger volumes leak more.")
    category = "high" if p >= HIGH_FROM else "moderate" if p >= MODERATE_FROM else "low"
    return LeakageRisk(score=float(np.clip(p, 0.0, 1.0)), category=category, factors=factors,
                       notes=notes)
