"""Cohort figures: mean change with 95 % CI over time, one line per patient, trial lines."""

from __future__ import annotations

import io
from collections.abc import Iterable

from matplotlib.figure import Figure

from kypho.registry.analytics import (
    EVOLVE_CHANGE,
    FREE_DIFFERENCE,
    change_from_baseline,
)
from kypho.registry.instruments import TIMEPOINT_DAYS

__all__ = ["TITLES", "change_figure"]

TITLES = {
    "nrs": "NRS pain (0-10)",
    "vas": "VAS pain (mm)",
    "odi": "ODI (%)",
    "rmdq": "RMDQ (0-24)",
    "eq5d5l_us": "EQ-5D-5L index (US)",
    "eq5d5l_england": "EQ-5D-5L index (England)",
    "eq_vas": "EQ VAS",
    "tug": "Timed Up and Go (s)",
    "bed_rest_days": "bed-rest days",
    "restricted_days": "restricted-activity days",
}


def change_figure(records: Iterable[tuple[str, str, str, float]], instrument: str) -> bytes:
    """PNG: each patient's change from baseline, the cohort mean with its 95 % CI, EVOLVE."""
    records = list(records)
    per_patient: dict[str, dict[str, float]] = {}
    for patient, tp, inst, value in records:
        if inst == instrument:
            per_patient.setdefault(patient, {})[tp] = value
    # Figure without pyplot: no global state, safe in the web server's threads.
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.subplots()
    for series in per_patient.values():
        if "baseline" not in series:
            continue
        tps = sorted(series, key=TIMEPOINT_DAYS.get)
        ax.plot(
            [TIMEPOINT_DAYS[t] for t in tps],
            [series[t] - series["baseline"] for t in tps],
            color="0.75",
            lw=0.8,
        )
    changes = change_from_baseline(records, instrument)
    if changes:
        x = [0] + [TIMEPOINT_DAYS[c.timepoint] for c in changes]
        y = [0.0] + [c.mean_change for c in changes]
        ax.plot(x, y, "o-", color="C0", lw=2, label="registry mean")
        ax.fill_between(
            x,
            [0.0] + [c.ci95_low for c in changes],
            [0.0] + [c.ci95_high for c in changes],
            color="C0",
            alpha=0.2,
            label="95 % CI",
        )
    if instrument in EVOLVE_CHANGE:
        ref = EVOLVE_CHANGE[instrument]
        ax.plot(
            [0] + [TIMEPOINT_DAYS[t] for t in ref],
            [0.0, *ref.values()],
            "s--",
            color="C3",
            label="EVOLVE (Beall 2019)",
        )
    if instrument in FREE_DIFFERENCE:
        text = ", ".join(f"{t}: {v:+g}" for t, v in FREE_DIFFERENCE[instrument].items())
        ax.text(
            0.01,
            0.01,
            f"FREE, BKP minus non-surgical care: {text}",
            transform=ax.transAxes,
            fontsize=7,
            color="C2",
        )
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("days after procedure (nominal time point)")
    ax.set_ylabel(f"change from baseline: {TITLES.get(instrument, instrument)}")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
