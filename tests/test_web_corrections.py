"""Clinician corrections re-run the plan: a new corrected version, the original intact.

A phantom T12-L2 (L1 crushed, graded 2 by kypho) is analysed once and registered; the
corrections then go through the web API and the corrected version is computed by the
app's own background worker from the stored CT and masks.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from kypho.imaging.orientation import world_to_voxel
from kypho.registry.models import AuditEntry, Study
from tests.web_helpers import PASSWORD, csrf_of, login, write_phantom_case


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom_case(tmp_path_factory.mktemp("imports") / "case", (1.5, 1.5, 1.5))


@pytest.fixture
def app(case_folder: Path, tmp_path: Path):
    from kypho.registry.db import open_registry
    from kypho.registry.store import add_patient, register_analysis
    from kypho.web.app import AppConfig, create_app
    from kypho.web.security import add_user

    registry = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with registry.session("setup") as s:
        add_user(s, "clinician", PASSWORD, "clinician")
        sid = register_analysis(s, add_patient(s, "P-7"), case_folder).id
    app = create_app(registry, AppConfig(data_dir=tmp_path / "data",
                                         import_roots=(case_folder.parent,)))
    client = TestClient(app)
    login(client, "clinician")
    yield app, client, sid
    app.state.jobs.shutdown()
    registry.dispose()


def _finding_ids(app, sid: int) -> dict[str, int]:
    with app.state.registry.session() as s:
        return {f.level: f.id for f in s.get(Study, sid).findings}


def _latest_version(app, client: TestClient, sid: int, timeout_s: float = 120) -> Study:
    """The live corrected version of ``sid`` once its job has finished."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with app.state.registry.session() as s:
            new = s.query(Study).filter(Study.derived_from_id == sid,
                                        Study.deleted_at.is_(None)).one_or_none()
            if new is not None and new.status in ("ready", "failed"):
                assert new.status == "ready", new.message
                s.expunge(new)
                return new
        time.sleep(0.2)
    raise AssertionError("the corrected version did not finish")


def _digest(app, sid: int) -> str:
    with app.state.registry.session() as s:
        return hashlib.sha256(json.dumps(s.get(Study, sid).results, sort_keys=True)
                              .encode()).hexdigest()


def _plan(app, study_id: int) -> dict[str, dict]:
    with app.state.registry.session() as s:
        doc = s.get(Study, study_id).results
    return {lv["level"]: lv for lv in doc["plan"]["levels"]}


def test_grade_override_exclusion_and_treated_levels_rerun_the_plan(app, case_folder):
    app, c, sid = app
    before = _digest(app, sid)
    assert list(_plan(app, sid)) == ["L1"]
    ids = _finding_ids(app, sid)
    token = csrf_of(c, f"/cases/{sid}")
    # T12 graded 2 by the clinician: it becomes a candidate and is planned.
    r = c.post(f"/cases/{sid}/findings/{ids['T12']}", data={"csrf": token, "grade": "2"},
               follow_redirects=False)
    assert r.status_code == 303
    first = _latest_version(app, c, sid)
    plan = _plan(app, first.id)
    assert sorted(plan) == ["L1", "T12"]
    # The original's treat form offers T12 too (not in its own plan, fractured now).
    assert 'class="candidate"><td><input type="checkbox" name="levels" value="T12"' in c.get(
        f"/cases/{sid}").text
    t12 = plan["T12"]
    assert t12["recommendation"] == "balloon_kyphoplasty", t12["reasons"]
    # The new trajectories end inside T12 of the stored label map (independent of the plan).
    img = nib.load(str(case_folder / "labels.nii.gz"))
    labels = np.asarray(img.dataobj)
    targets = np.array([t["target_ras_mm"] for t in t12["trajectories"]])
    idx = np.rint(world_to_voxel(img.affine, targets)).astype(int)
    assert len(targets) == 2 and all(labels[tuple(i)] == 19 for i in idx)
    assert t12["balloon"]["total_inflation_ml"] > 0
    # Exclude L1: it leaves the plan and the worklist columns of the corrected version.
    token = csrf_of(c, f"/cases/{sid}")
    c.post(f"/cases/{sid}/findings/{ids['L1']}", data={"csrf": token, "excluded": "on"})
    second = _latest_version(app, c, sid)
    assert second.id != first.id and list(_plan(app, second.id)) == ["T12"]
    assert second.fractured_levels == "T12" and second.worst_grade == 2
    # The original analysis is intact; the earlier version was superseded, not erased.
    assert _digest(app, sid) == before and list(_plan(app, sid)) == ["L1"]
    with app.state.registry.session() as s:
        old = s.get(Study, first.id)
        assert old.deleted_at is not None and old.status == "superseded"
        inserted = s.query(AuditEntry).filter(AuditEntry.table_name == "study",
                                              AuditEntry.row_id == second.id,
                                              AuditEntry.action == "insert").one()
        assert inserted.actor == "clinician"
    # The report and the case page show what was corrected and which numbers moved.
    report = c.get(f"/cases/{second.id}/files/report").text
    assert "<h2>Corrections</h2>" in report and "T12: Genant grade set to 2" in report
    assert "L1 excluded" in report
    assert "Fractured levels<b>T12</b>" in report  # the excluded L1 is no fracture any more
    assert "<td>plan T12: recommendation</td><td>not planned</td><td>balloon kyphoplasty</td>" \
        in report
    assert "<td>plan L1: recommendation</td><td>balloon kyphoplasty</td><td>not planned</td>" \
        in report
    page = c.get(f"/cases/{second.id}").text
    assert "Corrected version of" in page and "clinician" in page
    assert "T12: Genant grade set to 2" in page
    assert f'href="/cases/{second.id}"' in c.get(f"/cases/{sid}").text
    # L1 back in; then the treated levels chosen on the corrected version's page restrict
    # the next version's plan to L1.
    token = csrf_of(c, f"/cases/{sid}")
    c.post(f"/cases/{sid}/findings/{ids['L1']}", data={"csrf": token})
    third = _latest_version(app, c, sid)
    assert sorted(_plan(app, third.id)) == ["L1", "T12"]
    r = c.post(f"/cases/{third.id}/treat", data={"csrf": token, "levels": ["L1"]},
               follow_redirects=False)
    assert r.status_code == 303
    fourth = _latest_version(app, c, sid)
    assert list(_plan(app, fourth.id)) == ["L1"]
    page = c.get(f"/cases/{fourth.id}").text
    assert "Treated levels chosen: L1" in page
    assert "plan T12: recommendation</td><td>not planned</td><td>not planned" not in page


def test_shift_relabels_masks_and_plan(app, case_folder):
    app, c, sid = app
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(f"/cases/{sid}/shift", data={"csrf": token, "offset": "1"},
               follow_redirects=False)
    assert r.status_code == 303
    new = _latest_version(app, c, sid)
    assert list(_plan(app, new.id)) == ["L2"]
    with app.state.registry.session() as s:
        assert [f.level for f in s.get(Study, new.id).findings] == ["L1", "L2", "L3"]
    original = np.asarray(nib.load(str(case_folder / "labels.nii.gz")).dataobj)
    shifted = np.asarray(nib.load(str(Path(new.folder) / "labels.nii.gz")).dataobj)
    # Same voxels, each vertebra one VerSe label lower in the spine (T12 19 -> L1 20 ...).
    assert np.array_equal(shifted[original > 0], original[original > 0] + 1)
    assert "<td>L1 -&gt; L2: name</td>" in c.get(f"/cases/{new.id}/files/report").text


def test_two_vertebrae_one_name_refused(app):
    app, c, sid = app
    ids = _finding_ids(app, sid)
    token = csrf_of(c, f"/cases/{sid}")
    r = c.post(f"/cases/{sid}/findings/{ids['T12']}", data={"csrf": token, "level": "L1"})
    assert r.status_code == 400 and "two vertebrae would be called L1" in r.text
    with app.state.registry.session() as s:
        assert s.query(Study).filter(Study.derived_from_id == sid).count() == 0
        assert s.get(Study, sid).findings[0].corrected_level is None
