"""Kyphoplasty planning on phantoms with exact truth (kypho.plan)."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import world_to_voxel
from kypho.measure.vertebra_region import CROP_MARGIN_MM, crop_vertebra, frame_grid
from kypho.model import Recommendation
from kypho.model.serialize import to_json
from kypho.phantom import (
    FractureSpec,
    PhantomConfig,
    generate,
    truth_segmentation,
    truth_spine,
)
from kypho.plan.findings import soft_tissue_level
from kypho.plan.plan import plan_levels


@pytest.fixture(scope="module")
def phantom():  # type: ignore[no-untyped-def]
    # Oblique, anisotropic, LPS-stored: the planner must not rely on axis-aligned 1 mm data.
    cfg = PhantomConfig(
        top="T12", bottom="L2", spacing_mm=(0.9, 0.9, 1.25), orientation="LPS",
        oblique_deg=(6.0, 0.0, 4.0), include_sacrum=False, ribs=False,
        fractures=(FractureSpec("T12", "wedge", 0.35), FractureSpec("L1", "crush", 0.3),
                   FractureSpec("L2", "biconcave", 0.3)),
        narrow_pedicles=("T12",), retropulsion_mm={"L1": 4.0},
    )
    ph = generate(cfg)
    plan = plan_levels(ph.volume, truth_segmentation(ph), truth_spine(ph))
    return ph, plan


def _inside_label(ph, label: int, pts_ras: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Nearest-voxel lookup in the phantom's own truth label map (independent of the plan)."""
    idx = np.rint(world_to_voxel(ph.vertebrae.affine, pts_ras)).astype(int)
    ok = np.all((idx >= 0) & (idx < np.array(ph.vertebrae.labels.shape)), axis=1)
    out = np.zeros(len(pts_ras), bool)
    out[ok] = ph.vertebrae.labels[idx[ok, 0], idx[ok, 1], idx[ok, 2]] == label
    return out


def _cylinder(a: np.ndarray, b: np.ndarray, radius: float, step: float = 0.5) -> np.ndarray:
    d = (b - a) / np.linalg.norm(b - a)
    e1 = np.cross(d, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    u = np.arange(0.0, np.linalg.norm(b - a), step)
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = radius * (np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2)
    return (a + u[:, None, None] * d + ring[None]).reshape(-1, 3)


def test_normal_pedicles_give_safe_paths_ending_in_anterior_third(phantom) -> None:  # type: ignore[no-untyped-def]
    ph, plan = phantom
    for name in ("L1", "L2"):
        lp = plan.level(name)
        truth = ph.truth.get(name)
        assert len(lp.trajectories) == 2
        for t in lp.trajectories:
            assert not t.breach
            assert t.clearance_medial_mm >= 1.0 and t.clearance_lateral_mm >= 1.0
            # Isthmus width agrees with the phantom's truth (perpendicular to the path).
            assert abs(t.isthmus_width_mm - truth.pedicle_isthmus_width_mm[t.side]) <= 1.0
            # Independent check on the truth mask: the cannula (radius + 0.5 mm) stays in
            # bone from the isthmus region to the target.
            entry, isth, target = map(np.asarray, (t.entry_ras_mm, t.isthmus_ras_mm,
                                                   t.target_ras_mm))
            d = (target - entry) / np.linalg.norm(target - entry)
            start = isth - 5.0 * d
            pts = _cylinder(start, target, 0.5 * t.cannula_outer_diameter_mm + 0.5)
            assert _inside_label(ph, int(truth.level), pts).mean() > 0.995
            # Target in the anterior third of the body, on the planned side of the midline.
            local = truth.frame.to_local(target)
            depth_from_posterior = (local[1] + 0.5 * truth.ap_depth_mm) / truth.ap_depth_mm
            assert 2 / 3 <= depth_from_posterior < 0.95
            assert np.sign(local[0]) == (1 if t.side == "right" else -1)
            # Entry through its own pedicle: entry lateral of the isthmus, posterior of it.
            le, li = truth.frame.to_local(entry), truth.frame.to_local(isth)
            assert le[1] < li[1] and abs(le[0]) >= abs(li[0]) - 1.0


def test_balloons_inside_body_and_restoration_targets_prefracture_heights(phantom) -> None:  # type: ignore[no-untyped-def]
    ph, plan = phantom
    for name in ("L1", "L2"):
        lp = plan.level(name)
        truth = ph.truth.get(name)
        assert lp.balloon is not None
        assert lp.balloon.length_mm in (10.0, 15.0, 20.0)
        for bp in lp.balloon.placements:
            assert bp.inside_body
            assert 0 < bp.inflation_volume_ml <= lp.balloon.max_fill_ml
            # Surface within the body's AP/LR footprint (truth frame), SI within restored
            # heights.
            loc = truth.frame.to_local(bp.surface_ras_mm())
            assert np.all(np.abs(loc[:, 1]) <= 0.5 * truth.ap_depth_mm)
            assert np.all(np.abs(loc[:, 0]) <= 0.5 * truth.width_mm)
            assert np.all(np.abs(loc[:, 2]) <= 0.5 * max(truth.expected_heights_mm.as_array()))
        target = np.array(lp.balloon.restoration.target_mm)
        assert np.all(np.abs(target - truth.expected_heights_mm.as_array()) <= 1.5)
        realistic = np.array(lp.balloon.restoration.realistic_mm)
        assert np.all(realistic >= truth.heights_mm.as_array() - 1e-6)
        assert np.all(realistic <= target + 1e-6)
        assert lp.cement is not None and lp.cement.total_ml > 0


def test_narrow_pedicles_flag_breach_and_offer_alternative(phantom) -> None:  # type: ignore[no-untyped-def]
    _, plan = phantom
    lp = plan.level("T12")
    assert lp.trajectories and all(t.breach for t in lp.trajectories)
    assert all(t.isthmus_width_mm < 3.05 for t in lp.trajectories)
    text = " ".join([*lp.reasons, *lp.cautions, *(n for t in lp.trajectories for n in t.notes)])
    assert "extrapedicular" in text
    kp = lp.recommendation is Recommendation.BALLOON_KYPHOPLASTY
    assert not kp or lp.alternative_trajectories


def test_retropulsion_gets_a_caution(phantom) -> None:  # type: ignore[no-untyped-def]
    _, plan = phantom
    lp = plan.level("L1")
    if lp.recommendation is Recommendation.BALLOON_KYPHOPLASTY:
        assert any("retropulsion" in c.lower() for c in lp.cautions)
    assert lp.leakage_risk is not None
    assert any(f.present and f.odds_ratio == 5.56 for f in lp.leakage_risk.factors)
    assert lp.leakage_risk.score > plan.level("L2").leakage_risk.score


def test_json_has_the_documented_shape(phantom) -> None:  # type: ignore[no-untyped-def]
    _, plan = phantom
    j = to_json(plan)
    assert {"levels", "method", "disclaimer"} <= set(j)
    lv = next(x for x in j["levels"] if x["level"] == "L2")
    assert lv["recommendation"] == "balloon_kyphoplasty"
    t = lv["trajectories"][0]
    for key in ("side", "entry_ras_mm", "target_ras_mm", "isthmus_ras_mm", "skin_entry_ras_mm",
                "skin_depth_mm", "medial_angle_deg", "craniocaudal_angle_deg",
                "medial_angle_table_deg", "craniocaudal_angle_table_deg", "path_length_mm",
                "isthmus_width_mm", "isthmus_height_mm", "clearance_medial_mm",
                "clearance_inferior_mm", "clearance_lateral_mm", "breach", "approach", "notes"):
        assert key in t
    # The phantom has air around the trunk: the skin is found, 2-12 cm behind the entry.
    assert t["skin_depth_mm"] is not None and 15.0 < t["skin_depth_mm"] < 120.0
    assert {"score", "category", "factors"} <= set(lv["leakage_risk"])
    assert lv["balloon"]["max_pressure"]["psi"] == 300


def test_requested_unfractured_level_is_not_suitable(phantom) -> None:  # type: ignore[no-untyped-def]
    ph, _ = phantom
    spine = truth_spine(ph)
    plan = plan_levels(ph.volume, truth_segmentation(ph), spine, levels=[Level.L3])
    assert plan.levels[0].recommendation is Recommendation.NOT_SUITABLE


def test_plan_from_measure_spine() -> None:
    measure = pytest.importorskip("kypho.measure.spine")
    ph = generate(PhantomConfig(top="L1", bottom="L3", spacing_mm=(1.0, 1.0, 1.25),
                                include_sacrum=False, ribs=False,
                                fractures=(FractureSpec("L2", "wedge", 0.35),)))
    seg = truth_segmentation(ph)
    spine = measure.measure_spine(ph.volume, seg)
    plan = plan_levels(ph.volume, seg, spine, levels=[Level.L2])
    lp = plan.level("L2")
    truth = ph.truth.get("L2")
    assert lp.recommendation is Recommendation.BALLOON_KYPHOPLASTY
    assert all(not t.breach for t in lp.trajectories)
    target = np.array(lp.balloon.restoration.target_mm)
    assert np.all(np.abs(target - truth.expected_heights_mm.as_array()) <= 1.5)
    # The canal is measured once, by the measurement stage, against the phantom's truth
    # (two 0.5 mm grid steps), and the plan uses that number.
    for vm in spine.vertebrae:
        assert vm.canal_ap_mm is not None
        assert abs(vm.canal_ap_mm - ph.truth.get(vm.level.display).canal_ap_mm) <= 1.0
    assert lp.findings.imaging.canal_ap_mm == spine.vertebra("L2").canal_ap_mm


def test_plan_uses_the_one_measured_body_volume_and_trabecular_hu(phantom) -> None:  # type: ignore[no-untyped-def]
    ph, plan = phantom
    spine = truth_spine(ph)
    sized = [lp for lp in plan.levels if lp.cement is not None]
    assert sized
    for lp in sized:
        vm = next(v for v in spine.vertebrae if v.level is lp.level)
        assert lp.cement.body_volume_ml == vm.body_volume_ml  # type: ignore[union-attr]
    for lv in to_json(plan)["levels"]:
        assert not {"body_volume_ml", "trabecular_hu_median"} & set(lv["findings"])


def test_soft_tissue_level_is_read_in_a_shell_not_in_the_grid_box(phantom) -> None:  # type: ignore[no-untyped-def]
    # The level used to be the median of everything the grid box held beyond 1 mm of the
    # vertebra: a wider crop took in more fat at the box corners and more neighbour bone
    # (demo T12 44.3 -> 42.5 HU between 6 and 12 mm margins). Read in a fixed shell, it
    # is the same whatever the extent.
    ph, _plan = phantom
    seg, spine = truth_segmentation(ph), truth_spine(ph)
    for name in ("T12", "L1"):
        vm = spine.vertebra(name)
        crop = crop_vertebra(ph.volume.hu, seg.vertebrae.labels, seg.bodies.labels,
                             ph.volume.affine, int(vm.level))
        narrow = soft_tissue_level(frame_grid(crop, vm.frame))
        wide = soft_tissue_level(frame_grid(crop, vm.frame, context_mm=CROP_MARGIN_MM))
        assert narrow == pytest.approx(wide, abs=0.05)
        # Between the phantom's painted soft tissue (38 HU) and muscle (52 HU), with fat,
        # disc and partial volume around them.
        assert 30.0 < narrow[0] < 60.0


def test_plan_measures_the_canal_when_the_record_lacks_it(phantom) -> None:  # type: ignore[no-untyped-def]
    # Records built outside kypho.measure (here the truth; an older results.json) have no
    # canal: the plan measures it the same way. L1 has 4 mm of retropulsion.
    ph, plan = phantom
    for name in ("T12", "L1", "L2"):
        canal = plan.level(name).findings.imaging.canal_ap_mm
        assert canal is not None
        assert abs(canal - ph.truth.get(name).canal_ap_mm) <= 1.0
