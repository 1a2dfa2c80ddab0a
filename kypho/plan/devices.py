"""Device catalogue for balloon kyphoplasty: cannulas, balloons, pressures, cement kits.

Every number cites DOMAIN.md. Where DOMAIN.md marks a value as a GAP the constant is a
conservative assumption, named ``*_ASSUMED`` or documented as such, and the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from kypho.model.units import KPA_PER_ATM, KPA_PER_PSI

__all__ = [
    "BALLOONS",
    "CANNULA_OUTER_DIAMETER_MM",
    "CEMENT_KIT",
    "KPA_PER_ATM",
    "KPA_PER_PSI",
    "MAX_PLANNED_PRESSURE_KPA_ASSUMED",
    "TYPICAL_PRESSURE_KPA_RANGE",
    "Balloon",
    "cannula_outer_diameter_mm",
]

#: Outer diameter of bone-access cannulas by gauge (DOMAIN.md §5.1: 11 or 13 G access
#: needles). Nominal Stubs/Birmingham wire gauge: 11 G = 3.05 mm, 13 G = 2.41 mm;
#: 10 G and 8 G are listed for larger working cannulas.
CANNULA_OUTER_DIAMETER_MM: dict[int, float] = {8: 4.19, 10: 3.40, 11: 3.05, 13: 2.41}


def cannula_outer_diameter_mm(gauge: int) -> float:
    """Outer diameter (mm) of a cannula of the given gauge.

    Raises
    ------
    ValueError
        For a gauge not in :data:`CANNULA_OUTER_DIAMETER_MM`.
    """
    try:
        return CANNULA_OUTER_DIAMETER_MM[int(gauge)]
    except (KeyError, ValueError):
        raise ValueError(
            f"cannula gauge must be one of {sorted(CANNULA_OUTER_DIAMETER_MM)}, got {gauge!r}"
        ) from None


@dataclass(frozen=True)
class Balloon:
    """An inflatable bone tamp (IBT).

    ``length_mm`` / ``max_fill_ml`` follow the "15/3" naming of the Kyphon Xpander IBT
    (DOMAIN.md §5.1). That the second number is the maximum fill volume in mL is the
    usual reading but is **not** stated in the retrieved IFU (a GAP): it is used here as
    an assumed ceiling, never exceeded by a plan.
    """

    name: str
    length_mm: float
    max_fill_ml: float
    colour_band: str


#: Xpander IBT sizes 10/3, 15/3, 20/3 with their colour bands (DOMAIN.md §5.1).
BALLOONS: tuple[Balloon, ...] = (
    Balloon("Kyphon Xpander IBT 10/3", 10.0, 3.0, "yellow"),
    Balloon("Kyphon Xpander IBT 15/3", 15.0, 3.0, "black"),
    Balloon("Kyphon Xpander IBT 20/3", 20.0, 3.0, "clear/white"),
)

#: Pressures measured during balloon inflation in cadaver vertebrae: 122.7 +/- 27.9 psi
#: (2.95 mL) to 175 +/- 37 psi (DOMAIN.md §9 rows 1-2). Used as the expected working
#: range.
TYPICAL_PRESSURE_KPA_RANGE: tuple[float, float] = (123.0 * KPA_PER_PSI, 175.0 * KPA_PER_PSI)

#: Ceiling for the plan. The Kyphon maximum inflation pressure is a GAP (DOMAIN.md §5.1,
#: §10.5: do not hard-code "700 psi"); the only primary number is a generic balloon's
#: acceptance criterion "constrained burst >= 400 psi" (K223709, §9). ASSUMPTION: plan
#: to stop at 300 psi (75 % of that minimum burst pressure), above the 175 psi seen in
#: cadavers, and defer to the device IFU in the room.
MAX_PLANNED_PRESSURE_KPA_ASSUMED = 300.0 * KPA_PER_PSI

#: Cement: high-viscosity PMMA lowers leakage (RR 0.38, DOMAIN.md §5.3); low viscosity
#: carries OR 3.32 for leakage (§5.3).
CEMENT_KIT = "high-viscosity PMMA bone cement kit with bone filler devices"
