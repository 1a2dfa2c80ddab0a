"""Read pages: case list, case page with viewer, plan, cohort dashboard, files, exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from kypho.registry.analytics import change_from_baseline, new_fracture_rate
from kypho.registry.cohort import case_rows, score_records, visit_records
from kypho.registry.eligibility import checklist, logistics
from kypho.registry.export import fhir_bundle, outcomes_csv
from kypho.registry.figures import TITLES, change_figure
from kypho.registry.instruments import Timepoint
from kypho.registry.models import (
    AuditEntry,
    Eligibility,
    FollowUpVisit,
    InstrumentResponse,
    Patient,
    PatientIdentity,
    Procedure,
    Study,
)
from kypho.registry.store import effective_fractures, get_live
from kypho.web.deps import CurrentUser, current_user, render
from kypho.web.display import display_copy, display_shapes
from kypho.web.shapes import shapes_of
from kypho.web.versions import can_rerun, derived_versions, study_ct_path

__all__ = ["router"]

router = APIRouter()

# The only files a study serves: a fixed name -> file mapping, never a user-given path.
STUDY_FILES = {
    "labels": "labels.nii.gz",
    "bodies": "bodies.nii.gz",
    "report": "report.html",
}
GRADE_COLOURS = {0: "#4caf50", 1: "#ffeb3b", 2: "#ff9800", 3: "#f44336"}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{text!r} is not a number.") from None


@router.get("/cases", response_class=HTMLResponse)
def cases(
    request: Request,
    grade: str | None = None,
    level: str | None = None,
    density: str | None = None,
    status: str | None = None,
    user: CurrentUser = Depends(current_user),
) -> HTMLResponse:
    with request.app.state.registry.session(user.username) as s:
        rows = case_rows(
            s,
            grade=_int_or_none(grade),
            level=level or None,
            density=density or None,
            status=status or None,
        )
    return render(
        request,
        "cases.j2",
        rows=rows,
        filters={
            "grade": grade or "",
            "level": level or "",
            "density": density or "",
            "status": status or "",
        },
    )


def _viewer_levels(study: Study) -> list[dict[str, Any]]:
    out = []
    for f in study.findings:
        if f.deleted_at is not None or f.label is None:
            continue
        grade = f.grade_override if f.grade_override is not None else f.genant_grade
        out.append(
            {
                "label": f.label,
                "level": f.corrected_level or f.level,
                "grade": grade,
                "excluded": f.excluded,
                "colour": "#9e9e9e" if f.excluded else GRADE_COLOURS.get(grade or 0),
            }
        )
    return out


def _patient_context(s: Any, patient: Patient, study: Study, user: CurrentUser) -> dict:
    clin = s.scalar(select(Eligibility).where(Eligibility.patient_id == patient.id))
    visits = s.scalars(
        select(FollowUpVisit).where(
            FollowUpVisit.patient_id == patient.id, FollowUpVisit.deleted_at.is_(None)
        )
    ).all()
    scores: dict[str, dict[str, Any]] = {}
    for v in visits:
        for r in v.responses:
            if r.deleted_at is None:
                scores.setdefault(v.timepoint, {})[r.instrument] = r
    base = scores.get("baseline", {})
    pain = (
        base.get("nrs").score
        if "nrs" in base
        else (base["vas"].score / 10 if "vas" in base else None)
    )
    rdq = base["rmdq"].score if "rmdq" in base else None
    fractures = effective_fractures(study)
    fractured = {lv for lv, _g in fractures}
    losses = [
        f.max_height_loss_pct
        for f in study.findings
        if (f.corrected_level or f.level) in fractured and f.max_height_loss_pct is not None
    ]
    plan = (study.results or {}).get("plan") or {}
    cautions = [c for lv in plan.get("levels") or [] for c in lv.get("cautions") or []]
    treated = [p.level for p in study.planned if p.treat and p.deleted_at is None]
    identity = None
    if user.identified:
        identity = s.scalar(select(PatientIdentity).where(PatientIdentity.patient_id == patient.id))
    procedures = s.scalars(
        select(Procedure).where(Procedure.patient_id == patient.id, Procedure.deleted_at.is_(None))
    ).all()
    return {
        "clinical": clin,
        "identity": identity,
        "procedures": procedures,
        "checklist": checklist(fractures, losses, clin, pain, rdq, treated, cautions),
        "logistics": logistics(plan.get("session"), study.planned),
        "timepoints": [t.value for t in Timepoint],
        "scores": scores,
    }


@router.get("/cases/{study_id}", response_class=HTMLResponse)
def case_page(
    request: Request, study_id: int, user: CurrentUser = Depends(current_user)
) -> HTMLResponse:
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        patient = study.patient
        ctx = _patient_context(s, patient, study, user)
        corrections = s.scalars(
            select(AuditEntry).where(
                AuditEntry.table_name == "vertebra_finding",
                AuditEntry.action == "update",
                AuditEntry.row_id.in_([f.id for f in study.findings]),
            )
        ).all()
        findings = [f for f in study.findings if f.deleted_at is None]
        return render(
            request,
            "case.j2",
            study=study,
            patient=patient,
            findings=findings,
            corrections=corrections,
            has_ct=study_ct_path(study) is not None,
            versions=derived_versions(s, study),
            derived=study.derived_from_id is not None,
            rerunnable=can_rerun(study),
            # Levels the corrections made fractured, not in this analysis's plan: they may
            # be chosen for treatment too (the corrected version plans them).
            candidates=sorted(
                {lv for lv, _g in effective_fractures(study)}
                - {p.level for p in study.planned if p.deleted_at is None}
            ) if study.derived_from_id is None else [],
            chosen=set((study.treated_levels or "").split(",")),
            viewer_levels=json.dumps(_viewer_levels(study)),
            viewer_shapes=json.dumps([sh.legend() for sh in shapes_of(study.results)]),
            warnings=(study.results or {}).get("warnings") or [],
            **ctx,
        )


@router.get("/cases/{study_id}/plan", response_class=HTMLResponse)
def plan_page(
    request: Request, study_id: int, user: CurrentUser = Depends(current_user)
) -> HTMLResponse:
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        plan = (study.results or {}).get("plan")
        return render(
            request,
            "plan.j2",
            study=study,
            plan=plan,
            planned=[p for p in study.planned if p.deleted_at is None],
        )


@router.get("/cases/{study_id}/files/{name}")
def study_file(
    request: Request, study_id: int, name: str, user: CurrentUser = Depends(current_user)
) -> Response:
    if not user.identified:
        raise HTTPException(status_code=403, detail="Images and reports are for clinicians.")
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        doc = study.results
        if name in ("ct", "shapes"):
            path = study_ct_path(study)
        elif name in STUDY_FILES and study.folder:
            path = Path(study.folder) / STUDY_FILES[name]
        else:
            path = None
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail="No such file for this study.")
    if name in ("ct", "labels", "shapes"):
        # The viewer's images: decimated copies a software renderer can draw, and the
        # plan's shapes on the same grid.
        cache = request.app.state.config.data_dir / "display" / str(study_id)
        if name == "labels":
            path = display_copy(path, cache, "labels.nii.gz", integer_labels=True)
        else:
            path = display_copy(path, cache, "ct.nii.gz")
            if name == "shapes":
                path = display_shapes(path, doc, cache)
    media = "text/html" if path.suffix == ".html" else "application/gzip"
    return FileResponse(
        path, media_type=media, filename=None, headers={"Cache-Control": "private, no-store"}
    )


@router.get("/jobs/{study_id}")
def job_status(
    request: Request, study_id: int, user: CurrentUser = Depends(current_user)
) -> JSONResponse:
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        return JSONResponse(
            {"status": study.status, "progress": study.progress, "message": study.message}
        )


@router.get("/cohort", response_class=HTMLResponse)
def cohort(request: Request, user: CurrentUser = Depends(current_user)) -> HTMLResponse:
    with request.app.state.registry.session(user.username) as s:
        records = score_records(s)
        visits = visit_records(s)
        n_patients = len(s.scalars(select(Patient.id).where(Patient.deleted_at.is_(None))).all())
        n_responses = len(
            s.scalars(
                select(InstrumentResponse.id).where(InstrumentResponse.deleted_at.is_(None))
            ).all()
        )
    present = sorted({r[2] for r in records} & set(TITLES))
    tables = {inst: change_from_baseline(records, inst) for inst in present}
    return render(
        request,
        "cohort.j2",
        tables=tables,
        titles=TITLES,
        fractures=new_fracture_rate(visits),
        n_patients=n_patients,
        n_responses=n_responses,
    )


@router.get("/cohort/figure/{instrument}.png")
def cohort_figure(
    request: Request, instrument: str, user: CurrentUser = Depends(current_user)
) -> Response:
    if instrument not in TITLES:
        raise HTTPException(status_code=404, detail="No such instrument.")
    with request.app.state.registry.session(user.username) as s:
        records = score_records(s)
    return Response(change_figure(records, instrument), media_type="image/png")


@router.get("/export/outcomes.csv")
def export_csv(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    with request.app.state.registry.session(user.username) as s:
        text = outcomes_csv(s)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="outcomes.csv"'},
    )


@router.get("/export/fhir/{patient_id}.json")
def export_fhir(
    request: Request,
    patient_id: int,
    identified: bool = False,
    user: CurrentUser = Depends(current_user),
) -> JSONResponse:
    if identified and not user.identified:
        raise HTTPException(status_code=403, detail="Your role sees de-identified data only.")
    with request.app.state.registry.session(user.username) as s:
        doc = fhir_bundle(s, get_live(s, Patient, patient_id), identified=identified)
    return JSONResponse(doc, media_type="application/fhir+json")
