"""Web app security rules: login, roles, CSRF, rate limit, traversal, upload limits."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient

from tests.registry_helpers import postgres_url  # noqa: F401
from tests.web_helpers import csrf_of, login, web  # noqa: F401

GETS = [
    "/cases",
    "/cases/{id}",
    "/cases/{id}/plan",
    "/cases/{id}/files/ct",
    "/jobs/{id}",
    "/cohort",
    "/cohort/figure/nrs.png",
    "/export/outcomes.csv",
    "/export/fhir/1.json",
    "/upload",
    "/api/cases/{id}/results",
    "/admin/users",
]
POSTS = [
    "/cases/{id}/findings/1",
    "/cases/{id}/treat",
    "/cases/{id}/procedure",
    "/cases/{id}/visit",
    "/cases/{id}/eligibility",
    "/upload",
    "/register",
    "/logout",
    "/cases/{id}/shift",
    "/admin/users",
    "/admin/users/1/disable",
]


def test_nothing_without_login(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    for path in GETS:
        r = c.get(path.format(id=sid), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    for path in POSTS:
        r = c.post(path.format(id=sid), data={}, follow_redirects=False)
        assert r.status_code in (303, 403, 422), path
        assert r.status_code != 200
    assert c.get("/login").status_code == 200


def test_login_wrong_password_and_rate_limit(web):  # noqa: F811
    app, _sid, _ = web
    c = TestClient(app)
    assert login(c, "clinician", "wrong password!") == 401
    for _ in range(4):
        login(c, "clinician", "wrong password!")
    # Five failures: even the right password is refused for a while.
    assert login(c, "clinician") == 429
    other = TestClient(app)
    assert login(other, "researcher") == 429  # same client address, also limited


def test_csrf_required(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    assert login(c, "clinician") == 303
    r = c.post(f"/cases/{sid}/treat", data={"levels": ["T12"]}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post(
        f"/cases/{sid}/treat", data={"levels": ["T12"], "csrf": "forged"}, follow_redirects=False
    )
    assert r.status_code == 403
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(
        f"/cases/{sid}/treat", data={"levels": ["T12"], "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 303
    # Login itself needs the token too.
    fresh = TestClient(app)
    r = fresh.post("/login", data={"username": "clinician", "password": "x" * 12})
    assert r.status_code == 403


def test_researcher_is_read_only_and_deidentified(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    assert login(c, "researcher") == 303
    page = c.get(f"/cases/{sid}")
    assert page.status_code == 200 and "P-100" in page.text and "Jane Roe" not in page.text
    assert 'name="csrf"' in page.text  # only the logout form
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(
        f"/cases/{sid}/treat", data={"levels": ["T12"], "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 403
    assert c.get(f"/cases/{sid}/files/ct").status_code == 403
    assert c.get("/upload").status_code == 403
    assert c.get("/export/fhir/1.json?identified=true").status_code == 403
    assert "Jane" not in c.get("/export/fhir/1.json").text
    clin = TestClient(app)
    login(clin, "clinician")
    assert "Jane Roe" in clin.get(f"/cases/{sid}").text


def test_file_routes_fixed_names_only(web):  # noqa: F811
    app, sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    ct = c.get(f"/cases/{sid}/files/ct")
    assert ct.status_code == 200 and ct.content[:2] == b"\x1f\x8b"  # gzip
    assert c.get(f"/cases/{sid}/files/labels").status_code == 200
    for name in [
        "results.json",
        "..%2F..%2Fetc%2Fpasswd",
        "../../etc/passwd",
        "%2e%2e",
        "ct.nii.gz",
        "levels",
    ]:
        r = c.get(f"/cases/{sid}/files/{name}")
        assert r.status_code == 404, name
    assert c.get("/cases/999/files/ct").status_code == 400  # unknown study: one sentence


def test_register_only_inside_import_roots(web, tmp_path):  # noqa: F811
    app, _sid, imports = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, "/upload")
    for folder in [
        str(tmp_path),
        "/etc",
        str(imports / ".." / "data"),
        str(imports / "case1" / ".." / ".."),
    ]:
        r = c.post(
            "/register",
            data={"pseudonym": "P-7", "folder": folder, "csrf": token},
            follow_redirects=False,
        )
        assert r.status_code == 403, folder
    r = c.post(
        "/register",
        data={"pseudonym": "P-7", "folder": str(imports / "case1"), "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_upload_limits(web):  # noqa: F811
    app, _sid, _ = web
    c = TestClient(app)
    login(c, "clinician")
    token = csrf_of(c, "/upload")
    big = io.BytesIO(b"\0" * (64 * 1024 + 1))
    r = c.post(
        "/upload",
        data={"pseudonym": "P-8", "csrf": token},
        files={"ct": ("ct.nii.gz", big, "application/gzip")},
        follow_redirects=False,
    )
    assert r.status_code == 413
    r = c.post(
        "/upload",
        data={"pseudonym": "P-8", "csrf": token},
        files={"ct": ("notes.txt", io.BytesIO(b"hello"), "text/plain")},
    )
    assert r.status_code == 400 and "upload a CT" in r.text
    # Nothing of the refused uploads is left behind.
    studies = app.state.config.data_dir / "studies"
    assert not studies.exists() or not any(studies.iterdir())


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_admin_manages_accounts(web):  # noqa: F811
    app, _sid, _ = web
    clin = TestClient(app)
    login(clin, "clinician")
    assert clin.get("/admin/users").status_code == 403
    adm = TestClient(app)
    login(adm, "admin")
    token = csrf_of(adm, "/admin/users")
    r = adm.post(
        "/admin/users",
        data={
            "csrf": token,
            "username": "newdoc",
            "password": "a long password",
            "role": "clinician",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert login(TestClient(app), "newdoc", "a long password") == 303
    weak = adm.post(
        "/admin/users",
        data={"csrf": token, "username": "weak", "password": "short", "role": "clinician"},
    )
    assert weak.status_code == 400 and "at least 10" in weak.text
    page = adm.get("/admin/users").text
    uid = re.search(r'/admin/users/(\d+)/disable"', page.split("newdoc")[1]).group(1)
    adm.post(f"/admin/users/{uid}/disable", data={"csrf": token})
    assert login(TestClient(app), "newdoc", "a long password") == 401
