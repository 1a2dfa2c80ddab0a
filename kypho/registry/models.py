"""SQLAlchemy 2 models of the outcomes registry.

Every table carries ``created_at`` and ``deleted_at``: rows are soft-deleted only (the
audit listener in :mod:`kypho.registry.audit` refuses a hard delete). Identifying data
(name, record number, date of birth) lives in :class:`PatientIdentity`, apart from the
pseudonymous :class:`Patient`, so that de-identified reads and exports never join it.

The schema is created by the Alembic migrations in ``kypho/registry/migrations``; the
first migration is generated from these models and must be kept in step with them
(``tests/test_registry_db.py`` compares the two).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AuditEntry",
    "Base",
    "Eligibility",
    "FollowUpVisit",
    "InstrumentResponse",
    "Patient",
    "PatientIdentity",
    "PlannedLevel",
    "Procedure",
    "Study",
    "User",
    "VertebraFinding",
    "utcnow",
]

# Stable constraint names so migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC (the registry stores UTC only)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with the registry's naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class _Tracked:
    """Columns every audited, soft-deletable row has."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class User(_Tracked, Base):
    """A local account; ``role`` is clinician, researcher or admin."""

    __tablename__ = "user_account"
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))


class Patient(_Tracked, Base):
    """A pseudonymous patient: nothing here identifies a person on its own."""

    __tablename__ = "patient"
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default="imaging")
    studies: Mapped[list[Study]] = relationship(back_populates="patient")
    visits: Mapped[list[FollowUpVisit]] = relationship(back_populates="patient")


class PatientIdentity(_Tracked, Base):
    """Identifying fields, optional and kept in their own table (joined only on purpose)."""

    __tablename__ = "patient_identity"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    record_number: Mapped[str | None] = mapped_column(String(64))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)


class Study(_Tracked, Base):
    """One CT and its analysis: the whole results.json plus key findings as columns."""

    __tablename__ = "study"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    folder: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="ready")
    progress: Mapped[float] = mapped_column(Float, default=1.0)
    message: Mapped[str | None] = mapped_column(Text)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schema_version: Mapped[str | None] = mapped_column(String(16))
    worst_grade: Mapped[int | None] = mapped_column(Integer, index=True)
    fracture_count: Mapped[int | None] = mapped_column(Integer)
    fractured_levels: Mapped[str | None] = mapped_column(String(200))
    cobb_deg: Mapped[float | None] = mapped_column(Float)
    reference_hu: Mapped[float | None] = mapped_column(Float)
    density_class: Mapped[str | None] = mapped_column(String(24), index=True)
    #: A corrected version: the study whose analysis and corrections it was derived from.
    derived_from_id: Mapped[int | None] = mapped_column(ForeignKey("study.id"), index=True)
    #: What a corrected version changed: the corrections applied, by whom, when.
    corrections: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The clinician's choice of levels to treat (comma list), kept on the original study.
    treated_levels: Mapped[str | None] = mapped_column(String(200))
    patient: Mapped[Patient] = relationship(back_populates="studies")
    findings: Mapped[list[VertebraFinding]] = relationship(back_populates="study")
    planned: Mapped[list[PlannedLevel]] = relationship(back_populates="study")
    derived_from: Mapped[Study | None] = relationship(remote_side="Study.id")


class VertebraFinding(_Tracked, Base):
    """One vertebra of a study, with the clinician's corrections beside the machine's."""

    __tablename__ = "vertebra_finding"
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    label: Mapped[int | None] = mapped_column(Integer)
    measurable: Mapped[bool] = mapped_column(Boolean, default=True)
    genant_grade: Mapped[int | None] = mapped_column(Integer)
    morphotype: Mapped[str | None] = mapped_column(String(16))
    height_anterior_mm: Mapped[float | None] = mapped_column(Float)
    height_middle_mm: Mapped[float | None] = mapped_column(Float)
    height_posterior_mm: Mapped[float | None] = mapped_column(Float)
    max_height_loss_pct: Mapped[float | None] = mapped_column(Float)
    trabecular_hu: Mapped[float | None] = mapped_column(Float)
    bmd_mg_cm3: Mapped[float | None] = mapped_column(Float)
    density_class: Mapped[str | None] = mapped_column(String(24))
    corrected_level: Mapped[str | None] = mapped_column(String(8))
    grade_override: Mapped[int | None] = mapped_column(Integer)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    study: Mapped[Study] = relationship(back_populates="findings")


class PlannedLevel(_Tracked, Base):
    """The plan for one level, copied from results.json; ``treat`` is the clinician's choice."""

    __tablename__ = "planned_level"
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    recommendation: Mapped[str | None] = mapped_column(String(32))
    balloon_device: Mapped[str | None] = mapped_column(String(64))
    inflation_ml: Mapped[float | None] = mapped_column(Float)
    cement_ml: Mapped[float | None] = mapped_column(Float)
    leakage_category: Mapped[str | None] = mapped_column(String(16))
    procedure_minutes: Mapped[float | None] = mapped_column(Float)
    anaesthesia: Mapped[str | None] = mapped_column(String(64))
    expected_stay: Mapped[str | None] = mapped_column(String(64))
    treat: Mapped[bool] = mapped_column(Boolean, default=False)
    study: Mapped[Study] = relationship(back_populates="planned")


class Procedure(_Tracked, Base):
    """What was done: levels, approach, balloons, cement, leakage, anaesthesia, stay."""

    __tablename__ = "procedure"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id"))
    performed_on: Mapped[dt.date] = mapped_column(Date)
    levels: Mapped[str] = mapped_column(String(200))
    approach: Mapped[str] = mapped_column(String(24))
    balloon_volumes_ml: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    balloon_pressures_atm: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cement_volume_ml: Mapped[float | None] = mapped_column(Float)
    cement_type: Mapped[str | None] = mapped_column(String(32))
    leakage: Mapped[bool] = mapped_column(Boolean, default=False)
    leakage_types: Mapped[str | None] = mapped_column(String(32))
    complications: Mapped[str | None] = mapped_column(Text)
    anaesthesia: Mapped[str | None] = mapped_column(String(24))
    duration_min: Mapped[float | None] = mapped_column(Float)
    overnight_stay: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowUpVisit(_Tracked, Base):
    """One visit at a registry time point (baseline, 7 d, 1/3/6/12 months)."""

    __tablename__ = "follow_up_visit"
    __table_args__ = (
        # One live visit per patient and time point; soft-deleted rows do not count.
        Index(
            "uq_visit_patient_timepoint_live",
            "patient_id",
            "timepoint",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    timepoint: Mapped[str] = mapped_column(String(16))
    visit_date: Mapped[dt.date | None] = mapped_column(Date)
    new_fracture: Mapped[bool | None] = mapped_column(Boolean)
    new_fracture_levels: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    patient: Mapped[Patient] = relationship(back_populates="visits")
    responses: Mapped[list[InstrumentResponse]] = relationship(back_populates="visit")


class InstrumentResponse(_Tracked, Base):
    """Raw answers of one instrument at one visit, with the score they give."""

    __tablename__ = "instrument_response"
    __table_args__ = (
        Index(
            "uq_response_visit_instrument_live",
            "visit_id",
            "instrument",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )
    visit_id: Mapped[int] = mapped_column(ForeignKey("follow_up_visit.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(24))
    answers: Mapped[Any] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    visit: Mapped[FollowUpVisit] = relationship(back_populates="responses")


class Eligibility(_Tracked, Base):
    """Clinical fields of the coverage checklist (DOMAIN.md §11.1) that imaging cannot give."""

    __tablename__ = "eligibility"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), unique=True)
    hospitalised: Mapped[bool | None] = mapped_column(Boolean)
    acuity_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    pain_worsening: Mapped[bool | None] = mapped_column(Boolean)
    pain_caused_by_fracture: Mapped[bool | None] = mapped_column(Boolean)
    kyphotic_deformity: Mapped[bool | None] = mapped_column(Boolean)
    nsm_description: Mapped[str | None] = mapped_column(Text)
    nsm_weeks: Mapped[float | None] = mapped_column(Float)
    infection: Mapped[bool | None] = mapped_column(Boolean)
    pregnancy: Mapped[bool | None] = mapped_column(Boolean)
    coagulopathy: Mapped[bool | None] = mapped_column(Boolean)
    cement_or_contrast_allergy: Mapped[bool | None] = mapped_column(Boolean)
    instability_or_neuro_deficit: Mapped[bool | None] = mapped_column(Boolean)
    malignant: Mapped[bool | None] = mapped_column(Boolean)
    oncologic_confirmation: Mapped[bool | None] = mapped_column(Boolean)
    bmd_referral: Mapped[bool | None] = mapped_column(Boolean)
    osteoporosis_education: Mapped[bool | None] = mapped_column(Boolean)


class AuditEntry(Base):
    """One change: who, when, which row, what it was before and after. Never updated."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(64), index=True)
    row_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
