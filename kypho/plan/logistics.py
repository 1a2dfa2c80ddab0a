"""Procedure time, anaesthesia, stay and equipment (DOMAIN.md §5.1, §5.6, §11.1)."""

from __future__ import annotations

from kypho.anatomy.levels import Level
from kypho.model import Logistics
from kypho.plan.devices import CEMENT_KIT, cannula_outer_diameter_mm

__all__ = ["level_logistics", "session_logistics"]

#: Skin-to-skin procedure time per level (KAVIAR: KP 40.0 min, VP 31.8 min, §5.6).
KP_MINUTES = 40.0
VP_MINUTES = 31.8
#: Room time per level including positioning and imaging (~1 hour, brief/technique).
ROOM_MINUTES_PER_LEVEL = 60.0
#: More levels than this in one session exceeds the LCD limit (§11.1 1c).
MAX_LEVELS_PER_SESSION = 3
#: Upper thoracic levels (T1-T6): narrow pedicles (DOMAIN.md §7.1) and harder
#: fluoroscopy; with many levels, general anaesthesia is often chosen. ASSUMPTION.
UPPER_THORACIC_LAST = Level.T6

PATIENT_FACTORS = (
    "confirm the patient can lie prone for the whole procedure (pain, respiratory reserve: "
    "pulmonary dysfunction is a listed factor, DOMAIN.md §11.1 1f)",
    "cognition/cooperation, airway and cardiopulmonary risk for sedation",
    "anticoagulant/antiplatelet management and coagulation tests (§5.6, §11.1 1c)",
)


def level_logistics(level: Level, kyphoplasty: bool, gauge: int, balloon_device: str | None,
                    sides: int, biopsy: bool) -> Logistics:
    """Equipment and time for one level."""
    od = cannula_outer_diameter_mm(gauge)
    equipment = [
        f"{sides} x {gauge} G bone access cannula (outer diameter {od:.2f} mm, DOMAIN.md §5.1)",
        "biplanar fluoroscopy or C-arm (10-25 deg ipsilateral obliquity, §5.1)",
        CEMENT_KIT,
        "cefazolin 1 g prophylaxis (§5.1)",
    ]
    if kyphoplasty and balloon_device:
        equipment[1:1] = [
            f"{sides} x {balloon_device} with inflation syringe and manometer",
            f"{sides} x hand drill / bone access drill",
        ]
    if biopsy:
        equipment.append("bone biopsy needle (biopsy at the same sitting)")
    minutes = KP_MINUTES if kyphoplasty else VP_MINUTES
    anaesthesia, reasons = _anaesthesia([level])
    return Logistics(
        procedure_minutes=minutes,
        room_minutes=ROOM_MINUTES_PER_LEVEL,
        anaesthesia=anaesthesia,
        anaesthesia_reasons=reasons,
        expected_stay=_stay(1, anaesthesia),
        equipment=equipment,
    )


def _anaesthesia(levels: list[Level]) -> tuple[str, list[str]]:
    reasons = []
    upper = [lv.display for lv in levels if lv.region == "thoracic" and lv <= UPPER_THORACIC_LAST]
    if len(levels) >= MAX_LEVELS_PER_SESSION:
        reasons.append(f"{len(levels)} levels: long prone time favours general anaesthesia")
    if upper:
        reasons.append(f"upper thoracic level(s) {', '.join(upper)}: general anaesthesia often "
                       "preferred")
    kind = "general" if reasons else "local with conscious sedation (general if not tolerated)"
    return kind, reasons + list(PATIENT_FACTORS)


def _stay(n_levels: int, anaesthesia: str) -> str:
    if n_levels == 1 and not anaesthesia.startswith("general"):
        return "day case, or one night if pain control or mobilisation is slow"
    return "overnight stay expected"


def session_logistics(level_plans: list[tuple[Level, Logistics]]) -> Logistics | None:
    """Totals for all treated levels in one session."""
    if not level_plans:
        return None
    levels = [lv for lv, _ in level_plans]
    anaesthesia, reasons = _anaesthesia(levels)
    if len(levels) > MAX_LEVELS_PER_SESSION:
        reasons.insert(0, f"{len(levels)} levels exceed the {MAX_LEVELS_PER_SESSION}-level "
                       "limit per procedure (DOMAIN.md §11.1 1c): stage the treatment")
    equipment: list[str] = []
    for _, lg in level_plans:
        equipment.extend(e for e in lg.equipment if e not in equipment)
    return Logistics(
        procedure_minutes=sum(lg.procedure_minutes for _, lg in level_plans),
        room_minutes=sum(lg.room_minutes for _, lg in level_plans),
        anaesthesia=anaesthesia,
        anaesthesia_reasons=reasons,
        expected_stay=_stay(len(levels), anaesthesia),
        equipment=equipment,
    )
