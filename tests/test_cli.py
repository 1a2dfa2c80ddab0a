"""End-to-end tests of the command line: the demo, outputs, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kypho.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "kypho-demo"
    result = runner.invoke(app, ["demo", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_demo_writes_report_and_results(demo_dir: Path) -> None:
    for name in ("results.json", "report.html", "labels.nii.gz", "bodies.nii.gz", "levels.json"):
        assert (demo_dir / name).is_file(), name
    doc = json.loads((demo_dir / "results.json").read_text())
    assert doc["schema_version"].startswith("2.")
    html = (demo_dir / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert "does not replace" in html or "do not replace" in html
    # Each fractured level gets a plan page with its two trajectory figures.
    planned = {p["level"]: p for p in doc["plan"]["levels"]}
    assert set(planned) == {f["level"] for f in doc["fractures"]}
    for level, p in planned.items():
        assert sorted(t["side"] for t in p["trajectories"]) == ["left", "right"], level
        assert (demo_dir / "figures" / f"plan_{level}_axial.png").is_file()
        assert f"Plan — {level}" in html


def test_demo_finds_the_true_fractures(demo_dir: Path) -> None:
    doc = json.loads((demo_dir / "results.json").read_text())
    truth = json.loads((demo_dir / "phantom" / "truth.json").read_text())
    true_fx = {v["level"]: v for v in truth["vertebrae"] if v["genant_grade"]}
    found = {v["level"]: v for v in doc["vertebrae"]}
    assert true_fx, "the demo patient must have fractures"
    for level, t in true_fx.items():
        assert level in found, f"{level} missing from results"
        assert found[level]["genant_grade"] == t["genant_grade"], level
        assert found[level]["morphotype"] == t["morphotype"], level
    graded = {v["level"] for v in doc["vertebrae"] if v["genant_grade"]}
    assert graded == set(true_fx)


def test_demo_refuses_to_overwrite_without_force(demo_dir: Path) -> None:
    before = (demo_dir / "results.json").read_bytes()
    result = runner.invoke(app, ["demo", str(demo_dir)])
    assert result.exit_code != 0
    assert "--force" in result.output
    assert "Traceback" not in result.output
    assert (demo_dir / "results.json").read_bytes() == before


def test_analyze_rejects_a_text_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a CT at all\n")
    result = runner.invoke(app, ["analyze", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "error" in result.output.lower()
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "results.json").exists()


def test_analyze_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path / "nope.nii.gz"), "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert "nope.nii.gz" in result.output


def test_plan_command_plans_the_chosen_levels(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    ct = demo_dir / "phantom" / "ct.nii.gz"
    result = runner.invoke(app, ["plan", str(ct), "--levels", "L2,L1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    plans = {p["level"]: p for p in doc["plan"]["levels"]}
    assert set(plans) == {"L1", "L2"}
    # L2 is not fractured in the demo patient: no augmentation, and the reason says why.
    assert plans["L2"]["recommendation"] == "not_suitable"
    assert "Genant 0" in plans["L2"]["reasons"][0]
    assert plans["L1"]["recommendation"] == "balloon_kyphoplasty"
    assert ct.is_file()  # the input is untouched


def test_demo_results_match_the_shipped_schema_and_read_back_exactly(demo_dir: Path) -> None:
    import jsonschema

    from kypho.model import load_results, results_to_json
    from kypho.model.serialize import SCHEMA_PATH, json_text

    text = (demo_dir / "results.json").read_text(encoding="utf-8")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(text))
    back = load_results(demo_dir / "results.json")
    assert json_text(results_to_json(back)) == text
    assert back.plan is not None and {p.level.display for p in back.plan.levels} == {
        v.level.display for v in back.spine.fractures  # type: ignore[union-attr]
    }
