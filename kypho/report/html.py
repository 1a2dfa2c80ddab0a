"""The self-contained HTML report (images embedded as base64 PNG), from the typed results.

The report reads the records of :class:`kypho.model.Results` (what
:func:`kypho.results.analysis_results` builds and :func:`kypho.model.load_results` reads
back), not the JSON document: numbers are rounded once, for display.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import jinja2

from kypho.anatomy.levels import Level
from kypho.model.codec import Num
from kypho.model.units import KPA_PER_ATM, KPA_PER_PSI

if TYPE_CHECKING:
    from kypho.model import Results, SpineMeasurement

__all__ = ["render_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kypho.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["basename"] = lambda p: PurePath(str(p)).name


def _name(value: Any) -> str:
    """A level, enum or plain value as the report writes it ("T12", "wedge", "2")."""
    if isinstance(value, Level):
        return value.display
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


_ENV.filters["name"] = _name
_ENV.filters["rounded"] = lambda values, ndigits: [round(float(v), ndigits) for v in values]


def _fmt(value: Any, ndigits: int = 1, unit: str = "", kept: int | None = None) -> str:
    """A number for display; `kept` rounds it first to the decimals results.json keeps,
    so the page and results.json never disagree by a rounding step."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value) if kept is None else round(float(value), kept)
    return f"{v:.{ndigits}f}{unit}"


def _vec(value: Any, kept: int | None = None) -> str:
    return "–" if value is None else ", ".join(_fmt(v, 1, kept=kept) for v in value)


def _percent(fraction: Any) -> float | None:
    """A fraction as the percent results.json writes (4 decimals, then x 100, 1 decimal)."""
    return None if fraction is None else Num(1, scale=100.0, pre=4).encode(fraction)


def _pressure(kpa: float) -> dict[str, float]:
    """A balloon pressure in kPa, psi and atm; psi and atm from the kPa shown (whole kPa)."""
    shown = round(float(kpa), 0)
    return {"kpa": shown, "psi": shown / KPA_PER_PSI, "atm": shown / KPA_PER_ATM}


def _density_card(spine: SpineMeasurement) -> dict[str, Any] | None:
    """The spine's density summary (reference level chosen by the measurement stage)."""
    if spine.density_reference_hu is None and spine.lumbar_bmd_mg_cm3 is None:
        return None
    cls = spine.density_class_hu or spine.density_class_bmd
    return {
        "level": spine.density_reference_level or "lumbar",
        "hu": spine.density_reference_hu,
        "bmd": spine.lumbar_bmd_mg_cm3,
        "cls": _name(cls) if cls is not None else "–",
    }


def _simulation_context() -> dict[str, Any]:
    """Fixed texts and thresholds the simulation section states (from the simulation stage)."""
    from kypho.model.simulation_layout import THRESHOLDS_NOTE
    from kypho.simulate.cement import (
        INTERDIGITATION_MM,
        STIFFNESS_FILL_FRACTION,
        STRENGTH_FILL_FRACTION,
    )
    from kypho.simulate.records import YIELD_CRITERION, fragility

    return {
        "thresholds_note": THRESHOLDS_NOTE,
        "yield_criterion": YIELD_CRITERION,
        "fragility": fragility,
        "interdigitation_mm": INTERDIGITATION_MM,
        "strength_fill": STRENGTH_FILL_FRACTION,
        "stiffness_fill": STIFFNESS_FILL_FRACTION,
    }


def render_report(results: Results, figures: dict[str, bytes]) -> str:
    """Render the report page of one study.

    Parameters
    ----------
    results : Results
        The study's typed results; ``results.spine`` must be set.
    figures : dict of str to bytes
        PNG figures by name (:func:`kypho.report.figure_jobs.render_all_figures`).

    Returns
    -------
    str
        The self-contained HTML page.
    """
    if results.spine is None:
        raise ValueError("render_report needs measured results (results.spine is None)")
    encoded = {k: base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    plan_levels = [] if results.plan is None else [p.level.display for p in results.plan.levels]
    plan_figures = {lv: sorted(k for k in encoded if k.startswith(f"plan_{lv}_"))
                    for lv in plan_levels}
    sim_levels = [] if results.simulation is None else [s.level for s in results.simulation.levels]
    sim_figures = {lv: sorted(k for k in encoded if k.startswith(f"sim_{lv}_"))
                   for lv in sim_levels}
    spine = results.spine
    return _ENV.get_template("report.html.j2").render(
        r=results,
        spine=spine,
        worst_grade=max((int(v.genant_grade) for v in spine.fractures), default=0),
        figures=encoded,
        plan_figures=plan_figures,
        sim_figures=sim_figures,
        sim=_simulation_context() if results.simulation is not None else None,
        density=_density_card(spine),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fmt=_fmt,
        vec=_vec,
        percent=_percent,
        rnd=round,
        pressure=_pressure,
    )
