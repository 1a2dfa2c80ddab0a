"""The one place kypho.dicom, kypho.batch and kypho.pacs read analysis results from.

DICOM SR, the batch summary and the screening worklist need a small, flat view of a
study's results. They get it only through :func:`study_view` (an in-memory analysis) and
:func:`study_view_from_json` (a ``results.json`` written earlier, for resumed batches),
both built from the typed results model (:mod:`kypho.model`) by :func:`study_view_of`,
so that a change in how results are modelled touches this module alone. Numbers are
the ones results.json holds (the model's serializer rounds them), so the SR and the
summaries agree with results.json to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kypho.model.serialize import vertebra_to_json

if TYPE_CHECKING:
    from kypho.model import LevelPlan, Results, VertebraMeasurement

__all__ = ["PlanLevelView", "StudyView", "VertebraView", "study_view", "study_view_from_json",
           "study_view_of"]


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


def _vertebra(v: VertebraMeasurement) -> VertebraView:
    # Numbers exactly as results.json holds them: the model's one serializer rounds them.
    j = vertebra_to_json(v)
    h = j["heights_mm"] or {}
    e = j["expected_heights_mm"] or {}
    loss = j["height_loss_pct"] or {}
    return VertebraView(
        level=v.level.display, label=int(v.level), measurable=v.measurable, reason=v.reason,
        anterior_mm=h.get("anterior"), middle_mm=h.get("middle"), posterior_mm=h.get("posterior"),
        expected_anterior_mm=e.get("anterior"), expected_middle_mm=e.get("middle"),
        expected_posterior_mm=e.get("posterior"), anterior_loss_pct=loss.get("anterior"),
        middle_loss_pct=loss.get("middle"), posterior_loss_pct=loss.get("posterior"),
        genant_grade=None if v.genant_grade is None else int(v.genant_grade),
        morphotype=None if v.morphotype is None else v.morphotype.value,
        trabecular_hu=j["trabecular_hu"], bmd_mg_cm3=j["bmd_mg_cm3"],
        density_class=None if v.density_class is None else v.density_class.value,
    )


def _plan_level(p: LevelPlan) -> PlanLevelView:
    return PlanLevelView(
        level=p.level.display, recommendation=p.recommendation.value,
        cement_total_ml=None if p.cement is None else p.cement.total_ml,
        balloon_device=None if p.balloon is None else p.balloon.device,
        leakage_category=None if p.leakage_risk is None else p.leakage_risk.category,
    )


def study_view_of(results: Results) -> StudyView:
    """The view of a :class:`kypho.model.Results` record."""
    spine = results.spine
    meta = results.study.meta or {}
    density_class = None
    if spine is not None:
        cls = spine.density_class_hu or spine.density_class_bmd
        density_class = None if cls is None else cls.value
    return StudyView(
        source=str(results.study.source or ""),
        study_uid=meta.get("study_uid"),
        series_uid=meta.get("series_uid"),
        vertebrae=tuple(_vertebra(v) for v in spine.vertebrae) if spine else (),
        cobb_deg=spine.cobb_deg if spine else None,
        lumbar_lordosis_deg=spine.lumbar_lordosis_deg if spine else None,
        worst_grade=max((int(v.genant_grade or 0) for v in spine.vertebrae), default=0)
        if spine else 0,
        density_reference_level=spine.density_reference_level if spine else None,
        density_reference_hu=spine.density_reference_hu if spine else None,
        density_class=density_class,
        plan_levels=tuple(_plan_level(p) for p in results.plan.levels) if results.plan else (),
        warnings=tuple(results.warnings),
    )


def study_view(analysis: Any) -> StudyView:
    """The view of a :class:`kypho.pipeline.Analysis` (its numbers as results.json writes
    them: the record goes through the model's serializer and back)."""
    from kypho.model import results_from_json, results_to_json
    from kypho.results import analysis_results

    return study_view_of(results_from_json(results_to_json(analysis_results(analysis))))


def study_view_from_json(path: Path) -> StudyView:
    """The view of a ``results.json`` file, read and validated by the model."""
    from kypho.model import load_results

    return study_view_of(load_results(path))
