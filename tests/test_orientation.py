"""Orientation algebra: every axis permutation and flip keeps world positions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kypho.anatomy.levels import TOTALSEG_CLASS_TO_LEVEL, Level, level_from_totalseg_name
from kypho.imaging.orientation import (
    affine_spacing,
    is_oblique,
    orientation_codes,
    to_canonical,
    voxel_to_world,
    world_to_voxel,
)
from kypho.imaging.volume import LabelMap, Volume


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = (f(np.deg2rad(a)) for a in (ax, ay, az) for f in (np.cos, np.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


ORIENTATIONS = [
    (perm, signs)
    for perm in itertools.permutations(range(3))
    for signs in itertools.product((1, -1), repeat=3)
]


@pytest.mark.parametrize(("perm", "signs"), ORIENTATIONS)
def test_to_canonical_keeps_world_positions(perm: tuple[int, ...], signs: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    shape = (5, 6, 7)
    arr = rng.normal(size=shape).astype(np.float32)
    affine = np.zeros((4, 4))
    affine[3, 3] = 1.0
    spacing = np.array([0.7, 0.9, 3.0])
    for j, (axis, s) in enumerate(zip(perm, signs, strict=True)):
        affine[axis, j] = s * spacing[j]
    affine[:3, 3] = [10.0, -20.0, 30.0]
    affine[:3, :3] = _rotation(8, -5, 12) @ affine[:3, :3]
    out, out_aff = to_canonical(arr, affine)
    assert orientation_codes(out_aff) == "RAS"
    # Every voxel value sits at the same world position before and after.
    ijk = np.array([[0, 0, 0], [4, 5, 6], [2, 3, 1], [1, 0, 5]])
    world = voxel_to_world(affine, ijk)
    back = np.rint(world_to_voxel(out_aff, world)).astype(int)
    np.testing.assert_allclose(voxel_to_world(out_aff, back), world, atol=1e-6)
    assert np.array_equal(out[tuple(back.T)], arr[tuple(ijk.T)])
    assert sorted(affine_spacing(out_aff)) == pytest.approx(sorted(spacing))
    assert is_oblique(out_aff)


def test_volume_requires_canonical_and_from_array_reorients() -> None:
    lps = np.diag([-0.8, -0.8, 2.0, 1.0])
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with pytest.raises(ValueError, match="canonical RAS"):
        Volume(arr, lps)
    vol = Volume.from_array(arr, lps)
    assert orientation_codes(vol.affine) == "RAS"
    assert vol.spacing_mm == pytest.approx((0.8, 0.8, 2.0))
    assert vol.hu[0, 0, 0] == arr[-1, -1, 0]


def test_volume_rejects_bad_affines() -> None:
    with pytest.raises(ValueError, match="singular"):
        Volume(np.zeros((2, 2, 2), np.float32), np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="4x4"):
        LabelMap(np.zeros((2, 2, 2), np.uint8), np.eye(3))


def test_level_parsing_and_totalsegmentator_mapping() -> None:
    assert Level.parse("T12") is Level.T12 == 19
    assert Level.parse("vertebrae_L1") is Level.L1
    assert Level.parse("20") is Level.L1
    assert Level.parse(Level.L5) is Level.L5
    assert Level.parse("sacrum") is Level.S
    with pytest.raises(ValueError, match="X9"):
        Level.parse("X9")
    # TotalSegmentator "total" task: L5 27, L1 31, T12 32, T1 43, C7 44, C1 50.
    assert TOTALSEG_CLASS_TO_LEVEL[27] is Level.L5
    assert TOTALSEG_CLASS_TO_LEVEL[31] is Level.L1
    assert TOTALSEG_CLASS_TO_LEVEL[32] is Level.T12
    assert TOTALSEG_CLASS_TO_LEVEL[43] is Level.T1
    assert TOTALSEG_CLASS_TO_LEVEL[44] is Level.C7
    assert TOTALSEG_CLASS_TO_LEVEL[50] is Level.C1
    assert level_from_totalseg_name("vertebrae_T11.nii.gz") is Level.T11
    assert level_from_totalseg_name("rib_left_7.nii.gz") is None
    assert Level.L1.above() is Level.T12 and Level.L5.below() is Level.S
    assert Level.T7.region == "thoracic" and Level.L3.region == "lumbar"
