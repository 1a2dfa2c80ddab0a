"""The planned kyphoplasty simulated on a phantom through the pipeline's records (2 mm)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kypho.phantom import FractureSpec, PhantomConfig, generate, truth_segmentation, truth_spine
from kypho.plan.plan import plan_levels
from kypho.simulate.patient import simulate_plan
from kypho.simulate.records import to_dict


@pytest.fixture(scope="module")
def simulated():  # type: ignore[no-untyped-def]
    cfg = PhantomConfig(top="T12", bottom="L2", spacing_mm=(1.5, 1.5, 2.0),
                        include_sacrum=False, ribs=False,
                        fractures=(FractureSpec("L1", "crush", 0.3),))
    ph = generate(cfg)
    seg, spine = truth_segmentation(ph), truth_spine(ph)
    plan = plan_levels(ph.volume, seg, spine)
    return plan, simulate_plan(ph.volume, seg, spine, plan, resolution_mm=2.0)


def test_planned_level_is_simulated_with_the_plans_balloons(simulated) -> None:  # type: ignore[no-untyped-def]
    plan, sim = simulated
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
    _, sim = simulated
    assert sim.calibration.source.startswith("internal reference")
    doc = json.loads(json.dumps(to_dict(sim)))
    fit = doc["calibration"]["fit"]
    assert set(fit["tissues"]) == {"air", "fat", "muscle"}
    assert fit["r_squared"] > 0.99
    (lv,) = doc["levels"]
    assert lv["inflation"]["steps"][-1]["heights_mm"]["hm"] > 0
    assert lv["cement"]["planned_ml"] is not None
    assert lv["fe_pre"]["fragility_pipeline_specific"]["female"] in {
        "fragile", "low strength", "normal"}
