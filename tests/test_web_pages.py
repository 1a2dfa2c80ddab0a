"""Web app pages and forms end to end through the API (FastAPI TestClient)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kypho.registry.models import AuditEntry, Study
from kypho.web.app import AppConfig, create_app
from tests.registry_helpers import postgres_url  # noqa: F401
from tests.web_helpers import csrf_of, login, web  # noqa: F401

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "totalseg_example"


def _finding_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'/findings/(\d+)"', html)]


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_case_list_filters(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    assert f"/cases/{sid}" in c.get("/cases").text
    assert f"/cases/{sid}" in c.get("/cases?grade=3&level=L1&density=osteoporosis").text
    assert f"/cases/{sid}" not in c.get("/cases?level=L4").text
    assert f"/cases/{sid}" not in c.get("/cases?density=normal").text
    assert f"/cases/{sid}" not in c.get("/cases?status=treated").text
    assert c.get("/cases?grade=x").status_code == 400


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_case_page_correction_and_report(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    page = c.get(f"/cases/{sid}")
    assert page.status_code == 200
    assert "niivue.umd.js" in page.text and '"level": "L1"' in page.text
    assert "22513 + 22515" in page.text  # T12 + L1 chosen by the plan
    l1 = _finding_ids(page.text)[3]  # T10, T11, T12, L1
    token = csrf_of(c, f"/cases/{sid}")
    # Renaming L1 to L2 alone would leave two L2: refused; L2 (and everything below) moved
    # to L3.. first makes room.
    clash = c.post(f"/cases/{sid}/findings/{l1}", data={"csrf": token, "level": "L2"})
    assert clash.status_code == 400 and "two vertebrae would be called L2" in clash.text
    for old, new in [("L5", "L6"), ("L4", "L5"), ("L3", "L4"), ("L2", "L3")]:
        fid = _finding_ids(page.text)[["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
                                      .index(old)]
        r = c.post(f"/cases/{sid}/findings/{fid}", data={"csrf": token, "level": new},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
    r = c.post(
        f"/cases/{sid}/findings/{l1}",
        data={"csrf": token, "level": "L2", "grade": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(f"/cases/{sid}").text
    assert "(was L1)" in page and "(was 3)" in page and 'id="corrections"' in page
    # This registered folder has no bodies.nii.gz and a 1.x results.json: no new version.
    assert 'id="not-rerun"' in page and 'id="corrected-version"' not in page
    # The case list now finds it at L2, not L1, and its worst grade is 2 (T12).
    assert f"/cases/{sid}" in c.get("/cases?level=L2").text
    assert f"/cases/{sid}" not in c.get("/cases?grade=3").text
    with app.state.registry.session() as s:
        trail = s.scalars(select(AuditEntry).where(AuditEntry.actor == "clinician")).all()
        assert {e.table_name for e in trail} >= {"vertebra_finding", "study"}
    bad = c.post(f"/cases/{sid}/findings/{l1}", data={"csrf": token, "level": "Q7"})
    assert bad.status_code == 400 and "not a thoracic" in bad.text
    assert c.get(f"/cases/{sid}/plan").status_code == 200
    assert "report" in c.get(f"/cases/{sid}/files/report").text


def test_followup_changes_dashboard_and_exports(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, f"/cases/{sid}")
    before = c.get("/cohort").text
    assert "0 instrument responses" in before
    base = {
        "csrf": token,
        "timepoint": "baseline",
        "nrs": "8",
        "eq5d5l": "33343",
        "rmdq_used": "on",
        **{f"rmdq{i}": "on" for i in range(1, 20)},
        **{f"odi{i}": "4" for i in range(1, 11)},
    }
    assert c.post(f"/cases/{sid}/visit", data=base, follow_redirects=False).status_code == 303
    m1 = {
        "csrf": token,
        "timepoint": "m1",
        "nrs": "3",
        "odi1": "1",
        "odi2": "1",
        "visit_date": "2026-02-01",
        "new_fracture_levels": "L3",
    }
    assert c.post(f"/cases/{sid}/visit", data=m1, follow_redirects=False).status_code == 303
    dash = c.get("/cohort").text
    assert "7 instrument responses" in dash  # 5 at baseline (EQ-5D twice), 2 at m1
    assert 'data-instrument="nrs"' in dash and "1 of 1 followed" in dash
    png = c.get("/cohort/figure/nrs.png")
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert c.get("/cohort/figure/evil.png").status_code == 404
    rows = list(csv.DictReader(io.StringIO(c.get("/export/outcomes.csv").text)))
    odi_m1 = next(r for r in rows if r["timepoint"] == "m1" and r["instrument"] == "odi")
    assert odi_m1["valid"] == "False"  # 8 of 10 sections missing
    rmdq = next(r for r in rows if r["instrument"] == "rmdq")
    assert float(rmdq["score"]) == 19
    fhir = c.get("/export/fhir/1.json").json()
    assert fhir["resourceType"] == "Bundle"
    bad = c.post(f"/cases/{sid}/visit", data={"csrf": token, "timepoint": "m3", "nrs": "14"})
    assert bad.status_code == 400 and "NRS" in bad.text


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_procedure_and_checklist_forms(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(
        f"/cases/{sid}/procedure",
        data={
            "csrf": token,
            "performed_on": "2026-01-03",
            "levels": "T12,L1",
            "approach": "bilateral",
            "cement_volume_ml": "6.5",
            "balloon_volumes": "T12=3.0/2.8, L1=3.2/3.1",
            "balloon_pressures": "L1=12/11",
            "leakage": "on",
            "leakage_types": "B",
            "anaesthesia": "sedation",
            "duration_min": "75",
            "overnight_stay": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(f"/cases/{sid}").text
    assert "2026-01-03: T12,L1, bilateral" in page and "leakage B" in page
    assert f"/cases/{sid}" in c.get("/cases?status=treated").text
    r = c.post(
        f"/cases/{sid}/eligibility",
        data={"csrf": token, "infection": "yes", "acuity_confirmed": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(f"/cases/{sid}").text
    assert re.search(r'st-not_met"><td>1c</td><td>absolute: active infection', page)


def test_upload_runs_analysis_in_background(tmp_path):
    from kypho.registry.db import open_registry
    from kypho.web.security import add_user
    from tests.web_helpers import PASSWORD

    registry = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with registry.session() as s:
        add_user(s, "clinician", PASSWORD, "clinician")
    app = create_app(registry, AppConfig(data_dir=tmp_path / "data"))
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, "/upload")
    with (DATA / "ct.nii.gz").open("rb") as f:
        r = c.post(
            "/upload",
            data={"pseudonym": "UP-1", "csrf": token},
            files={"ct": ("ct.nii.gz", f, "application/gzip")},
            follow_redirects=False,
        )
    assert r.status_code == 303
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = c.get(f"/jobs/{sid}").json()
        seen.add(job["status"])
        if job["status"] in ("ready", "failed"):
            break
        time.sleep(0.2)
    app.state.jobs.shutdown()
    assert job["status"] == "ready", job
    assert seen & {"queued", "running"}
    with registry.session() as s:
        study = s.get(Study, sid)
        # The reference masks name T12-L5 (T11 is only a sliver in the field of view).
        levels = [f.level for f in study.findings]
        assert levels[:3] == ["T12", "L1", "L2"] and "L5" in levels
        folder = Path(study.folder)
    assert (folder / "results.json").is_file() and (folder / "labels.nii.gz").is_file()
    assert c.get(f"/cases/{sid}/files/ct").status_code == 200
    registry.dispose()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_shift_numbering(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(f"/cases/{sid}/shift", data={"csrf": token, "offset": "-1"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/cases/{sid}").text
    assert "T11 <small>(was T12)</small>" in page
    assert f"/cases/{sid}" in c.get("/cases?level=T11").text
    assert c.post(f"/cases/{sid}/shift", data={"csrf": token, "offset": "7"}).status_code == 400


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_zip_upload_unpacked_flat(web, tmp_path):  # noqa: F811
    import zipfile

    app, _sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, "/upload")
    archive = tmp_path / "series.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("series/IM0001.dcm", b"DICM" * 10)
        zf.writestr("../../escape.dcm", b"DICM" * 10)
        zf.writestr("/abs/IM0002.dcm", b"DICM" * 10)
    with archive.open("rb") as f:
        r = c.post(
            "/upload",
            data={"pseudonym": "ZIP-1", "csrf": token},
            files={"ct": ("series.zip", f, "application/zip")},
            follow_redirects=False,
        )
    assert r.status_code == 303
    studies = app.state.config.data_dir / "studies"
    (folder,) = list(studies.iterdir())
    files = sorted(p.name for p in (folder / "dicom").iterdir())
    assert files == ["000000_IM0001.dcm", "000001_escape.dcm", "000002_IM0002.dcm"]
    assert not (app.state.config.data_dir / "escape.dcm").exists()
    assert not (studies / "escape.dcm").exists()
    assert "queued" in c.get("/cases").text
