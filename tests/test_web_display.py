"""The viewer's display copies (decimated CT and labels) and the plan's rasterised shapes."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np

from kypho.web.display import MAX_DISPLAY_VOXELS, display_copy, display_strides
from kypho.web.shapes import rasterise, shapes_of


def test_strides_bring_a_ct_under_budget_finest_axes_first():
    f = display_strides((512, 512, 400), (0.7, 0.7, 1.0))
    n = math.prod(-(-a // b) for a, b in zip((512, 512, 400), f, strict=True))
    assert n <= MAX_DISPLAY_VOXELS and f[0] == f[1] >= f[2]
    assert display_strides((16, 16, 40), (2.0, 2.0, 2.0)) == (1, 1, 1)


def test_display_copy_keeps_world_positions(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(-1000, 1500, (300, 280, 120)).astype(np.int16)
    # An LPS-stored, shifted grid: the copy is canonical (RAS) and its affine exact.
    affine = np.array([[-0.6, 0, 0, 90.0], [0, -0.6, 0, 80.0], [0, 0, 1.0, -40.0], [0, 0, 0, 1]])
    src = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), src)
    out = display_copy(src, tmp_path / "cache", "ct.nii.gz")
    img = nib.load(str(out))
    small = np.asarray(img.dataobj)
    assert small.size <= MAX_DISPLAY_VOXELS and small.size < data.size
    canon = nib.as_closest_canonical(nib.load(str(src)))
    full = np.asarray(canon.dataobj)
    for ijk in [(0, 0, 0), (7, 11, 3), tuple(np.array(small.shape) - 1)]:
        world = img.affine @ [*ijk, 1]
        src_ijk = np.rint(np.linalg.inv(canon.affine) @ world)[:3].astype(int)
        assert np.allclose(canon.affine @ [*src_ijk, 1], world, atol=1e-4)
        assert small[ijk] == full[tuple(src_ijk)]


def test_balloon_and_trajectory_rasterised_in_world_mm():
    angle = np.deg2rad(30)
    axes = [[np.cos(angle), np.sin(angle), 0], [-np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    doc = {"plan": {"levels": [{"level": "L1", "trajectories": [
        {"side": "right", "entry_ras_mm": [20.0, -30.0, 5.0], "target_ras_mm": [8.0, 10.0, 5.0],
         "cannula_outer_diameter_mm": 3.0}],
        "balloon": {"placements": [{"side": "right", "centre_ras_mm": [5.0, 12.0, 4.0],
                                    "axes_ras": axes, "semi_axes_mm": [10.0, 6.0, 7.0],
                                    "inflation_volume_ml": 3.0}]}}]}}
    shapes = shapes_of(doc)
    assert [s.kind for s in shapes] == ["trajectory", "balloon"]
    affine = np.diag([0.5, 0.5, 0.5, 1.0])
    affine[:3, 3] = [-20.0, -40.0, -15.0]
    grid = rasterise(shapes, (120, 140, 60), affine)
    ijk = np.argwhere(grid == 3)
    xyz = ijk * 0.5 + affine[:3, 3]
    volume = len(ijk) * 0.125
    assert abs(volume - 4 / 3 * np.pi * 10 * 6 * 7) / (4 / 3 * np.pi * 420) < 0.03
    assert np.allclose(xyz.mean(axis=0), [5.0, 12.0, 4.0], atol=0.1)
    # The long axis lies along 30 degrees in the axial plane.
    cov = np.cov((xyz - xyz.mean(axis=0)).T)
    long_axis = np.linalg.eigh(cov)[1][:, -1]
    assert abs(abs(long_axis @ axes[0]) - 1) < 1e-3
    # The tube: every voxel within the cannula radius of the path, the path's cross
    # section about pi r^2 per mm where the balloon does not cover it.
    tube = np.argwhere(grid == 2) * 0.5 + affine[:3, 3]
    a, b = np.array([20.0, -30.0, 5.0]), np.array([8.0, 10.0, 5.0])
    d = (b - a) / np.linalg.norm(b - a)
    t = (tube - a) @ d
    dist = np.linalg.norm(tube - a - t[:, None] * d, axis=1)
    assert dist.max() <= 1.5 + 1e-6
    part = (t > 2) & (t < 20)
    assert abs(part.sum() * 0.125 / 18 - np.pi * 1.5**2) / (np.pi * 1.5**2) < 0.15
