"""Exports: outcomes as CSV, and a patient's record as an HL7 FHIR R4 Bundle (JSON).

Codes are those DOMAIN.md §11.5 verified: LOINC 72514-3 (pain 0-10 NRS), SNOMED CT
736534008 (EQ-5D-5L index value) and 736535009 (EuroQol VAS score), CPT 22513-22515 in
Procedure.code (§11.1 1e, codes and short labels only: the descriptors are AMA's). The
ODI's LOINC 97908-8 is not confirmed on loinc.org (§11.5), and RMDQ, TUG and the other
scores have no verified LOINC code (GAP), so they carry kypho's own code system
:data:`LOCAL_SYSTEM`. Exports are de-identified (pseudonym only) unless asked otherwise.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kypho.registry.eligibility import cpt_codes
from kypho.registry.models import (
    FollowUpVisit,
    InstrumentResponse,
    Patient,
    PatientIdentity,
    Procedure,
)

__all__ = ["LOCAL_SYSTEM", "fhir_bundle", "outcomes_csv"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
LOCAL_SYSTEM = "urn:kypho:instrument"
PSEUDONYM_SYSTEM = "urn:kypho:pseudonym"

# instrument -> (system, code, display) for score Observations.
OBSERVATION_CODES = {
    "nrs": (LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    "eq5d5l_us": (SNOMED, "736534008", "EQ-5D-5L index value"),
    "eq5d5l_england": (SNOMED, "736534008", "EQ-5D-5L index value"),
    "eq_vas": (SNOMED, "736535009", "EuroQol visual analogue scale score"),
}
UNITS = {"vas": "mm", "tug": "s", "bed_rest_days": "d", "restricted_days": "d", "odi": "%"}
QUESTIONNAIRES = {"odi", "rmdq"}

CSV_FIELDS = [
    "pseudonym",
    "timepoint",
    "visit_date",
    "instrument",
    "score",
    "valid",
    "invalid_reason",
    "new_fracture_levels",
]


def outcomes_csv(session: Session) -> str:
    """One CSV row per live instrument response, by pseudonym (no identifying fields)."""
    q = (
        select(Patient.pseudonym, FollowUpVisit, InstrumentResponse)
        .join(FollowUpVisit, FollowUpVisit.patient_id == Patient.id)
        .join(InstrumentResponse, InstrumentResponse.visit_id == FollowUpVisit.id)
        .where(
            Patient.deleted_at.is_(None),
            FollowUpVisit.deleted_at.is_(None),
            InstrumentResponse.deleted_at.is_(None),
        )
        .order_by(Patient.pseudonym, FollowUpVisit.id, InstrumentResponse.instrument)
    )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for pseudonym, visit, resp in session.execute(q):
        writer.writerow(
            {
                "pseudonym": pseudonym,
                "timepoint": visit.timepoint,
                "visit_date": visit.visit_date.isoformat() if visit.visit_date else "",
                "instrument": resp.instrument,
                "score": "" if resp.score is None else resp.score,
                "valid": resp.valid,
                "invalid_reason": resp.invalid_reason or "",
                "new_fracture_levels": visit.new_fracture_levels or "",
            }
        )
    return buf.getvalue()


def _uid(*parts: Any) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "kypho:" + ":".join(map(str, parts))))


def _patient(p: Patient, identity: PatientIdentity | None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": PSEUDONYM_SYSTEM, "value": p.pseudonym}],
    }
    if p.sex in ("female", "male", "other", "unknown"):
        res["gender"] = p.sex
    if identity is not None:
        if identity.name:
            res["name"] = [{"text": identity.name}]
        if identity.birth_date:
            res["birthDate"] = identity.birth_date.isoformat()
        if identity.record_number:
            res["identifier"].append(
                {"type": {"text": "medical record number"}, "value": identity.record_number}
            )
    return res


def _procedure(proc: Procedure, subject: str) -> dict[str, Any]:
    levels = proc.levels.split(",")
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "status": "completed",
        "subject": {"reference": subject},
        "code": {
            "coding": [{"system": CPT, "code": c} for c in cpt_codes(levels)],
            "text": "percutaneous vertebral augmentation (balloon kyphoplasty)",
        },
        "performedDateTime": proc.performed_on.isoformat(),
        "bodySite": [{"text": lv} for lv in levels],
        "note": [
            {
                "text": f"approach {proc.approach}; cement {proc.cement_volume_ml} mL "
                f"{proc.cement_type or ''}; anaesthesia {proc.anaesthesia or 'n/a'}; "
                f"duration {proc.duration_min} min; overnight {proc.overnight_stay}"
            }
        ],
    }
    if proc.leakage:
        res["complication"] = [{"text": f"cement leakage {proc.leakage_types or ''}".strip()}]
    if proc.complications:
        res.setdefault("complication", []).append({"text": proc.complications})
    return res


def _observation(resp: InstrumentResponse, visit: FollowUpVisit, subject: str) -> dict[str, Any]:
    system, code, display = OBSERVATION_CODES.get(
        resp.instrument, (LOCAL_SYSTEM, resp.instrument, resp.instrument)
    )
    unit = UNITS.get(resp.instrument, "{score}")  # UCUM: mm, s, d, %, {score}
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": resp.score, "unit": unit, "system": UCUM, "code": unit},
        "note": [{"text": f"registry time point {visit.timepoint}"}],
    }
    if visit.visit_date:
        res["effectiveDateTime"] = visit.visit_date.isoformat()
    return res


def _questionnaire_response(
    resp: InstrumentResponse, visit: FollowUpVisit, subject: str
) -> dict[str, Any]:
    items = []
    for i, answer in enumerate(resp.answers or [], start=1):
        item: dict[str, Any] = {"linkId": str(i)}
        if answer is not None:
            item["answer"] = [
                {"valueBoolean": bool(answer)}
                if resp.instrument == "rmdq"
                else {"valueInteger": int(answer)}
            ]
        items.append(item)
    items.append(
        {"linkId": "score", "answer": [{"valueDecimal": resp.score}]}
        if resp.score is not None
        else {"linkId": "score"}
    )
    res: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"urn:kypho:questionnaire:{resp.instrument}",
        "status": "completed",
        "subject": {"reference": subject},
        "item": items,
    }
    if visit.visit_date:
        res["authored"] = visit.visit_date.isoformat()
    return res


def fhir_bundle(session: Session, patient: Patient, identified: bool = False) -> dict[str, Any]:
    """A FHIR R4 collection Bundle of one patient: Patient, Procedures, scores, forms."""
    identity = None
    if identified:
        identity = session.scalar(
            select(PatientIdentity).where(
                PatientIdentity.patient_id == patient.id, PatientIdentity.deleted_at.is_(None)
            )
        )
    subject = _uid("patient", patient.pseudonym)
    entries = [{"fullUrl": subject, "resource": _patient(patient, identity)}]
    procs = session.scalars(
        select(Procedure).where(Procedure.patient_id == patient.id, Procedure.deleted_at.is_(None))
    ).all()
    entries += [
        {"fullUrl": _uid("procedure", p.id), "resource": _procedure(p, subject)} for p in procs
    ]
    q = (
        select(FollowUpVisit, InstrumentResponse)
        .join(InstrumentResponse, InstrumentResponse.visit_id == FollowUpVisit.id)
        .where(
            FollowUpVisit.patient_id == patient.id,
            FollowUpVisit.deleted_at.is_(None),
            InstrumentResponse.deleted_at.is_(None),
        )
    )
    for visit, resp in session.execute(q):
        if resp.instrument in QUESTIONNAIRES:
            entries.append(
                {
                    "fullUrl": _uid("qr", resp.id),
                    "resource": _questionnaire_response(resp, visit, subject),
                }
            )
        if resp.valid and resp.score is not None:
            entries.append(
                {"fullUrl": _uid("obs", resp.id), "resource": _observation(resp, visit, subject)}
            )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
