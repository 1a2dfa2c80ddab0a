"""Registry operations: importing analyses, corrections, procedures and visits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kypho.registry.errors import InvalidResponseError, RegistryError
from kypho.registry.models import AuditEntry, InstrumentResponse, Study
from kypho.registry.store import (
    add_patient,
    correct_finding,
    record_procedure,
    record_visit,
    register_analysis,
    set_treated_levels,
)
from tests.registry_helpers import make_results, registry  # noqa: F401

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "totalseg_example"


def _folder(tmp_path: Path, doc: dict) -> Path:
    folder = tmp_path / "analysis"
    folder.mkdir(exist_ok=True)
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


def test_register_analysis_columns_findings_plan(registry, tmp_path):  # noqa: F811
    folder = _folder(tmp_path, make_results({"T12": 2, "L1": 3}))
    with registry.session("dr") as s:
        p = add_patient(s, "P-1", identity={"name": "Jane Roe"})
        study = register_analysis(s, p, folder)
        sid = study.id
    with registry.session() as s:
        study = s.get(Study, sid)
        assert (study.worst_grade, study.fracture_count) == (3, 2)
        assert study.fractured_levels == "T12,L1"
        assert study.density_class == "osteoporosis" and study.reference_hu == 92.0
        assert study.results["schema_version"] == "1.0.0"
        assert [f.level for f in study.findings][:3] == ["T10", "T11", "T12"]
        assert {p.level: p.treat for p in study.planned} == {"T12": True, "L1": True}


def test_register_refuses_other_major_and_missing(registry, tmp_path):  # noqa: F811
    doc = make_results()
    doc["schema_version"] = "9.0.0"
    folder = _folder(tmp_path, doc)
    with registry.session() as s:
        p = add_patient(s, "P-2")
        with pytest.raises(RegistryError, match=r"9\.0\.0"):
            register_analysis(s, p, folder)
        with pytest.raises(RegistryError, match=r"no results\.json"):
            register_analysis(s, p, tmp_path / "nothing")


def test_correction_recomputes_and_is_audited(registry, tmp_path):  # noqa: F811
    folder = _folder(tmp_path, make_results({"T12": 2, "L1": 3}))
    with registry.session() as s:
        study = register_analysis(s, add_patient(s, "P-3"), folder)
        ids = {f.level: f.id for f in study.findings}
        sid = study.id
    with registry.session("dr_fix") as s:
        correct_finding(s, ids["L1"], excluded=True)
        correct_finding(s, ids["T12"], level="T11", grade=1)
    with registry.session() as s:
        study = s.get(Study, sid)
        assert (study.fracture_count, study.worst_grade, study.fractured_levels) == (1, 1, "T11")
        trail = s.scalars(select(AuditEntry).where(AuditEntry.actor == "dr_fix")).all()
        changed = {(e.table_name, k) for e in trail for k in e.after}
        assert ("vertebra_finding", "excluded") in changed
        assert ("vertebra_finding", "grade_override") in changed
        assert ("study", "worst_grade") in changed
        with pytest.raises(RegistryError, match="not a thoracic"):
            correct_finding(s, ids["L2"], level="X9")
        with pytest.raises(RegistryError, match="not in the plan"):
            set_treated_levels(s, study, ["L4"])


def test_visits_score_and_replace(registry):  # noqa: F811
    with registry.session() as s:
        p = add_patient(s, "P-4")
        record_visit(s, p, "baseline", {"nrs": 8, "odi": [3] * 10, "eq5d5l_us": "12345"})
        record_visit(s, p, "m1", {"nrs": 3, "odi": [1] * 9 + [None]})
        record_visit(s, p, "m1", {"nrs": 2})  # a correction of the 1-month NRS
        with pytest.raises(InvalidResponseError):
            record_visit(s, p, "m3", {"nrs": 12})
        proc = record_procedure(
            s,
            p,
            performed_on=__import__("datetime").date(2026, 1, 2),
            levels="t12, L1",
            approach="bilateral",
            cement_volume_ml=6.5,
        )
        assert proc.levels == "T12,L1"
        with pytest.raises(RegistryError, match="approach"):
            record_procedure(s, p, levels="L1", approach="sideways")
    with registry.session() as s:
        live = s.scalars(
            select(InstrumentResponse).where(InstrumentResponse.deleted_at.is_(None))
        ).all()
        by = {(r.visit.timepoint, r.instrument): r.score for r in live}
        assert by[("baseline", "odi")] == pytest.approx(60.0)
        assert by[("baseline", "eq5d5l_us")] == pytest.approx(0.171)
        assert by[("m1", "odi")] == pytest.approx(20.0)
        assert by[("m1", "nrs")] == 2
        assert len(s.scalars(select(InstrumentResponse)).all()) == len(live) + 1


@pytest.fixture(scope="module")
def real_analysis(tmp_path_factory) -> Path:
    if not DATA.is_dir():
        pytest.skip("../shared/data not present")
    out = tmp_path_factory.mktemp("real") / "out"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "kypho",
            "analyze",
            str(DATA / "ct.nii.gz"),
            "--masks",
            str(DATA / "segmentations"),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


def test_register_real_analysis(real_analysis, tmp_path):
    from kypho.registry.db import open_registry

    reg = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    shutil.copytree(real_analysis, tmp_path / "a")
    with reg.session() as s:
        study = register_analysis(s, add_patient(s, "REAL-1"), tmp_path / "a")
        levels = [f.level for f in study.findings]
        assert levels[:7] == ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
        l1 = next(f for f in study.findings if f.level == "L1")
        assert 15 < l1.height_anterior_mm < 40  # an adult lumbar body
        assert study.fracture_count == 0 and study.planned == []
    reg.dispose()


def test_shift_levels(registry, tmp_path):  # noqa: F811
    from kypho.registry.store import shift_levels

    folder = _folder(tmp_path, make_results({"T12": 2}))
    with registry.session() as s:
        study = register_analysis(s, add_patient(s, "P-5"), folder)
        shift_levels(s, study, -1)
        names = [f.corrected_level or f.level for f in study.findings]
        assert names == ["T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4"]
        assert study.fractured_levels == "T11"
        shift_levels(s, study, +2)
        assert [f.corrected_level or f.level for f in study.findings][-1] == "L6"
        with pytest.raises(RegistryError, match="leaves T1-L6"):
            shift_levels(s, study, +1)
        shift_levels(s, study, -1)
        assert all(f.corrected_level is None for f in study.findings)
        assert study.fractured_levels == "T12"


def test_current_schema_goes_through_the_model(real_analysis, tmp_path):
    """A 2.x results.json is validated by kypho.model: a negative height is refused."""
    pytest.importorskip("kypho.model")
    from kypho.registry.db import open_registry

    doc = json.loads((real_analysis / "results.json").read_text())
    assert doc["schema_version"].startswith("2.")
    v = next(v for v in doc["vertebrae"] if v["heights_mm"])
    v["heights_mm"]["anterior"] = -5.0
    folder = _folder(tmp_path, doc)
    reg = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with reg.session() as s, pytest.raises(RegistryError, match="not a readable"):
        register_analysis(s, add_patient(s, "BAD-1"), folder)
    reg.dispose()
