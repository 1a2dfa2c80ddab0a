"""results.json 1.x documents (a real 1.0.0 file) read by the 2.x model through a migration."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from kypho.errors import ResultsFormatError
from kypho.model import load_results
from kypho.model.serialize import results_schema, results_to_json
from kypho.model.study import SCHEMA_VERSION

OLD = Path(__file__).parent / "data" / "results_1.0.0.json"


def test_a_1_0_0_document_loads_with_its_numbers_and_a_trace_of_the_migration() -> None:
    doc = json.loads(OLD.read_text())
    assert doc["schema_version"] == "1.0.0"
    results = load_results(OLD)
    written = {v["level"]: v for v in doc["vertebrae"]}
    assert results.spine is not None and {v.level.display for v in results.spine.vertebrae} \
        == set(written)
    for v in results.spine.vertebrae:
        old = written[v.level.display]
        assert v.body_volume_ml == pytest.approx(old["body_volume_ml"])
        assert v.trabecular_hu_median == pytest.approx(old["trabecular_hu_median"])
        grade = None if v.genant_grade is None else int(v.genant_grade)
        assert grade == old["genant_grade"]
    (level,) = results.plan.levels  # type: ignore[union-attr]
    (old_level,) = doc["plan"]["levels"]
    # The plan is the plan that was made: its cement numbers are not recomputed.
    assert level.cement.total_ml == old_level["cement"]["total_ml"]
    assert level.cement.body_volume_ml == old_level["cement"]["body_volume_ml"]
    note = results.warnings[-1]
    old_findings = old_level["findings"]
    assert "1.0.0" in note and f"{old_findings['body_volume_ml']:g} mL" in note
    assert f"{old_findings['trabecular_hu_median']:g} HU" in note
    # Written again, it is a valid document of the current schema.
    again = results_to_json(results)
    assert again["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(again, results_schema())
    assert "body_volume_ml" not in again["plan"]["levels"][0]["findings"]


def test_other_majors_are_still_refused_with_the_reason(tmp_path: Path) -> None:
    doc = json.loads(OLD.read_text())
    doc["schema_version"] = "3.0.0"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsFormatError, match=r"3\.0\.0"):
        load_results(path)
