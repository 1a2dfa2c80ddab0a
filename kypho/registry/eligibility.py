"""Coverage checklist (DOMAIN.md §11.1) and procedure logistics and codes from the plan.

The criteria come from third-party summaries of the Medicare LCDs (the LCD body text is a
GAP, §11.6), so every item says "check against the current LCD text". Each item is met,
not met, unknown (a clinical field not yet recorded) or a caution; the checklist never
decides coverage, it shows what is documented and what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CheckItem", "checklist", "cpt_codes", "logistics"]

LCD_NOTE = "third-party LCD summary (DOMAIN.md §11.1): check against the current LCD text"

# DOMAIN.md §11.1 1b/1c thresholds.
PAIN_HOSPITALISED = 8  # I-3: NRS/VAS >= 8 when hospitalised
PAIN_OUTPATIENT = 5  # I-4: NRS/VAS >= 5 despite optimal NSM
HEIGHT_LOSS_PCT = 25.0  # I-5: vertebral height loss > 25 %
RDQ_THRESHOLD = 17  # I-5: RDQ > 17
MAX_LEVELS = 3  # limit: more than 3 levels in one procedure
THORACIC_REVIEW = {"T1", "T2", "T3", "T4"}  # I-2: may trigger focused medical review
TREATABLE = {f"T{i}" for i in range(1, 13)} | {f"L{i}" for i in range(1, 6)}

# CPT (DOMAIN.md §11.1 1e): 22513 thoracic, 22514 lumbar, 22515 each additional body.
CPT_THORACIC, CPT_LUMBAR, CPT_ADDITIONAL = "22513", "22514", "22515"


@dataclass(frozen=True)
class CheckItem:
    """One line of the checklist."""

    code: str
    label: str
    status: str  # "met", "not_met", "unknown", "caution"
    detail: str
    source: str = LCD_NOTE


def _flag(value: bool | None, good: bool) -> str:
    if value is None:
        return "unknown"
    return "met" if value is good else "not_met"


def _pain_items(
    clin: Any, pain: float | None, rdq: float | None, losses: list[float], levels: list[str]
) -> list[CheckItem]:
    items = []
    hospitalised = getattr(clin, "hospitalised", None)
    threshold = PAIN_HOSPITALISED if hospitalised else PAIN_OUTPATIENT
    if pain is None:
        items.append(CheckItem("I-3/I-4", "pain score", "unknown", "no baseline NRS/VAS recorded"))
    else:
        route = "hospitalised" if hospitalised else "non-hospitalised, despite optimal NSM"
        status = "met" if pain >= threshold else "not_met"
        items.append(
            CheckItem(
                "I-3/I-4",
                "pain score",
                status,
                f"baseline pain {pain:g}/10; >= {threshold} needed ({route})",
            )
        )
    if not hospitalised:
        nsm = getattr(clin, "nsm_weeks", None)
        detail = (
            "minimum NSM length is a GAP in DOMAIN.md (commercial policies: 4-6 weeks)"
            if nsm is None
            else f"{nsm:g} weeks of non-surgical management recorded"
        )
        items.append(
            CheckItem(
                "I-4a",
                "non-surgical management documented",
                "unknown" if nsm is None else "met",
                detail,
            )
        )
    structural = {
        "height loss > 25 %": any(x > HEIGHT_LOSS_PCT for x in losses) if losses else None,
        "kyphotic deformity": getattr(clin, "kyphotic_deformity", None),
        "RDQ > 17": None if rdq is None else rdq > RDQ_THRESHOLD,
    }
    present = [k for k, v in structural.items() if v]
    unknown = [k for k, v in structural.items() if v is None]
    worsening = getattr(clin, "pain_worsening", None)
    if worsening:
        status, detail = "met", "pain is worsening"
    elif len(present) >= 2 and pain is not None and pain >= PAIN_OUTPATIENT:
        status, detail = "met", f"NRS >= 5 with {', '.join(present)}"
    elif (
        worsening is None
        or (len(present) + len(unknown) >= 2 and pain is None)
        or (len(present) + len(unknown) >= 2 and unknown)
    ):
        status = "unknown"
        detail = f"present: {', '.join(present) or 'none'}; not recorded: {', '.join(unknown)}"
    else:
        status, detail = "not_met", f"present: {', '.join(present) or 'none'} (2 needed)"
    items.append(
        CheckItem("I-5", "worsening pain, or 2 of height loss/kyphosis/RDQ", status, detail)
    )
    outside = [lv for lv in levels if lv not in TREATABLE]
    review = [lv for lv in levels if lv in THORACIC_REVIEW]
    if outside:
        items.append(
            CheckItem(
                "I-2", "treatable levels T1-L5", "not_met", f"outside T1-L5: {', '.join(outside)}"
            )
        )
    elif review:
        items.append(
            CheckItem(
                "I-2",
                "treatable levels T1-L5",
                "caution",
                f"{', '.join(review)}: T1-T4 may trigger focused medical review",
            )
        )
    elif levels:
        items.append(CheckItem("I-2", "treatable levels T1-L5", "met", ", ".join(levels)))
    return items


def _contraindication_items(
    c: Any, levels: list[str], plan_cautions: list[str] | None
) -> list[CheckItem]:
    """Limitations and contraindications (§11.1 1c)."""
    items: list[CheckItem] = []
    absolute = [
        ("pain not caused by the fracture", getattr(c, "pain_caused_by_fracture", None), True),
        ("active infection", getattr(c, "infection", None), False),
        ("pregnancy", getattr(c, "pregnancy", None), False),
    ]
    for label, value, good in absolute:
        items.append(CheckItem("1c", f"absolute: {label}", _flag(value, good), "contraindication"))
    relative = [
        ("allergy to cement or contrast", getattr(c, "cement_or_contrast_allergy", None)),
        ("uncorrected coagulopathy", getattr(c, "coagulopathy", None)),
        ("instability or neurological deficit", getattr(c, "instability_or_neuro_deficit", None)),
    ]
    for label, value in relative:
        status = "unknown" if value is None else ("caution" if value else "met")
        items.append(CheckItem("1c", f"relative: {label}", status, "relative contraindication"))
    retro = [t for t in plan_cautions or [] if "retropulsion" in t.lower()]
    if retro:
        items.append(CheckItem("1c", "relative: fracture retropulsion", "caution", retro[0]))
    items.append(
        CheckItem(
            "1c",
            f"at most {MAX_LEVELS} levels in one procedure",
            "met" if len(levels) <= MAX_LEVELS else "not_met",
            f"{len(levels)} level(s)",
        )
    )
    return items


def checklist(
    fractures: list[tuple[str, int]],
    height_losses_pct: list[float],
    clinical: Any | None,
    baseline_pain: float | None,
    baseline_rdq: float | None,
    treated_levels: list[str],
    plan_cautions: list[str] | None = None,
) -> list[CheckItem]:
    """The §11.1 checklist of one patient.

    Parameters
    ----------
    fractures : (level, grade) of each fracture after corrections.
    height_losses_pct : the largest height loss of each fractured vertebra.
    clinical : the patient's :class:`~kypho.registry.models.Eligibility` row, or None.
    baseline_pain : NRS 0-10 (or VAS / 10) at baseline.
    baseline_rdq : RMDQ at baseline.
    treated_levels : levels chosen for treatment (else the fractured levels are used).
    plan_cautions : caution sentences of the plan (retropulsion is a relative
        contraindication in the L38201 summary).
    """
    c = clinical
    items = [
        CheckItem(
            "I-1",
            "fracture documented by imaging",
            "met" if fractures else "not_met",
            ", ".join(f"{lv} grade {g}" for lv, g in fractures) or "no fracture graded",
        ),
        CheckItem(
            "I-1",
            "acute or subacute (MRI oedema, bone scan or SPECT/CT)",
            _flag(getattr(c, "acuity_confirmed", None), True),
            "CT cannot date a fracture; acute/subacute cut-offs are a GAP (§11.6)",
        ),
    ]
    levels = treated_levels or [lv for lv, _g in fractures]
    items += _pain_items(c, baseline_pain, baseline_rdq, height_losses_pct, levels)
    care = [getattr(c, "bmd_referral", None), getattr(c, "osteoporosis_education", None)]
    items.append(
        CheckItem(
            "I-6",
            "BMD referral and osteoporosis education",
            "unknown" if None in care else ("met" if all(care) else "not_met"),
            "continuum of care",
        )
    )
    if getattr(c, "malignant", None):
        items.append(
            CheckItem(
                "I-7",
                "oncologic confirmation (malignant fracture)",
                _flag(getattr(c, "oncologic_confirmation", None), True),
                "myeloma or osteolytic metastasis with intractable pain",
            )
        )
    items += _contraindication_items(c, levels, plan_cautions)
    return items


def cpt_codes(levels: list[str]) -> list[str]:
    """CPT codes of a kyphoplasty of ``levels``: the first body by region, add-ons after."""
    if not levels:
        return []
    first = CPT_LUMBAR if levels[0].startswith("L") else CPT_THORACIC
    return [first] + [CPT_ADDITIONAL] * (len(levels) - 1)


def logistics(plan_session: dict[str, Any] | None, planned: list[Any]) -> dict[str, Any]:
    """Procedure logistics for the chosen levels, from the plan's per-level logistics."""
    chosen = [p for p in planned if p.treat and p.deleted_at is None]
    minutes = sum(p.procedure_minutes or 0.0 for p in chosen)
    return {
        "levels": [p.level for p in chosen],
        "procedure_minutes": minutes,
        "anaesthesia": sorted({p.anaesthesia for p in chosen if p.anaesthesia}),
        "expected_stay": (plan_session or {}).get("expected_stay"),
        "plan_room_minutes": (plan_session or {}).get("room_minutes"),
        "cpt": cpt_codes([p.level for p in chosen]),
    }
