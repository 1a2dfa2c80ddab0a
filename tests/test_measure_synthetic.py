"""Measurement on synthetic blocks with known frame and heights (tilted, anisotropic)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from kypho.measure.frame import estimate_frame
from kypho.measure.grading import genant_grade, grade_spine
from kypho.measure.heights import measure_heights
from kypho.measure.vertebra_region import crop_vertebra
from kypho.model import GenantGrade, Heights, Morphotype


def _block(ha: float, hp: float, spacing, obj_rot, *, width=40.0, depth=30.0, sub=4):
    """Elliptic-cylinder body with a symmetric wedge (both endplates tilted by half the
    wedge angle, so the mean endplate normal is the object's z axis) and a posterior
    element behind it; voxel labels at voxel centres, HU with partial volume."""
    rot = Rotation.from_euler("xyz", obj_rot, degrees=True).as_matrix()
    A = np.eye(4)
    A[:3, :3] = np.diag(spacing)
    shape = tuple(int(np.ceil(70 / s)) for s in spacing)
    A[:3, 3] = -A[:3, :3] @ (np.array(shape) / 2)
    idx = np.indices(shape).reshape(3, -1).T.astype(float)
    offs = (np.arange(sub) + 0.5) / sub - 0.5

    def inside(world):
        x, y, z = (world @ rot).T  # object coordinates (lr, ap, si)
        t = (y + depth / 2) / depth
        h = hp + (ha - hp) * t
        body = ((x / (width / 2)) ** 2 + (y / (depth / 2)) ** 2 <= 1) & (np.abs(z) <= h / 2)
        post = (np.abs(x) <= 6) & (y < -depth / 2 - 3) & (y > -depth / 2 - 20) & (np.abs(z) < 6)
        return body, post

    frac = np.zeros(len(idx))
    for o in np.stack(np.meshgrid(offs, offs, offs), -1).reshape(-1, 3):
        b, _ = inside((idx + o) @ A[:3, :3].T + A[:3, 3])
        frac += b
    frac = (frac / sub**3).reshape(shape)
    body_c, post_c = inside(idx @ A[:3, :3].T + A[:3, 3])
    body = body_c.reshape(shape)
    vert = body | post_c.reshape(shape)
    hu = (40.0 + 400.0 * frac).astype(np.float32)
    lab_v = (vert * 20).astype(np.uint8)
    lab_b = (body * 20).astype(np.uint8)

    def truth(f):  # height at a fraction f of the depth from the anterior cortex
        return hp + (ha - hp) * (1.0 - f)

    return hu, lab_v, lab_b, A, rot, truth


@pytest.mark.parametrize(
    ("spacing", "obj_rot", "tol"),
    [((0.8, 0.9, 1.0), (12.0, -8.0, 20.0), 0.6), ((0.7, 0.7, 2.5), (8.0, 5.0, -15.0), 1.5)],
)
def test_tilted_wedge_block_frame_and_heights(spacing, obj_rot, tol):
    hu, lab_v, lab_b, A, rot, truth = _block(18.0, 26.0, spacing, obj_rot)
    crop = crop_vertebra(hu, lab_v, lab_b, A, 20)
    fit = estimate_frame(crop)
    si_err = np.degrees(np.arccos(np.clip(np.dot(fit.frame.si_axis, rot[:, 2]), -1, 1)))
    ap_err = np.degrees(np.arccos(np.clip(np.dot(fit.frame.ap_axis, rot[:, 1]), -1, 1)))
    assert si_err < 2.0
    assert ap_err < 5.0
    prof = measure_heights(crop, fit.frame, 40.0, min_contrast_hu=50.0)
    want = np.array([truth(0.1), truth(0.5), truth(0.9)])
    np.testing.assert_allclose(prof.heights.as_array(), want, atol=tol)
    assert prof.ap_depth_mm == pytest.approx(30.0, abs=1.5)
    assert prof.width_mm == pytest.approx(40.0, abs=2.0)


def test_genant_thresholds():
    assert genant_grade(0.19) is GenantGrade.NORMAL
    assert genant_grade(0.22) is GenantGrade.MILD
    assert genant_grade(0.30) is GenantGrade.MODERATE
    assert genant_grade(0.45) is GenantGrade.SEVERE


def test_grade_spine_detects_each_morphotype():
    from kypho.anatomy.levels import Level
    from kypho.measure.norms import NORMAL_HA_HP, NORMAL_HM_HP, normal_hp_mm

    levels = [Level(v) for v in range(Level.T11, Level.L5 + 1)]
    heights = []
    for lv in levels:
        hp = normal_hp_mm(lv)
        heights.append(Heights(hp * NORMAL_HA_HP[lv], hp * NORMAL_HM_HP, hp))
    base = {lv: h for lv, h in zip(levels, heights, strict=True)}
    t12, l2, l4 = Level.T12, Level.L2, Level.L4
    b12, b2 = base[t12], base[l2]
    heights[levels.index(t12)] = Heights(b12.anterior * 0.65, b12.middle, b12.posterior)
    heights[levels.index(l2)] = Heights(b2.anterior, b2.middle * 0.7, b2.posterior)
    heights[levels.index(l4)] = Heights(*(base[l4].as_array() * 0.55))
    res = grade_spine(levels, heights, np.full(len(levels), 0.3), np.ones(len(levels)))
    got = {lv: (r.grade, r.morphotype) for lv, r in zip(levels, res, strict=True)}
    assert got[t12] == (GenantGrade.MODERATE, Morphotype.WEDGE)
    assert got[l2] == (GenantGrade.MODERATE, Morphotype.BICONCAVE)
    assert got[l4] == (GenantGrade.SEVERE, Morphotype.CRUSH)
    for lv in levels:
        if lv not in (t12, l2, l4):
            assert got[lv][0] is GenantGrade.NORMAL, lv
    r4 = res[levels.index(l4)]
    assert r4.expected.posterior == pytest.approx(base[l4].posterior, rel=0.05)
