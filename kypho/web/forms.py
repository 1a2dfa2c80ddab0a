"""Write routes: corrections, treated levels, procedure, follow-up, checklist, upload, import.

Every route needs a writing role and the session's CSRF token; each request is one
transaction and one set of audit rows under the user's name.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from kypho.registry.errors import RegistryError
from kypho.registry.models import Patient, Study
from kypho.registry.store import (
    add_patient,
    check_unique_names,
    correct_finding,
    get_live,
    record_procedure,
    record_visit,
    register_analysis,
    set_eligibility,
    set_treated_levels,
    shift_levels,
)
from kypho.web.deps import CurrentUser, csrf_ok, render, writer
from kypho.web.versions import start_corrected_version

__all__ = ["router"]

router = APIRouter()

UPLOAD_SUFFIXES = (".nii", ".nii.gz", ".zip")
CHUNK = 1024 * 1024
BOOL_FIELDS = (
    "hospitalised",
    "acuity_confirmed",
    "pain_worsening",
    "pain_caused_by_fracture",
    "kyphotic_deformity",
    "infection",
    "pregnancy",
    "coagulopathy",
    "cement_or_contrast_allergy",
    "instability_or_neuro_deficit",
    "malignant",
    "oncologic_confirmation",
    "bmd_referral",
    "osteoporosis_education",
)


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RegistryError(f"{text!r} is not a date (YYYY-MM-DD).") from None


def _float(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise RegistryError(f"{text!r} is not a number.") from None


def _back(study_id: int) -> RedirectResponse:
    return RedirectResponse(f"/cases/{study_id}", status_code=303)


@router.post("/cases/{study_id}/findings/{finding_id}")
def correct(
    request: Request,
    study_id: int,
    finding_id: int,
    csrf: str = Form(""),
    level: str = Form(""),
    grade: str = Form(""),
    excluded: str = Form(""),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        if finding_id not in {f.id for f in study.findings}:
            raise HTTPException(status_code=404, detail="No such vertebra in this study.")
        finding = correct_finding(
            s,
            finding_id,
            level=level or None,
            grade=int(grade) if grade.strip().isdigit() else None,
            excluded=excluded == "on",
        )
        check_unique_names(finding.study)
    start_corrected_version(request, study_id, user.username)
    return _back(study_id)


@router.post("/cases/{study_id}/shift")
def shift(
    request: Request,
    study_id: int,
    csrf: str = Form(""),
    offset: int = Form(...),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)
    if offset not in (-2, -1, 1, 2):
        raise RegistryError("shift the numbering by -2, -1, +1 or +2 levels.")
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        if study.derived_from_id is not None:
            raise RegistryError(
                f"case {study_id} is a corrected version: shift the numbering on the original "
                f"analysis, case {study.derived_from_id}."
            )
        shift_levels(s, study, offset)
    start_corrected_version(request, study_id, user.username)
    return _back(study_id)


@router.post("/cases/{study_id}/treat")
def treat(
    request: Request,
    study_id: int,
    csrf: str = Form(""),
    levels: list[str] = Form([]),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)
    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        # The choice is a correction of the original analysis; a corrected version's own
        # planned levels may be chosen too.
        root = study.derived_from if study.derived_from_id is not None else study
        also = {p.level for p in study.planned if p.deleted_at is None}
        set_treated_levels(s, root, levels, also_known=also)
        root_id = root.id
    start_corrected_version(request, root_id, user.username)
    return _back(study_id if root_id == study_id else root_id)


@router.post("/cases/{study_id}/procedure")
def procedure(
    request: Request,
    study_id: int,
    csrf: str = Form(""),
    performed_on: str = Form(...),
    levels: str = Form(...),
    approach: str = Form(...),
    cement_volume_ml: str = Form(""),
    cement_type: str = Form(""),
    balloon_volumes: str = Form(""),
    balloon_pressures: str = Form(""),
    leakage: str = Form(""),
    leakage_types: str = Form(""),
    complications: str = Form(""),
    anaesthesia: str = Form(""),
    duration_min: str = Form(""),
    overnight_stay: str = Form(""),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)

    def per_level(text: str) -> dict[str, Any] | None:
        # "L1=3.1/3.0, T12=2.5" -> {"L1": [3.1, 3.0], "T12": [2.5]}
        out = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            lv, _, vals = part.partition("=")
            out[lv.strip().upper()] = [_float(v) for v in vals.split("/") if v.strip()]
        return out or None

    with request.app.state.registry.session(user.username) as s:
        study = get_live(s, Study, study_id)
        record_procedure(
            s,
            study.patient,
            study_id=study.id,
            performed_on=_date(performed_on),
            levels=levels,
            approach=approach,
            cement_volume_ml=_float(cement_volume_ml),
            cement_type=cement_type or None,
            balloon_volumes_ml=per_level(balloon_volumes),
            balloon_pressures_atm=per_level(balloon_pressures),
            leakage=leakage == "on",
            leakage_types=leakage_types or None,
            complications=complications or None,
            anaesthesia=anaesthesia or None,
            duration_min=_float(duration_min),
            overnight_stay=overnight_stay == "on",
        )
    return _back(study_id)


@router.post("/cases/{study_id}/visit")
async def visit(request: Request, study_id: int, user: CurrentUser = Depends(writer)) -> Response:
    form = await request.form()
    csrf_ok(request, str(form.get("csrf", "")))
    answers: dict[str, Any] = {}
    for name in ("nrs", "vas", "eq_vas", "tug", "bed_rest_days", "restricted_days"):
        if form.get(name, "") != "":
            answers[name] = _float(str(form[name]))
    for name in ("analgesics", "ambulation"):
        if form.get(name):
            answers[name] = str(form[name])
    if form.get("eq5d5l", ""):
        answers["eq5d5l_us"] = answers["eq5d5l_england"] = str(form["eq5d5l"]).strip()
    odi = [str(form.get(f"odi{i}", "")) for i in range(1, 11)]
    if any(odi):
        answers["odi"] = [int(v) if v.isdigit() else None for v in odi]
    if form.get("rmdq_used"):
        answers["rmdq"] = [form.get(f"rmdq{i}") == "on" for i in range(1, 25)]
    timepoint = str(form.get("timepoint", ""))
    visit_date = _date(str(form.get("visit_date", "")))
    new_fractures = str(form.get("new_fracture_levels", ""))

    def write() -> None:
        # Two clients creating the same visit at once: the unique index refuses the second
        # insert; the retry then finds the first one's visit and adds to it.
        for attempt in range(3):
            try:
                with request.app.state.registry.session(user.username) as s:
                    study = get_live(s, Study, study_id)
                    record_visit(
                        s,
                        study.patient,
                        timepoint,
                        answers,
                        visit_date=visit_date,
                        new_fracture_levels=new_fractures,
                    )
                return
            except IntegrityError:
                if attempt == 2:
                    raise RegistryError(
                        "the visit was changed by someone else; try again."
                    ) from None

    # Database work off the event loop: an async route must not block other requests.
    await run_in_threadpool(write)
    return _back(study_id)


@router.post("/cases/{study_id}/eligibility")
async def eligibility(
    request: Request, study_id: int, user: CurrentUser = Depends(writer)
) -> Response:
    form = await request.form()
    csrf_ok(request, str(form.get("csrf", "")))
    values: dict[str, Any] = {}
    for name in BOOL_FIELDS:
        raw = form.get(name, "")
        values[name] = {"yes": True, "no": False}.get(str(raw))
    values["nsm_weeks"] = _float(str(form.get("nsm_weeks", "")))
    values["nsm_description"] = str(form.get("nsm_description", "")) or None

    def write() -> None:
        with request.app.state.registry.session(user.username) as s:
            set_eligibility(s, get_live(s, Study, study_id).patient, **values)

    await run_in_threadpool(write)
    return _back(study_id)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: CurrentUser = Depends(writer)) -> HTMLResponse:
    return render(request, "upload.j2")


def _patient_for(s: Any, pseudonym: str) -> Patient:
    patient = s.scalar(
        select(Patient).where(Patient.pseudonym == pseudonym.strip(), Patient.deleted_at.is_(None))
    )
    return patient or add_patient(s, pseudonym)


@router.post("/upload")
async def upload(
    request: Request,
    csrf: str = Form(""),
    pseudonym: str = Form(...),
    ct: UploadFile = File(...),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)
    config = request.app.state.config
    name = Path(ct.filename or "").name.lower()
    if not name.endswith(UPLOAD_SUFFIXES):
        raise RegistryError("upload a CT as .nii, .nii.gz or a .zip of one DICOM series.")
    folder = config.data_dir / "studies" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / (
        "ct.nii.gz" if name.endswith(".gz") else "ct.nii" if name.endswith(".nii") else "upload.zip"
    )
    size = 0
    with target.open("wb") as out:
        while chunk := await ct.read(CHUNK):
            size += len(chunk)
            if size > config.max_upload_bytes:
                out.close()
                target.unlink()
                folder.rmdir()
                raise HTTPException(
                    status_code=413,
                    detail="The file is larger than the "
                    f"upload limit ({config.max_upload_bytes // 1024**2} MB).",
                )
            out.write(chunk)
    from kypho.web.jobs import unpack_upload

    source = await run_in_threadpool(unpack_upload, target, folder)

    def write() -> int:
        with request.app.state.registry.session(user.username) as s:
            study = Study(
                patient_id=_patient_for(s, pseudonym).id,
                folder=str(folder),
                status="queued",
                progress=0.0,
                message="waiting for the analysis",
            )
            s.add(study)
            s.flush()
            return study.id

    study_id = await run_in_threadpool(write)
    if config.run_jobs:
        request.app.state.jobs.submit(study_id, source, folder)
    return _back(study_id)


@router.post("/register")
def register(
    request: Request,
    csrf: str = Form(""),
    pseudonym: str = Form(...),
    folder: str = Form(...),
    study_date: str = Form(""),
    user: CurrentUser = Depends(writer),
) -> Response:
    csrf_ok(request, csrf)
    path = Path(folder).expanduser().resolve()
    roots = [r.resolve() for r in request.app.state.config.import_roots]
    if not any(path == r or path.is_relative_to(r) for r in roots):
        raise HTTPException(
            status_code=403,
            detail="Analysis folders can be registered only from the server's import folders.",
        )
    with request.app.state.registry.session(user.username) as s:
        study = register_analysis(s, _patient_for(s, pseudonym), path, _date(study_date))
        study_id = study.id
    return _back(study_id)


@router.get("/api/cases/{study_id}/results")
def results_json(request: Request, study_id: int, user: CurrentUser = Depends(writer)) -> Response:
    with request.app.state.registry.session(user.username) as s:
        doc = get_live(s, Study, study_id).results
    return Response(json.dumps(doc), media_type="application/json")
