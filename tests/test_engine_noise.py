"""A noisy CT (~38 HU noise, as in low-dose scans) must not fuse the column.

Found by a randomised phantom sweep: on the coarse grid a block's maximum reads its
noise high, so the discs' block maxima reached the trabecular-level threshold, the
column fused into blocks and a vertebra was lost (levels guessed at confidence 0.3).
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine import segment_spine
from kypho.anatomy.engine.threshold import CoarseGrid, TissueStats, bone_mask
from kypho.anatomy.levels import Level
from kypho.imaging.orientation import voxel_to_world
from kypho.phantom import FractureSpec, PhantomConfig, generate


def test_noisy_dense_spine_keeps_every_vertebra_and_its_level() -> None:
    ph = generate(
        PhantomConfig(
            seed=616, top="T8", bottom="L3", include_sacrum=False, spacing_mm=(0.75, 0.75, 3.0),
            orientation="LAS", trabecular_hu=232.5, noise_hu=38.3, kyphosis_deg=28.0,
            lordosis_deg=40.0, scoliosis_deg=7.6, axial_rotation_deg=6.0,
            fractures=(FractureSpec("T12", "biconcave", 0.41), FractureSpec("L2", "crush", 0.34)),
        )
    )  # fmt: skip
    seg = segment_spine(ph.volume)
    truth = ph.vertebrae.present()
    assert [int(i.level) for i in seg.levels] == truth
    for info in seg.levels:
        ref = voxel_to_world(
            ph.volume.affine, np.argwhere(ph.vertebrae.labels == int(info.level)).mean(axis=0)
        )
        assert np.linalg.norm(np.subtract(info.centroid_ras_mm, ref)) <= 10.0, info.level
    assert seg.levels[0].confidence >= 0.8  # T12 from the ribs
    assert Level.T12 in {i.level for i in seg.levels}


def test_a_disc_in_a_noisy_ct_does_not_join_two_bodies() -> None:
    # Two dense bodies (230 HU, cortex-level seeds in them) and a 12 mm disc of 90 HU
    # between them, in 40 HU soft tissue with 40 HU noise, on 2 x 2 x 2 blocks. A block's
    # maximum of 8 disc voxels averages ~150 HU, above the single-voxel trabecular
    # threshold (soft + 2.5 sigma = 140): the disc must still not read as bone.
    rng = np.random.default_rng(0)
    hu = np.full((48, 48, 72), 40.0, np.float32)
    hu[12:36, 12:36, 2:30] = 230.0
    hu[12:36, 12:36, 42:70] = 230.0
    hu[12:36, 12:36, 30:42] = 90.0
    hu += (40.0 * rng.standard_normal(hu.shape)).astype(np.float32)
    hu[22:26, 22:26, 4:28] = 1000.0
    hu[22:26, 22:26, 44:68] = 1000.0
    grid = CoarseGrid((2, 2, 2), (1.6, 1.6, 2.0), (24, 24, 36))
    stats = TissueStats(soft_tissue_hu=40.0, noise_hu=40.0, bone_hu=40.0 + 6 * 40.0)
    bone = bone_mask(hu, grid, stats, np.ones(grid.shape, bool))
    disc = bone[6:18, 6:18, 16:20]  # the disc's inner coarse slices (z 32-40)
    assert disc.mean() < 0.05, f"{disc.mean():.0%} of the disc reads as bone"
    assert bone[6:18, 6:18, 2:14].mean() > 0.9  # the bodies do
