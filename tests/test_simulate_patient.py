"""The planned kyphoplasty simulated on a phantom through the pipeline's records (2 mm)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from kypho.model import Results, Study, load_results, results_schema, results_to_json
from kypho.model.serialize import SCHEMA_PATH, json_text, to_json
from kypho.phantom import FractureSpec, PhantomConfig, generate, truth_segmentation, truth_spine
from kypho.plan.plan import plan_levels
from kypho.simulate.patient import simulate_plan


@pytest.fixture(scope="module")
def simulated():  # type: ignore[no-untyped-def]
    cfg = PhantomConfig(top="T12", bottom="L2", spacing_mm=(1.5, 1.5, 2.0),
                        include_sacrum=False, ribs=False,
                        fractures=(FractureSpec("L1", "crush", 0.3),))
    ph = generate(cfg)
    seg, spine = truth_segmentation(ph), truth_spine(ph)
    plan = plan_levels(ph.volume, seg, spine)
    sim = simulate_plan(ph.volume, seg, spine, plan, resolution_mm=2.0)
    results = Results(study=Study.from_volume(ph.volume), segmentation=seg.summary,
                      spine=spine, plan=plan, simulation=sim)
    return plan, sim, results


def test_planned_level_is_simulated_with_the_plans_balloons(simulated) -> None:  # type: ignore[no-untyped-def]
    plan, sim, _ = simulated
    lp = plan.level("L1")
    (lv,) = sim.levels
    assert lv.level == "L1"
    assert set(lv.inflation) == {p.side for p in lp.balloon.placements}
    for r in lv.inflation.values():
        vols = [s.volume_ml for s in r.steps]
        assert np.all(np.diff(vols) > 0) and vols[-1] <= lp.balloon.max_fill_ml + 1e-9
        assert max(s.pressure_mpa for s in r.steps) <= lp.balloon.max_pressure_kpa / 1000
        # the fractured body's endplates are lifted, more anteriorly than posteriorly
        ha, hm, hp = r.final.gain_mm
        assert hm > 0 and hp <= hm <= ha
    assert lv.planned_cement_ml == pytest.approx(lp.cement.total_ml)
    # FE-solved elastic lift: positive, and far below the rigid-plate gain of a mobile body
    rigid = max(r.final.gain_mm[1] for r in lv.inflation.values())
    assert 0 < lv.elastic_lift.lift_mm < 0.5 * rigid
    assert lv.fe_pre.stiffness_n_per_mm > 0
    # the cranial neighbour (T12) is stacked above and loaded through a disc
    assert lv.adjacent is not None and lv.adjacent.mean_pre_mpa > 0
    assert abs(lv.adjacent.mean_change_pct) < 50
    if lv.cement.fill_fraction >= 0.30:
        assert lv.fe_post.stiffness_n_per_mm >= lv.fe_pre.stiffness_n_per_mm


def test_calibration_is_internal_and_reported(simulated) -> None:  # type: ignore[no-untyped-def]
    _, sim, _ = simulated
    assert sim.calibration.source.startswith("internal reference")
    doc = json.loads(json.dumps(to_json(sim)))
    fit = doc["calibration"]["fit"]
    assert set(fit["tissues"]) == {"air", "fat", "muscle"}
    assert fit["r_squared"] > 0.99
    (lv,) = doc["levels"]
    assert lv["inflation"]["steps"][-1]["heights_mm"]["hm"] > 0
    assert lv["cement"]["planned_ml"] is not None
    assert lv["fe_pre"]["fragility_pipeline_specific"]["female"] in {
        "fragile", "low strength", "normal"}


def test_results_with_a_simulation_validate_and_read_back_exactly(simulated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, sim, results = simulated
    doc = results_to_json(results)
    shipped = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(shipped).validate(doc)
    assert shipped == results_schema()
    # the section is declared, not free-form: a stray key is refused
    bad = json.loads(json_text(doc))
    bad["simulation"]["levels"][0]["cement"]["volume_mL"] = 1.0
    assert not jsonschema.Draft202012Validator(shipped).is_valid(bad)
    path = tmp_path / "results.json"
    path.write_text(json_text(doc), encoding="utf-8")
    back = load_results(path)
    assert back.simulation is not None
    (lv,), (orig,) = back.simulation.levels, sim.levels
    # the records read back are the simulated ones to the precision written ...
    assert lv.fe_pre.stiffness_n_per_mm == round(orig.fe_pre.stiffness_n_per_mm)
    assert lv.cement.fill_fraction == round(orig.cement.fill_fraction, 3)
    assert lv.cement.mask is None and orig.cement.mask is not None
    for side, r in orig.inflation.items():
        assert lv.inflation[side].cavity_voxels == int(r.cavity.sum()) > 0
        assert lv.inflation[side].final.gain_mm == pytest.approx(r.final.gain_mm, abs=0.005)
    assert back.simulation.calibration_fit.voxels == sim.calibration_fit.voxels
    # ... and writing them again gives the same document, byte for byte.
    assert json_text(results_to_json(back)) == json_text(doc)
    assert load_results(path) == back
