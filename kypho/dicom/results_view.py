"""The one place kypho.dicom, kypho.batch and kypho.pacs read analysis results from.

DICOM SR, the batch summary and the screening worklist need a small, flat view of a
study's results. They get it only through :func:`study_view` (an in-memory analysis) and
:func:`study_view_from_json` (a ``results.json`` written earlier, for resumed batches),
so that a change in how results are modelled touches this module alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PlanLevelView", "StudyView", "VertebraView", "study_view", "study_view_from_json"]


@dataclass(frozen=True)
class VertebraView:
    """One vertebra's reported numbers; None where kypho could not measure it."""

    level: str
    label: int
    measurable: bool
    reason: str | None
    anterior_mm: float | None
    middle_mm: float | None
    posterior_mm: float | None
    expected_anterior_mm: float | None
    expected_middle_mm: float | None
    expected_posterior_mm: float | None
    anterior_loss_pct: float | None
    middle_loss_pct: float | None
    posterior_loss_pct: float | None
    genant_grade: int | None
    morphotype: str | None
    trabecular_hu: float | None
    bmd_mg_cm3: float | None
    density_class: str | None

    @property
    def max_loss_pct(self) -> float | None:
        losses = [x for x in (self.anterior_loss_pct, self.middle_loss_pct,
                              self.posterior_loss_pct) if x is not None]
        return max(losses) if losses else None


@dataclass(frozen=True)
class PlanLevelView:
    """The plan's summary for one level."""

    level: str
    recommendation: str
    cement_total_ml: float | None
    balloon_device: str | None
    leakage_category: str | None


@dataclass(frozen=True)
class StudyView:
    """A study's results, flattened for DICOM SR, summaries and worklists."""

    source: str
    study_uid: str | None
    series_uid: str | None
    vertebrae: tuple[VertebraView, ...]
    cobb_deg: float | None
    lumbar_lordosis_deg: float | None
    worst_grade: int
    density_reference_level: str | None
    density_reference_hu: float | None
    density_class: str | None
    plan_levels: tuple[PlanLevelView, ...]
    warnings: tuple[str, ...]


def _three(d: dict[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    if not d:
        return None, None, None
    return d.get("anterior"), d.get("middle"), d.get("posterior")


def _vertebra(v: dict[str, Any]) -> VertebraView:
    h, e, loss = _three(v["heights_mm"]), _three(v["expected_heights_mm"]), _three(
        v["height_loss_pct"]
    )
    return VertebraView(
        level=v["level"], label=int(v["label"]), measurable=bool(v["measurable"]),
        reason=v["reason"], anterior_mm=h[0], middle_mm=h[1], posterior_mm=h[2],
        expected_anterior_mm=e[0], expected_middle_mm=e[1], expected_posterior_mm=e[2],
        anterior_loss_pct=loss[0], middle_loss_pct=loss[1], posterior_loss_pct=loss[2],
        genant_grade=v["genant_grade"], morphotype=v["morphotype"],
        trabecular_hu=v["trabecular_hu"], bmd_mg_cm3=v["bmd_mg_cm3"],
        density_class=v["density_class"],
    )


def _plan_level(p: dict[str, Any]) -> PlanLevelView:
    return PlanLevelView(
        level=p["level"], recommendation=p["recommendation"],
        cement_total_ml=(p.get("cement") or {}).get("total_ml"),
        balloon_device=(p.get("balloon") or {}).get("device"),
        leakage_category=(p.get("leakage_risk") or {}).get("category"),
    )


def study_view_from_doc(doc: dict[str, Any]) -> StudyView:
    """The view of a results document (the ``results.json`` schema 1.x)."""
    spine = doc.get("spine") or {}
    density = spine.get("density") or {}
    meta = (doc.get("input") or {}).get("meta") or {}
    return StudyView(
        source=str((doc.get("input") or {}).get("source", "")),
        study_uid=meta.get("study_uid"),
        series_uid=meta.get("series_uid"),
        vertebrae=tuple(_vertebra(v) for v in doc.get("vertebrae", [])),
        cobb_deg=spine.get("cobb_deg"),
        lumbar_lordosis_deg=spine.get("lumbar_lordosis_deg"),
        worst_grade=int(spine.get("worst_grade") or 0),
        density_reference_level=density.get("reference_level"),
        density_reference_hu=density.get("reference_hu"),
        density_class=density.get("class_by_hu") or density.get("class_by_bmd"),
        plan_levels=tuple(_plan_level(p) for p in (doc.get("plan") or {}).get("levels", [])),
        warnings=tuple(doc.get("warnings", [])),
    )


def study_view(analysis: Any) -> StudyView:
    """The view of a :class:`kypho.pipeline.Analysis`."""
    from kypho.results import analysis_to_json

    return study_view_from_doc(analysis_to_json(analysis))


def study_view_from_json(path: Path) -> StudyView:
    """The view of a ``results.json`` file."""
    return study_view_from_doc(json.loads(Path(path).read_text(encoding="utf-8")))
