"""The self-contained HTML report (images embedded as base64 PNG)."""

from __future__ import annotations

import base64
import datetime as _dt
import math
from pathlib import PurePath
from typing import Any

import jinja2

__all__ = ["render_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kypho.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["basename"] = lambda p: PurePath(str(p)).name


def _fmt(value: Any, ndigits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{ndigits}f}{unit}"


def _vec(value: Any) -> str:
    return "–" if value is None else ", ".join(f"{float(v):.1f}" for v in value)


def _density_card(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The spine's density summary (reference level chosen by the measurement stage)."""
    d = (doc.get("spine") or {}).get("density") or {}
    if d.get("reference_hu") is None and d.get("lumbar_bmd_mg_cm3") is None:
        return None
    return {
        "level": d.get("reference_level") or "lumbar",
        "hu": d.get("reference_hu"),
        "bmd": d.get("lumbar_bmd_mg_cm3"),
        "cls": d.get("class_by_hu") or d.get("class_by_bmd") or "–",
    }


def render_report(doc: dict[str, Any], figures: dict[str, bytes]) -> str:
    """Render the report page from the results document and PNG figures."""
    encoded = {k: base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    plan_figures: dict[str, list[str]] = {}
    for p in (doc.get("plan") or {}).get("levels", []):
        plan_figures[p["level"]] = sorted(k for k in encoded if k.startswith(f"plan_{p['level']}_"))
    sim_figures = {lv["level"]: sorted(k for k in encoded if k.startswith(f"sim_{lv['level']}_"))
                   for lv in (doc.get("simulation") or {}).get("levels", [])}
    return _ENV.get_template("report.html.j2").render(
        doc=doc,
        figures=encoded,
        plan_figures=plan_figures,
        sim_figures=sim_figures,
        density=_density_card(doc),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        fmt=_fmt,
        vec=_vec,
    )
