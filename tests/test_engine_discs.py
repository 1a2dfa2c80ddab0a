"""Disc space is not filled into vertebral bodies (kypho.anatomy.engine.discs)."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.engine import segment_spine
from kypho.anatomy.engine.discs import MAX_DISC_RUN_MM, disc_space
from kypho.anatomy.levels import Level, LevelAnchor
from kypho.measure.spine import measure_spine
from kypho.phantom import generate
from kypho.phantom.config import PhantomConfig


def _two_bodies(disc_vox: int, interior_dark: bool = True) -> tuple[np.ndarray, ...]:
    """Two hollow boxes (cortex shells, ids 1 below and 2 above) one disc apart along z.

    The coarse-flood ids change in the middle of the disc, as the engine's flood does.
    """
    shape = (20, 20, 30 + disc_vox)
    bone = np.zeros(shape, dtype=bool)
    filled = np.zeros(shape, dtype=bool)
    ids = np.zeros(shape, dtype=np.uint8)
    lo_top = 15
    hi_bot = lo_top + disc_vox
    for z0, z1 in ((0, lo_top), (hi_bot, shape[2])):
        filled[3:17, 3:17, z0:z1] = True
        bone[3:17, 3:17, z0:z1] = True
        if interior_dark:
            bone[4:16, 4:16, z0 + 1 : z1 - 1] = False
    # The fill closed the disc between the rims: filled but not bone.
    filled[3:17, 3:17, lo_top:hi_bot] = True
    mid = lo_top + disc_vox // 2
    ids[filled] = 1
    ids[:, :, mid:][filled[:, :, mid:]] = 2
    return filled, bone, ids, lo_top, hi_bot


def test_disc_between_two_ids_is_found_interiors_kept() -> None:
    filled, bone, ids, lo_top, hi_bot = _two_bodies(disc_vox=4)
    disc = disc_space(filled, bone, ids, spacing_z_mm=1.0)
    truth_disc = np.zeros_like(filled)
    truth_disc[3:17, 3:17, lo_top:hi_bot] = True
    np.testing.assert_array_equal(disc, truth_disc)
    # The dark (osteoporotic-like) interiors, enclosed by one id each, stay bone.
    assert not (disc & (ids == 1) & (np.arange(filled.shape[2]) < lo_top)).any()


def test_label_change_at_bounding_bone_is_not_enough() -> None:
    # With thick slices the coarse boundary can sit on an endplate that bounds a
    # trabecular interior; only a change of id inside the run marks a disc.
    filled, bone, ids, _, hi_bot = _two_bodies(disc_vox=3)
    ids[filled] = 1
    ids[:, :, hi_bot:][filled[:, :, hi_bot:]] = 2
    assert not disc_space(filled, bone, ids, spacing_z_mm=2.0).any()


def test_long_run_with_id_change_is_not_disc() -> None:
    # A run far longer than any disc is a body cut by a misplaced boundary: kept.
    n = int(MAX_DISC_RUN_MM / 1.0) + 6
    filled, bone, ids, _, _ = _two_bodies(disc_vox=n)
    assert not disc_space(filled, bone, ids, spacing_z_mm=1.0).any()


def test_single_vertebra_interior_is_not_disc() -> None:
    filled, bone, ids, _, _ = _two_bodies(disc_vox=4)
    ids[ids > 0] = 1
    assert not disc_space(filled, bone, ids, spacing_z_mm=1.0).any()


def test_bad_input_is_refused() -> None:
    filled, bone, ids, _, _ = _two_bodies(disc_vox=4)
    with pytest.raises(ValueError, match="differ in shape"):
        disc_space(filled, bone[:-1], ids, spacing_z_mm=1.0)
    with pytest.raises(ValueError, match="positive"):
        disc_space(filled, bone, ids, spacing_z_mm=0.0)


def test_thin_tilted_thoracic_discs_not_in_bodies() -> None:
    # Mid-thoracic phantom (kyphosis, thin tilted discs, dense trabecular bone):
    # before the disc rule the T6/T7 disc was filled into T7 (+4-6 mm heights).
    ph = generate(
        PhantomConfig(
            seed=11,
            top="T3",
            bottom="T8",
            include_sacrum=False,
            spacing_mm=(1.0, 1.0, 1.0),
            trabecular_hu=190.0,
            noise_hu=12.0,
        )
    )
    t8 = ph.truth.get("T8")
    seg = segment_spine(ph.volume, anchors=(LevelAnchor(Level.T8, t8.centroid_ras_mm[2]),))
    measured = {v.level: v for v in measure_spine(ph.volume, seg).vertebrae}
    for name in ("T7", "T8"):
        truth = ph.truth.get(name)
        got = measured[truth.level]
        assert got.heights_mm is not None, f"{name} not measured"
        err = np.abs(got.heights_mm.as_array() - truth.heights_mm.as_array())
        assert err.max() <= 1.5, f"{name} heights off by {np.round(err, 1)} mm"
        lab = int(truth.level)
        ours, ref = seg.bodies.labels == lab, ph.bodies.labels == lab
        dice = 2.0 * (ours & ref).sum() / (ours.sum() + ref.sum())
        assert dice >= 0.93, f"{name} body Dice {dice:.3f}"


def test_a_block_thinner_than_a_sampling_step_reads_without_nan() -> None:
    # Family s2-0048: a thread of core 1 mm across entered the disc search as a block;
    # its sampling disc held no point in one quadrant and the run ended in a traceback
    # ("cannot convert float NaN to integer").
    from kypho.anatomy.engine.disc_profile import disc_cuts

    hu = np.full((40, 40, 120), 40.0, dtype=np.float32)
    hu[19:21, 19:21, :] = 300.0
    z = np.arange(0.5, 120.0, 1.0)
    block = np.stack([np.full_like(z, 20.0), np.full_like(z, 20.0), z], axis=1)
    found = disc_cuts(
        hu, block, (np.ones(3), np.zeros(3)), slice_mm=1.0, cut_below=False, cut_above=False,
        voxel_mm=(1.0, 1.0, 1.0), soft_tissue_hu=40.0, noise_hu=10.0,
    )
    assert np.isfinite(found.positions_mm).all() and np.isfinite(found.score).all()


def _thick_slice_column(cement_radius_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Four cylindrical bodies (25 mm, 220 HU, cortical endplates) with 8 mm discs
    (60 HU) between them, in 40 HU soft tissue, averaged into 5 mm slices; the third
    body from below holds a central ball of cement (1400 HU). Returns the CT (1 x 1 x 5
    mm voxels) and the block's coarse voxel centres (2 mm grid, mm)."""
    fine = np.full((60, 60, 140), 40.0, dtype=np.float32)
    x, y, z = np.meshgrid(np.arange(60) + 0.5, np.arange(60) + 0.5, np.arange(140) + 0.5,
                          indexing="ij")
    inside = (x - 30.0) ** 2 + (y - 30.0) ** 2 <= 18.0**2
    for k in range(4):
        z0 = 4.0 + 33.0 * k
        body = inside & (z >= z0) & (z < z0 + 25.0)
        fine[body] = 220.0
        fine[body & ((z < z0 + 1.5) | (z >= z0 + 23.5))] = 600.0
        if k < 3:
            fine[inside & (z >= z0 + 25.0) & (z < z0 + 33.0)] = 60.0
    ball = (x - 30.0) ** 2 + (y - 30.0) ** 2 + (z - 82.5) ** 2 <= cement_radius_mm**2
    fine[ball] = 1400.0
    hu = fine.reshape(60, 60, 28, 5).mean(axis=3)
    g = np.arange(1.0, 140.0, 2.0)
    px, py, pz = np.meshgrid(g[g < 60], g[g < 60], g, indexing="ij")
    keep = ((px - 30.0) ** 2 + (py - 30.0) ** 2 <= 16.0**2) & (pz >= 6.0) & (pz < 131.0)
    return hu, np.stack([px[keep], py[keep], pz[keep]], axis=1)


def test_cement_at_thick_slices_is_no_disc() -> None:
    # Family s2-0005: a cemented L3 at 5 mm slices. The cement's bright core filled only
    # a quarter of the sampling disc and its blurred rim the rest, so no quadrant's mean
    # reached the cement ceiling (400-610 HU under 934) while the whole departed like a
    # disc, and the body was cut in two at its cement.
    from kypho.anatomy.engine.disc_profile import disc_cuts

    for radius in (0.0, 6.0):
        hu, block = _thick_slice_column(radius)
        found = disc_cuts(
            hu, block, (np.array([1.0, 1.0, 0.2]), np.array([-0.5, -0.5, -0.5])),
            slice_mm=2.0, cut_below=False, cut_above=False, voxel_mm=(1.0, 1.0, 5.0),
            soft_tissue_hu=40.0, noise_hu=10.0, bone_hu=180.0,
        )
        at = found.positions_mm[found.evidence] + block[:, 2].min()
        assert len(at) == 3, (radius, at, found.score)
        assert np.abs(at - np.array([33.0, 66.0, 99.0])).max() < 5.0, (radius, at)
