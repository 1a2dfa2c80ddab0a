"""Plan records are valid once built; leakage and cement arithmetic follow DOMAIN.md."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.errors import KyphoError
from kypho.model import BalloonPlacement, BalloonPlan, Trajectory
from kypho.model.serialize import to_json
from kypho.plan.cement import leakage_risk
from kypho.plan.devices import KPA_PER_PSI, cannula_outer_diameter_mm


def _traj(**kw: object) -> Trajectory:
    base: dict[str, object] = dict(
        side="right", approach="transpedicular", cannula_gauge=11,
        cannula_outer_diameter_mm=3.05, entry_ras_mm=(20.0, -40.0, 0.0),
        isthmus_ras_mm=(17.0, -25.0, 0.0), target_ras_mm=(8.0, 10.0, 0.0),
        skin_entry_ras_mm=None, skin_depth_mm=None, medial_angle_deg=14.4,
        craniocaudal_angle_deg=0.0, medial_angle_table_deg=14.4,
        craniocaudal_angle_table_deg=0.0,
        path_length_mm=float(np.linalg.norm([12.0, 50.0, 0.0])), isthmus_width_mm=8.0,
        isthmus_height_mm=14.0, clearance_medial_mm=2.0, clearance_lateral_mm=2.0,
        clearance_superior_mm=4.0, clearance_inferior_mm=4.0, breach=False,
    )
    base.update(kw)
    return Trajectory(**base)  # type: ignore[arg-type]


def test_valid_trajectory_builds_and_serialises() -> None:
    t = _traj()
    j = to_json(t)
    assert j["side"] == "right" and j["breach"] is False
    assert t.polyline_ras_mm().shape == (3, 3)


@pytest.mark.parametrize(
    "kw",
    [
        {"target_ras_mm": (20.0, -40.0, 0.0), "path_length_mm": 0.0},  # entry == target
        {"clearance_medial_mm": -0.5},  # negative clearance passed as OK
        {"side": "middle"},
        {"medial_angle_deg": float("nan")},
        {"path_length_mm": 10.0},  # disagrees with the points
    ],
)
def test_invalid_trajectory_raises(kw: dict) -> None:
    with pytest.raises(ValueError):
        _traj(**kw)


def test_negative_clearance_is_fine_when_flagged_as_breach() -> None:
    assert _traj(clearance_medial_mm=-0.5, breach=True).breach


def test_balloon_over_its_fill_limit_raises() -> None:
    pl = BalloonPlacement("right", (0.0, 0.0, 0.0), tuple(map(tuple, np.eye(3))),
                          (10.0, 7.0, 7.0), 3.5, True)
    with pytest.raises(ValueError):
        BalloonPlan("IBT 20/3", 20.0, 3.0, [pl], (848.0, 1207.0), 2068.0, None)
    with pytest.raises(ValueError):  # typical pressure above the ceiling
        BalloonPlan("IBT 20/3", 20.0, 3.5, [pl], (848.0, 3000.0), 2068.0, None)


def test_balloon_surface_lies_on_the_ellipsoid() -> None:
    axes = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    pl = BalloonPlacement("left", (5.0, 6.0, 7.0), tuple(map(tuple, axes)), (10.0, 6.0, 4.0),
                          1.0, True)
    loc = (pl.surface_ras_mm() - [5.0, 6.0, 7.0]) @ axes.T
    r = (loc[:, 0] / 10.0) ** 2 + (loc[:, 1] / 6.0) ** 2 + (loc[:, 2] / 4.0) ** 2
    assert np.allclose(r, 1.0)


def test_pressure_json_shows_psi_and_atm() -> None:
    pl = BalloonPlacement("right", (0.0, 0.0, 0.0), tuple(map(tuple, np.eye(3))),
                          (10.0, 5.0, 5.0), 1.0, True)
    bp = BalloonPlan("IBT 20/3", 20.0, 3.0, [pl], (848.0, 1207.0), 300 * KPA_PER_PSI, None)
    j = to_json(bp)
    assert j["max_pressure"]["psi"] == 300 and abs(j["max_pressure"]["atm"] - 20.4) < 0.1


def test_leakage_odds_ratios_combine_from_the_published_baseline() -> None:
    none = leakage_risk(cortical_disruption=False, cleft=False, planned_total_ml=4.0)
    assert abs(none.score - 0.184) < 1e-9 and none.category == "low"
    both = leakage_risk(cortical_disruption=True, cleft=True, planned_total_ml=4.0)
    odds = 0.184 / 0.816 * 5.56 * 1.40
    assert abs(both.score - odds / (1 + odds)) < 1e-9 and both.category == "high"
    vp = leakage_risk(cortical_disruption=False, cleft=False, planned_total_ml=4.0,
                      vertebroplasty=True)
    assert abs(vp.score - 0.547) < 1e-9


def test_cannula_gauges() -> None:
    assert cannula_outer_diameter_mm(11) == 3.05 and cannula_outer_diameter_mm(13) == 2.41
    with pytest.raises(ValueError):
        cannula_outer_diameter_mm(7)


def test_plan_levels_rejects_bad_input() -> None:
    from kypho.plan.plan import plan_levels

    with pytest.raises(KyphoError):
        plan_levels(None, None, None)  # type: ignore[arg-type]
