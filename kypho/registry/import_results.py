"""Reading an analysis (results.json, docs/results-schema.md) into registry rows.

This is the registry's one entry point for analysis results. Documents of the current
schema (2.x) are read by the typed results model's loader (:mod:`kypho.model`), which
validates every value, and stored as the model writes them back; documents of schema 1.x
(analyses registered before the model) are read as JSON with their keys checked here.
The columns are taken from the document, whose keys are the same in 1.x and 2.x.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kypho.model import results_from_json, results_to_json
from kypho.registry.errors import RegistryError

__all__ = [
    "LEGACY_MAJORS",
    "finding_rows",
    "load_results",
    "plan_rows",
    "resolve_folder",
    "study_columns",
]

# results.json major versions (docs/results-schema.md) read as plain JSON: analyses made
# before the typed model. Every other version goes to kypho.model, which reads its own.
LEGACY_MAJORS = (1,)


def resolve_folder(path: Path) -> tuple[Path, Path]:
    """The analysis folder and its results.json, given either of them."""
    path = Path(path)
    results = path / "results.json" if path.is_dir() else path
    if not results.is_file():
        raise RegistryError(f"no results.json found at {path}.")
    return results.parent, results


def load_results(path: Path) -> dict[str, Any]:
    """Read and check a results.json (or the analysis folder holding one)."""
    _folder, results = resolve_folder(path)
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{results} is not a readable results.json: {exc}.") from None
    return check_results(doc, str(results))


def check_results(doc: Any, where: str = "results.json") -> dict[str, Any]:
    """Check a parsed document's shape and schema version; return it unchanged."""
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise RegistryError(f"{where} has no schema_version: not a kypho results.json.")
    version = str(doc["schema_version"])
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise RegistryError(f"{where} has an unreadable schema_version {version!r}.") from None
    if major not in LEGACY_MAJORS:
        return _through_model(doc, where)
    if not isinstance(doc.get("vertebrae"), list):
        raise RegistryError(f"{where} has no vertebrae list.")
    return doc


def _through_model(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate a current-schema document with kypho.model; the document it writes back."""
    try:
        return results_to_json(results_from_json(doc))
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"{where} is not a readable kypho results.json: {exc}") from None


def _max_loss(v: dict[str, Any]) -> float | None:
    losses = [x for x in (v.get("height_loss_pct") or {}).values() if x is not None]
    return max(losses) if losses else None


def study_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """Key findings of a study, for the study table's searchable columns."""
    spine = doc.get("spine") or {}
    density = spine.get("density") or {}
    fractures = spine.get("fractures") or doc.get("fractures") or []
    return {
        "schema_version": str(doc["schema_version"]),
        "worst_grade": spine.get("worst_grade"),
        "fracture_count": len(fractures),
        "fractured_levels": ",".join(f["level"] for f in fractures) or None,
        "cobb_deg": spine.get("cobb_deg", doc.get("cobb_deg")),
        "reference_hu": density.get("reference_hu"),
        "density_class": density.get("class_by_hu") or density.get("class_by_bmd"),
    }


def finding_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row of vertebra-finding columns per vertebra of the document."""
    rows = []
    for v in doc["vertebrae"]:
        heights = v.get("heights_mm") or {}
        rows.append(
            {
                "level": v["level"],
                "label": v.get("label"),
                "measurable": bool(v.get("measurable", True)),
                "genant_grade": v.get("genant_grade"),
                "morphotype": v.get("morphotype"),
                "height_anterior_mm": heights.get("anterior"),
                "height_middle_mm": heights.get("middle"),
                "height_posterior_mm": heights.get("posterior"),
                "max_height_loss_pct": _max_loss(v),
                "trabecular_hu": v.get("trabecular_hu"),
                "bmd_mg_cm3": v.get("bmd_mg_cm3"),
                "density_class": v.get("density_class"),
            }
        )
    return rows


def plan_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per planned level (empty when the analysis has no plan)."""
    plan = doc.get("plan") or {}
    rows = []
    for lv in plan.get("levels") or []:
        balloon = lv.get("balloon") or {}
        cement = lv.get("cement") or {}
        logistics = lv.get("logistics") or {}
        rows.append(
            {
                "level": lv["level"],
                "recommendation": lv.get("recommendation"),
                "balloon_device": balloon.get("device"),
                "inflation_ml": balloon.get("total_inflation_ml"),
                "cement_ml": cement.get("total_ml"),
                "leakage_category": (lv.get("leakage_risk") or {}).get("category"),
                "procedure_minutes": logistics.get("procedure_minutes"),
                "anaesthesia": _short(logistics.get("anaesthesia")),
                "expected_stay": _short(logistics.get("expected_stay")),
                "treat": lv.get("recommendation") in ("balloon_kyphoplasty", "vertebroplasty"),
            }
        )
    return rows


def _short(text: Any, limit: int = 64) -> str | None:
    return None if text is None else str(text)[:limit]
