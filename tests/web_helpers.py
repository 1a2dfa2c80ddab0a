"""A web app on a temporary registry, logged-in clients and a registered demo case."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from kypho.registry.db import open_registry
from kypho.registry.store import add_patient, register_analysis
from kypho.web import security
from kypho.web.app import AppConfig, create_app
from kypho.web.security import add_user
from tests.registry_helpers import make_results, postgres_url

PASSWORD = "correct horse battery"

# Cheap Argon2 parameters for tests only (the app's defaults cost ~0.1-0.5 s per hash);
# hashing and verifying still go through argon2-cffi.
security._hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def csrf_of(client: TestClient, page: str = "/login") -> str:
    """The CSRF token a page's forms carry."""
    html = client.get(page).text
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    """Log ``client`` in; returns the status of the POST."""
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )
    return r.status_code


def write_case_folder(folder: Path) -> Path:
    """An analysis folder: results.json, a tiny CT and label map on the same grid."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = make_results({"T12": 2, "L1": 3})
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    ct = np.full((16, 16, 40), -100, np.int16)
    labels = np.zeros((16, 16, 40), np.uint8)
    n = len(doc["vertebrae"])
    for i, v in enumerate(doc["vertebrae"]):
        # Cranial first: the first vertebra is the most superior (RAS z grows upwards).
        z = 2 + 5 * (n - 1 - i)
        labels[5:11, 5:11, z : z + 4] = v["label"]
        # Height lines through the body's middle (world = 2 mm x voxel index).
        v["height_segments_ras_mm"] = {
            name: [[16.0, y, 2.0 * z], [16.0, y, 2.0 * z + 6.0]]
            for name, y in (("anterior", 12.0), ("middle", 16.0), ("posterior", 20.0))
        }
        ct[5:11, 5:11, z : z + 4] = 200
    nib.save(nib.Nifti1Image(ct, affine), folder / "ct.nii.gz")
    nib.save(nib.Nifti1Image(labels, affine), folder / "labels.nii.gz")
    (folder / "report.html").write_text("<html><body>report</body></html>")
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def web(request: pytest.FixtureRequest, tmp_path: Path):
    """(app, study_id, import root) with users clinician/researcher/admin and one case."""
    url = f"sqlite:///{tmp_path / 'r.sqlite'}" if request.param == "sqlite" else postgres_url()
    registry = open_registry(url)
    imports = tmp_path / "imports"
    folder = write_case_folder(imports / "case1")
    with registry.session("setup") as s:
        for role in ("clinician", "researcher", "admin"):
            add_user(s, role, PASSWORD, role)
        patient = add_patient(s, "P-100", identity={"name": "Jane Roe"})
        study_id = register_analysis(s, patient, folder).id
    config = AppConfig(
        data_dir=tmp_path / "data",
        max_upload_bytes=64 * 1024,
        import_roots=(imports,),
        run_jobs=False,
    )
    app = create_app(registry, config)
    yield app, study_id, imports
    registry.dispose()


def write_phantom_case(folder: Path, spacing_mm: tuple[float, float, float]) -> Path:
    """A real analysis folder of a phantom T12-L2 with L1 crushed (graded 2, planned).

    Truth masks, kypho's own measurement and plan, written as ``kypho analyze`` writes
    them, plus the CT as ``ct.nii.gz``.
    """
    from kypho.imaging.write import write_volume
    from kypho.measure.spine import measure_spine
    from kypho.outputs import write_analysis
    from kypho.phantom import FractureSpec, PhantomConfig, generate, truth_segmentation
    from kypho.pipeline import Analysis
    from kypho.plan.plan import plan_levels

    ph = generate(PhantomConfig(
        top="T12", bottom="L2", spacing_mm=spacing_mm, include_sacrum=False, ribs=False,
        fractures=(FractureSpec("L1", "crush", 0.3),),
    ))
    seg = truth_segmentation(ph)
    spine = measure_spine(ph.volume, seg)
    assert [int(v.genant_grade) for v in spine.vertebrae] == [0, 2, 0]
    write_analysis(Analysis(ph.volume, seg, spine, plan_levels(ph.volume, seg, spine)), folder)
    write_volume(folder / "ct.nii.gz", ph.volume)
    return folder
