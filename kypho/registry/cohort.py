"""Cohort queries: the records analytics, figures and exports work on, and case filters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kypho.registry.models import (
    FollowUpVisit,
    InstrumentResponse,
    Patient,
    Study,
    VertebraFinding,
)

__all__ = ["case_rows", "score_records", "visit_records"]


def score_records(session: Session) -> list[tuple[str, str, str, float]]:
    """(pseudonym, timepoint, instrument, score) of every live, valid response."""
    q = (
        select(
            Patient.pseudonym,
            FollowUpVisit.timepoint,
            InstrumentResponse.instrument,
            InstrumentResponse.score,
        )
        .join(FollowUpVisit, FollowUpVisit.patient_id == Patient.id)
        .join(InstrumentResponse, InstrumentResponse.visit_id == FollowUpVisit.id)
        .where(
            Patient.deleted_at.is_(None),
            FollowUpVisit.deleted_at.is_(None),
            InstrumentResponse.deleted_at.is_(None),
            InstrumentResponse.valid.is_(True),
        )
    )
    return [tuple(r) for r in session.execute(q)]


def visit_records(session: Session) -> list[tuple[str, str, bool | None]]:
    """(pseudonym, timepoint, new_fracture) of every live visit."""
    q = (
        select(Patient.pseudonym, FollowUpVisit.timepoint, FollowUpVisit.new_fracture)
        .join(FollowUpVisit, FollowUpVisit.patient_id == Patient.id)
        .where(Patient.deleted_at.is_(None), FollowUpVisit.deleted_at.is_(None))
    )
    return [tuple(r) for r in session.execute(q)]


def case_rows(
    session: Session,
    grade: int | None = None,
    level: str | None = None,
    density: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """One row per live study with its patient, filtered as the case list asks."""
    q = (
        select(Study, Patient)
        .join(Patient, Patient.id == Study.patient_id)
        .where(Study.deleted_at.is_(None), Patient.deleted_at.is_(None))
        .order_by(Study.id.desc())
    )
    if grade is not None:
        q = q.where(Study.worst_grade >= grade)
    if density:
        q = q.where(Study.density_class == density)
    if status:
        q = q.where(Patient.status == status)
    if level:
        level = level.strip().upper()
        # A level matches the machine's name or the clinician's corrected one.
        sub = select(VertebraFinding.study_id).where(
            VertebraFinding.deleted_at.is_(None),
            VertebraFinding.excluded.is_(False),
            (VertebraFinding.level == level) | (VertebraFinding.corrected_level == level),
            (VertebraFinding.genant_grade > 0) | (VertebraFinding.grade_override > 0),
        )
        q = q.where(Study.id.in_(sub))
    rows = []
    for study, patient in session.execute(q):
        rows.append(
            {
                "study_id": study.id,
                "patient_id": patient.id,
                "pseudonym": patient.pseudonym,
                "status": patient.status,
                "study_status": study.status,
                "progress": study.progress,
                "worst_grade": study.worst_grade,
                "fractured_levels": study.fractured_levels,
                "density_class": study.density_class,
                "reference_hu": study.reference_hu,
                "study_date": study.study_date,
            }
        )
    return rows
