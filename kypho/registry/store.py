"""Registry operations: the units of work the web app and the CLI perform.

Each function takes an open session (see :meth:`kypho.registry.db.Registry.session`),
validates its input and leaves committing to the caller, so a request is one transaction
and one set of audit rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kypho.registry.errors import NotFoundError, RegistryError
from kypho.registry.import_results import (
    check_results,
    finding_rows,
    load_results,
    plan_rows,
    resolve_folder,
    study_columns,
)
from kypho.registry.instruments import Instrument, Timepoint, score
from kypho.registry.models import (
    Eligibility,
    FollowUpVisit,
    InstrumentResponse,
    Patient,
    PatientIdentity,
    PlannedLevel,
    Procedure,
    Study,
    VertebraFinding,
)

__all__ = [
    "add_patient",
    "check_unique_names",
    "correct_finding",
    "effective_fractures",
    "get_live",
    "record_procedure",
    "record_visit",
    "refresh_columns",
    "register_analysis",
    "set_eligibility",
    "set_treated_levels",
    "shift_levels",
    "store_results",
]

APPROACHES = ("bilateral", "unipedicular", "extrapedicular")
ANAESTHESIA = ("local", "sedation", "general")
VALID_LEVELS = {f"T{i}" for i in range(1, 14)} | {f"L{i}" for i in range(1, 7)}


def get_live(session: Session, cls: type, row_id: int) -> Any:
    """The row ``row_id`` of ``cls`` unless missing or soft-deleted."""
    row = session.get(cls, row_id)
    if row is None or row.deleted_at is not None:
        raise NotFoundError(f"{cls.__name__} {row_id} does not exist.")
    return row


def add_patient(
    session: Session,
    pseudonym: str,
    sex: str | None = None,
    birth_year: int | None = None,
    identity: dict[str, Any] | None = None,
) -> Patient:
    """Create a pseudonymous patient, with identifying fields kept in their own row."""
    pseudonym = pseudonym.strip()
    if not pseudonym or len(pseudonym) > 64:
        raise RegistryError("a pseudonym of 1-64 characters is needed.")
    if session.scalar(select(Patient).where(Patient.pseudonym == pseudonym)) is not None:
        raise RegistryError(f"patient {pseudonym!r} already exists.")
    patient = Patient(pseudonym=pseudonym, sex=sex, birth_year=birth_year)
    session.add(patient)
    session.flush()
    if identity and any(identity.values()):
        session.add(PatientIdentity(patient_id=patient.id, **identity))
    return patient


def store_results(session: Session, study: Study, doc: dict[str, Any]) -> Study:
    """Put an analysis document into ``study``: the JSON, key columns, findings, plan."""
    doc = check_results(doc)
    study.results = doc
    for key, value in study_columns(doc).items():
        setattr(study, key, value)
    for row in finding_rows(doc):
        session.add(VertebraFinding(study_id=study.id, **row))
    for row in plan_rows(doc):
        session.add(PlannedLevel(study_id=study.id, **row))
    study.status, study.progress, study.message = "ready", 1.0, None
    return study


def register_analysis(
    session: Session, patient: Patient, path: Path, study_date: dt.date | None = None
) -> Study:
    """Register an existing analysis folder (or its results.json) as a study of ``patient``."""
    folder, _results = resolve_folder(path)
    doc = load_results(folder)
    study = Study(patient_id=patient.id, study_date=study_date, folder=str(folder.resolve()))
    session.add(study)
    session.flush()
    return store_results(session, study, doc)


def effective_fractures(study: Study) -> list[tuple[str, int]]:
    """(level, grade) of each fractured vertebra after the clinician's corrections."""
    out = []
    for f in study.findings:
        if f.deleted_at is not None or f.excluded:
            continue
        grade = f.grade_override if f.grade_override is not None else f.genant_grade
        if grade:
            out.append((f.corrected_level or f.level, grade))
    return out


def correct_finding(
    session: Session,
    finding_id: int,
    level: str | None = None,
    grade: int | None = None,
    excluded: bool | None = None,
) -> VertebraFinding:
    """A clinician's correction: rename a level, override a grade, exclude a vertebra.

    The machine's values stay beside the corrections; the study's key columns are
    recomputed from the corrected findings. The plan is not re-run here (its geometry
    needs the CT; re-analysis is a new study).
    """
    f = get_live(session, VertebraFinding, finding_id)
    if f.study.derived_from_id is not None:
        raise RegistryError(
            f"case {f.study_id} is a corrected version: make corrections on the original "
            f"analysis, case {f.study.derived_from_id}."
        )
    if level is not None:
        level = level.strip().upper()
        if level not in VALID_LEVELS:
            raise RegistryError(f"{level!r} is not a thoracic or lumbar level (T1-T13, L1-L6).")
        f.corrected_level = None if level == f.level else level
    if grade is not None:
        if grade not in (0, 1, 2, 3):
            raise RegistryError(f"a Genant grade is 0-3, got {grade!r}.")
        f.grade_override = None if grade == f.genant_grade else grade
    if excluded is not None:
        f.excluded = bool(excluded)
    session.flush()
    study = f.study
    session.refresh(study, ["findings"])
    refresh_columns(study)
    return f


def check_unique_names(study: Study) -> None:
    """Refuse corrections that leave two live vertebrae of ``study`` with one name."""
    names = [f.corrected_level or f.level for f in study.findings if f.deleted_at is None]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RegistryError(
            f"two vertebrae would be called {', '.join(twice)}: rename the neighbour too, or "
            "shift the whole numbering."
        )


def refresh_columns(study: Study) -> None:
    """The study's worklist columns from its findings after the clinician's corrections."""
    fractures = effective_fractures(study)
    study.fracture_count = len(fractures)
    study.worst_grade = max((g for _lv, g in fractures), default=0)
    study.fractured_levels = ",".join(lv for lv, _g in fractures) or None


# Level order for a numbering shift (T13 and L6 exist as variants, DESIGN.md labels 25/28).
LEVEL_ORDER = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 7)]


def shift_levels(session: Session, study: Study, offset: int) -> None:
    """Renumber every vertebra of ``study`` by ``offset`` levels (a miscounted spine).

    +1 moves each name one level caudal (T12 -> L1). Vertebrae already renamed by hand are
    shifted from their corrected name; L6 is the transitional sixth lumbar vertebra.
    Refused when a name would leave T1-L6.
    """
    if offset == 0:
        return
    live = [f for f in study.findings if f.deleted_at is None]
    new = {}
    for f in live:
        name = f.corrected_level or f.level
        if name not in LEVEL_ORDER:
            continue  # sacrum and variants keep their names
        i = LEVEL_ORDER.index(name) + offset
        if not 0 <= i < len(LEVEL_ORDER):
            raise RegistryError(f"shifting {name} by {offset} leaves T1-L6.")
        new[f.id] = LEVEL_ORDER[i]
    for f in live:
        if f.id in new:
            correct_finding(session, f.id, level=new[f.id])
    check_unique_names(study)


def set_treated_levels(
    session: Session, study: Study, levels: list[str], also_known: set[str] = frozenset()
) -> None:
    """Mark which levels the clinician chose to treat (kept as a correction too).

    ``also_known`` are further levels that may be chosen: those a corrected version of
    this study planned.
    """
    wanted = {lv.strip().upper() for lv in levels}
    known = {p.level for p in study.planned if p.deleted_at is None}
    known |= {lv for lv, _g in effective_fractures(study)} | set(also_known)
    unknown = wanted - known
    if unknown:
        raise RegistryError(f"level(s) {', '.join(sorted(unknown))} are not in the plan.")
    for p in study.planned:
        if p.deleted_at is None:
            p.treat = p.level in wanted
    study.treated_levels = ",".join(sorted(wanted)) or None


def record_procedure(session: Session, patient: Patient, **fields: Any) -> Procedure:
    """Record a procedure after checking its closed fields."""
    levels = [lv.strip().upper() for lv in str(fields.get("levels", "")).split(",") if lv.strip()]
    if not levels or any(lv not in VALID_LEVELS for lv in levels):
        raise RegistryError(f"levels must be thoracic/lumbar levels, got {fields.get('levels')!r}.")
    if fields.get("approach") not in APPROACHES:
        raise RegistryError(f"approach must be one of {', '.join(APPROACHES)}.")
    if fields.get("anaesthesia") not in (None, *ANAESTHESIA):
        raise RegistryError(f"anaesthesia must be one of {', '.join(ANAESTHESIA)}.")
    for key in ("cement_volume_ml", "duration_min"):
        value = fields.get(key)
        if value is not None and not 0 <= float(value) <= 1000:
            raise RegistryError(f"{key} must be 0-1000, got {value!r}.")
    fields["levels"] = ",".join(levels)
    proc = Procedure(patient_id=patient.id, **fields)
    session.add(proc)
    patient.status = "treated"
    return proc


def record_visit(
    session: Session,
    patient: Patient,
    timepoint: str,
    answers: dict[str, Any],
    visit_date: dt.date | None = None,
    new_fracture_levels: str | None = None,
) -> FollowUpVisit:
    """Record (or add to) the visit at ``timepoint`` with scored instrument answers.

    An instrument already answered at this visit is replaced: the old response is
    soft-deleted, so the trail keeps both.
    """
    tp = Timepoint(timepoint).value
    visit = session.scalar(
        select(FollowUpVisit).where(
            FollowUpVisit.patient_id == patient.id,
            FollowUpVisit.timepoint == tp,
            FollowUpVisit.deleted_at.is_(None),
        )
    )
    if visit is None:
        visit = FollowUpVisit(patient_id=patient.id, timepoint=tp)
        session.add(visit)
        session.flush()
    if visit_date is not None:
        visit.visit_date = visit_date
    if new_fracture_levels is not None:
        levels = new_fracture_levels.strip().upper()
        visit.new_fracture = bool(levels)
        visit.new_fracture_levels = levels or None
    scored = {Instrument(k).value: (v, score(k, v)) for k, v in answers.items()}
    old = session.scalars(
        select(InstrumentResponse).where(
            InstrumentResponse.visit_id == visit.id,
            InstrumentResponse.instrument.in_(list(scored)),
            InstrumentResponse.deleted_at.is_(None),
        )
    ).all()
    for response in old:
        response.deleted_at = dt.datetime.now(dt.UTC)
    session.flush()
    for name, (raw, s) in scored.items():
        session.add(
            InstrumentResponse(
                visit_id=visit.id,
                instrument=name,
                answers=raw,
                score=s.value,
                valid=s.valid,
                invalid_reason=s.reason,
            )
        )
    if tp != "baseline":
        patient.status = "follow-up"
    return visit


def set_eligibility(session: Session, patient: Patient, **fields: Any) -> Eligibility:
    """Create or update the clinical fields of a patient's coverage checklist."""
    row = session.scalar(select(Eligibility).where(Eligibility.patient_id == patient.id))
    if row is None:
        row = Eligibility(patient_id=patient.id)
        session.add(row)
    for key, value in fields.items():
        if not hasattr(Eligibility, key) or key in ("id", "patient_id", "created_at"):
            raise RegistryError(f"{key!r} is not an eligibility field.")
        setattr(row, key, value)
    return row
