"""Cohort statistics: change from baseline with 95 % CIs, paired tests, responder rates.

Pure functions over plain records ``(patient, timepoint, instrument, score)``; the query
that builds them lives in :mod:`kypho.registry.cohort`. Trial reference values for the
comparison lines are from DOMAIN.md §6.1.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from kypho.registry.instruments import TIMEPOINT_DAYS, is_responder

__all__ = [
    "EVOLVE_BASELINE",
    "EVOLVE_CHANGE",
    "FREE_DIFFERENCE",
    "Change",
    "change_from_baseline",
    "new_fracture_rate",
    "wilson_ci",
]

# EVOLVE (Beall 2019, Neurosurgery 84:169; DOMAIN.md §6.1): single-arm BKP, mean change
# from baseline. The EQ-5D version and value set are not given in DOMAIN.md; compare the
# registry's US 5L index with that caution.
EVOLVE_BASELINE = {"nrs": 8.7, "odi": 63.4, "eq5d5l_us": 0.383}
EVOLVE_CHANGE = {
    "nrs": {"d7": -5.2, "m1": -5.4, "m3": -6.0, "m6": -6.2, "m12": -6.3},
    "odi": {"m1": -30.5, "m3": -35.3, "m6": -36.3, "m12": -36.2},
    "eq5d5l_us": {"m1": 0.316, "m3": 0.351, "m6": 0.356, "m12": 0.358},
}
# FREE (Wardlaw 2009, Lancet 373:1016; DOMAIN.md §6.1) reports BKP minus non-surgical care,
# a between-group difference, not a change from baseline: shown as text, not as a line.
FREE_DIFFERENCE = {
    "eq5d5l_us": {"m1": 0.18, "m12": 0.12},
    "rmdq": {"m1": -4.0, "m12": -2.6},
    "nrs": {"m12": -0.9},
}


@dataclass(frozen=True)
class Change:
    """Paired change from baseline at one time point."""

    timepoint: str
    n: int
    mean_baseline: float
    mean_follow_up: float
    mean_change: float
    ci95_low: float
    ci95_high: float
    p_paired_t: float | None
    p_wilcoxon: float | None
    responders: int | None
    responder_rate: float | None
    responder_ci95: tuple[float, float] | None


def wilson_ci(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion k/n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _by_patient(
    records: Iterable[tuple[str, str, str, float]], instrument: str
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for patient, timepoint, inst, value in records:
        if inst == instrument and value is not None:
            out[patient][timepoint] = float(value)
    return out


def change_from_baseline(
    records: Iterable[tuple[str, str, str, float]], instrument: str
) -> list[Change]:
    """Paired change from baseline per follow-up time point (patients with both values)."""
    series = _by_patient(records, instrument)
    result = []
    for tp in sorted(TIMEPOINT_DAYS, key=TIMEPOINT_DAYS.get):
        if tp == "baseline":
            continue
        pairs = [(v["baseline"], v[tp]) for v in series.values() if "baseline" in v and tp in v]
        if not pairs:
            continue
        base = np.array([b for b, _ in pairs])
        follow = np.array([f for _, f in pairs])
        diff = follow - base
        n = len(diff)
        mean = float(diff.mean())
        if n > 1 and diff.std(ddof=1) > 0:
            sem = float(diff.std(ddof=1)) / math.sqrt(n)
            half = float(stats.t.ppf(0.975, n - 1)) * sem
            p_t = float(stats.ttest_rel(follow, base).pvalue)
            p_w = float(stats.wilcoxon(follow, base).pvalue) if np.any(diff != 0) else None
        else:
            half, p_t, p_w = (0.0 if n > 1 else math.nan), None, None
        flags = [is_responder(instrument, b, f) for b, f in pairs]
        if flags and flags[0] is not None:
            k = sum(bool(x) for x in flags)
            resp, rate, rci = k, k / n, wilson_ci(k, n)
        else:
            resp, rate, rci = None, None, None
        result.append(
            Change(
                tp,
                n,
                float(base.mean()),
                float(follow.mean()),
                mean,
                mean - half,
                mean + half,
                p_t,
                p_w,
                resp,
                rate,
                rci,
            )
        )
    return result


def new_fracture_rate(visits: Iterable[tuple[str, str, bool | None]]) -> dict[str, float]:
    """Patients with a new vertebral fracture during follow-up, of those with a visit.

    ``visits`` holds (patient, timepoint, new_fracture); baseline is not follow-up.
    """
    followed: set[str] = set()
    fractured: set[str] = set()
    for patient, tp, new in visits:
        if tp == "baseline" or new is None:
            continue
        followed.add(patient)
        if new:
            fractured.add(patient)
    n, k = len(followed), len(fractured)
    low, high = wilson_ci(k, n)
    return {
        "patients_followed": n,
        "patients_with_new_fracture": k,
        "rate": k / n if n else math.nan,
        "ci95_low": low,
        "ci95_high": high,
    }
