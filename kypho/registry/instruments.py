"""Outcome instruments and their scoring (DOMAIN.md §11.2), time points and MCIDs (§6.2).

Each ``score_*`` function takes the raw answers and returns a :class:`Score`: the value,
whether it is valid, and why not. Answers outside an instrument's range raise
:class:`InvalidResponseError`; an incomplete form is scored by the instrument's rule where
one exists, otherwise marked invalid. Item texts are not reproduced (licences, §11.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kypho.registry.errors import InvalidResponseError

__all__ = [
    "EQ5D5L_DECREMENTS",
    "MCID",
    "ODI_MAX_MISSING_SECTIONS",
    "TIMEPOINT_DAYS",
    "TUG_FALL_RISK_S",
    "Instrument",
    "Score",
    "Timepoint",
    "improvement",
    "is_responder",
    "score",
]


class Timepoint(StrEnum):
    """Registry time points: EVOLVE's schedule (DOMAIN.md §11.3) plus baseline."""

    BASELINE = "baseline"
    D7 = "d7"
    M1 = "m1"
    M3 = "m3"
    M6 = "m6"
    M12 = "m12"


# Nominal days after the procedure, for plotting and for ordering.
TIMEPOINT_DAYS = {"baseline": 0, "d7": 7, "m1": 30, "m3": 91, "m6": 182, "m12": 365}


class Instrument(StrEnum):
    """Instruments the registry records."""

    NRS = "nrs"  # pain 0-10
    VAS = "vas"  # pain 0-100 mm
    ODI = "odi"  # Oswestry 0-100 %
    RMDQ = "rmdq"  # Roland-Morris 0-24
    EQ5D5L_US = "eq5d5l_us"  # index, US value set
    EQ5D5L_ENGLAND = "eq5d5l_england"  # index, England value set
    EQ_VAS = "eq_vas"  # EQ VAS 0-100
    BED_REST_DAYS = "bed_rest_days"
    RESTRICTED_DAYS = "restricted_days"
    TUG = "tug"  # seconds
    ANALGESICS = "analgesics"
    AMBULATION = "ambulation"


@dataclass(frozen=True)
class Score:
    """A scored instrument: ``value`` is None when the form is invalid."""

    value: float | None
    valid: bool
    reason: str | None = None


# ODI: DOMAIN.md §11.2 gives the rule for unanswered sections (each lowers the
# denominator by 5) but not how many may be missing (GAP, §11.6 item 3). kypho's
# assumption: more than 2 of the 10 sections missing makes the form invalid.
ODI_MAX_MISSING_SECTIONS = 2
ODI_SECTIONS = 10
RMDQ_ITEMS = 24

# EQ-5D-5L decrements per dimension (MO, SC, UA, PD, AD) for levels 1-5; index = 1 - sum.
# DOMAIN.md §11.2 table 2c: US = Pickard 2019 (doi 10.1016/j.jval.2019.02.009), England =
# Devlin 2018 (doi 10.1002/hec.3564), both read from fragla/eq5d data-raw/VT.csv.
EQ5D5L_DECREMENTS: dict[str, tuple[tuple[float, ...], ...]] = {
    "us": (
        (0.0, 0.096, 0.122, 0.237, 0.322),
        (0.0, 0.089, 0.107, 0.220, 0.261),
        (0.0, 0.068, 0.101, 0.255, 0.255),
        (0.0, 0.060, 0.098, 0.318, 0.414),
        (0.0, 0.057, 0.123, 0.299, 0.321),
    ),
    "england": (
        (0.0, 0.058, 0.076, 0.207, 0.274),
        (0.0, 0.050, 0.080, 0.164, 0.203),
        (0.0, 0.050, 0.063, 0.162, 0.184),
        (0.0, 0.063, 0.084, 0.276, 0.335),
        (0.0, 0.078, 0.104, 0.285, 0.289),
    ),
}

# Timed Up and Go: >= 12 s = at risk of falling (CDC STEADI, DOMAIN.md §11.2).
TUG_FALL_RISK_S = 12.0

# Closed answer lists kypho defines itself: DOMAIN.md names analgesic use and ambulation
# status as registry outcomes (CAFE, §11.3) without a scale, so these are kypho's own.
ANALGESIC_LEVELS = ("none", "non_opioid", "weak_opioid", "strong_opioid")
AMBULATION_LEVELS = ("independent", "walking_aid", "wheelchair", "bedbound")

# Minimal clinically important improvement (DOMAIN.md §6.2): absolute points and, where
# the consensus gives one, the relative alternative (Ostelo 2008: "or 30 %").
# Sign: +1 when a higher score is better, -1 when lower is better.
MCID: dict[str, tuple[float, float | None, int]] = {
    "nrs": (2.0, 0.30, -1),
    "vas": (15.0, 0.30, -1),
    "odi": (10.0, 0.30, -1),
    "rmdq": (5.0, None, -1),
    "eq5d5l_us": (0.10, None, +1),
    "eq5d5l_england": (0.10, None, +1),
}


def _number(value: Any, low: float, high: float, what: str, integer: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidResponseError(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(x) or x < low or x > high or (integer and x != int(x)):
        kind = "a whole number" if integer else "a number"
        raise InvalidResponseError(
            f"{what} must be {kind} from {low:g} to {high:g}, got {value!r}."
        )
    return x


def score_odi(sections: list[Any]) -> Score:
    """ODI index (%) = sum / (5 x sections answered) x 100; None marks an unanswered section."""
    if not isinstance(sections, list | tuple) or len(sections) != ODI_SECTIONS:
        raise InvalidResponseError(f"ODI needs {ODI_SECTIONS} sections (None if unanswered).")
    answered = [
        _number(v, 0, 5, f"ODI section {i + 1}", integer=True)
        for i, v in enumerate(sections)
        if v is not None
    ]
    missing = ODI_SECTIONS - len(answered)
    if missing > ODI_MAX_MISSING_SECTIONS:
        return Score(
            None,
            False,
            f"{missing} of 10 ODI sections unanswered (more than "
            f"{ODI_MAX_MISSING_SECTIONS} makes the form invalid)",
        )
    return Score(100.0 * sum(answered) / (5 * len(answered)), True)


def score_rmdq(items: list[Any]) -> Score:
    """RMDQ = number of items ticked (0-24); an item marked not applicable (None) is "no"."""
    if not isinstance(items, list | tuple) or len(items) != RMDQ_ITEMS:
        raise InvalidResponseError(f"RMDQ needs {RMDQ_ITEMS} answers (true, false or null).")
    for i, v in enumerate(items):
        if v not in (True, False, None, 0, 1):
            raise InvalidResponseError(f"RMDQ item {i + 1} must be yes/no, got {v!r}.")
    return Score(float(sum(1 for v in items if v)), True)


def eq5d5l_index(state: str, value_set: str) -> float:
    """EQ-5D-5L index of a 5-digit state (e.g. "12345") with the "us" or "england" set."""
    text = str(state).strip()
    if len(text) != 5 or any(c not in "12345" for c in text):
        raise InvalidResponseError(f"EQ-5D-5L state must be 5 digits 1-5, got {state!r}.")
    table = EQ5D5L_DECREMENTS[value_set]
    return 1.0 - sum(table[dim][int(c) - 1] for dim, c in enumerate(text))


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> Score:
    if value not in allowed:
        raise InvalidResponseError(f"{what} must be one of {', '.join(allowed)}, got {value!r}.")
    # Stored as the ordinal (0 = best) so cohorts can summarise it.
    return Score(float(allowed.index(value)), True)


def score(instrument: Instrument | str, answers: Any) -> Score:
    """Score the raw ``answers`` of ``instrument``; None answers give an invalid score."""
    inst = Instrument(instrument)
    if answers is None:
        return Score(None, False, "not answered")
    if inst is Instrument.NRS:
        return Score(_number(answers, 0, 10, "NRS pain", integer=True), True)
    if inst is Instrument.VAS:
        return Score(_number(answers, 0, 100, "VAS pain (mm)"), True)
    if inst is Instrument.EQ_VAS:
        return Score(_number(answers, 0, 100, "EQ VAS", integer=True), True)
    if inst is Instrument.ODI:
        return score_odi(answers)
    if inst is Instrument.RMDQ:
        return score_rmdq(answers)
    if inst in (Instrument.EQ5D5L_US, Instrument.EQ5D5L_ENGLAND):
        return Score(eq5d5l_index(answers, inst.value.split("_")[1]), True)
    if inst in (Instrument.BED_REST_DAYS, Instrument.RESTRICTED_DAYS):
        # Days in the period since the previous time point; a month holds at most 31.
        return Score(_number(answers, 0, 366, inst.value.replace("_", " "), integer=True), True)
    if inst is Instrument.TUG:
        return Score(_number(answers, 1, 600, "Timed Up and Go (s)"), True)
    if inst is Instrument.ANALGESICS:
        return _choice(answers, ANALGESIC_LEVELS, "analgesic use")
    return _choice(answers, AMBULATION_LEVELS, "ambulation")


def improvement(instrument: str, baseline: float, follow_up: float) -> float:
    """Improvement from baseline in the instrument's better direction (positive = better)."""
    sign = MCID[instrument][2]
    return sign * (follow_up - baseline)


def is_responder(instrument: str, baseline: float, follow_up: float) -> bool | None:
    """MCID responder (DOMAIN.md §6.2): absolute MCID reached, or the relative one where given.

    None for instruments without an MCID in DOMAIN.md (TUG, bed days, ...).
    """
    if instrument not in MCID:
        return None
    absolute, relative, _sign = MCID[instrument]
    gain = improvement(instrument, baseline, follow_up)
    # A tiny tolerance: 0.943 - 0.843 is 0.09999999999999998 in binary floating point.
    if gain >= absolute - 1e-9:
        return True
    if relative is not None and baseline > 0:
        return gain / abs(baseline) >= relative - 1e-9
    return False
