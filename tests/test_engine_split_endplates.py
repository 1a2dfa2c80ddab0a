"""Disc planes from endplate peak pairs (kypho.anatomy.engine.endplate_pairs), on small
synthetic columns whose geometry is known: bodies, endplates, discs as bright as or
brighter than the osteoporotic trabecular bone, noise."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.engine.endplate_pairs import separate_at_endplates
from kypho.anatomy.engine.split import node_from_mask
from kypho.anatomy.engine.threshold import TissueStats

SPACING = (2.0, 2.0, 2.0)
SHAPE = (30, 30, 50)
#: Soft tissue 30 HU, noise 10 HU per voxel, cortex threshold 250 HU.
STATS = TissueStats(soft_tissue_hu=30.0, noise_hu=10.0, bone_hu=250.0)


def _column(
    discs: list[tuple[int, int]], disc_hu: float, trabecular_hu: float = 50.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """CT and filled bone of a straight column: a cylinder of bone (radius 20 mm) with
    one-voxel endplates at both slices of every ``discs`` pair; slices between the two
    read ``disc_hu``, all others ``trabecular_hu``."""
    rng = np.random.default_rng(seed)
    x, y = np.ogrid[: SHAPE[0], : SHAPE[1]]
    disk = (x - 15) ** 2 + (y - 15) ** 2 <= 10**2
    hu = np.full(SHAPE, 30.0, dtype=np.float32)
    col = np.zeros(SHAPE, dtype=np.float32)
    col[:] = trabecular_hu
    for a, b in discs:
        col[:, :, a + 1 : b] = disc_hu
        col[:, :, [a, b]] = 400.0
    hu[disk] = col[disk]
    hu += rng.normal(0.0, STATS.noise_hu, SHAPE).astype(np.float32)
    filled = np.repeat(disk[:, :, None], SHAPE[2], axis=2)
    return hu, filled


def _core(filled: np.ndarray, z_lo: int, z_hi: int, waists: list[range]) -> np.ndarray:
    """Core label array: the column's interior from ``z_lo`` to ``z_hi``, narrower (a
    bridge through the disc) in the ``waists`` slices."""
    x, y = np.ogrid[: SHAPE[0], : SHAPE[1]]
    inner = (x - 15) ** 2 + (y - 15) ** 2 <= 7**2
    bridge = (x - 15) ** 2 + (y - 15) ** 2 <= 4**2
    cores = np.zeros(SHAPE, dtype=np.uint32)
    for z in range(z_lo, z_hi):
        plane = bridge if any(z in w for w in waists) else inner
        cores[:, :, z][plane & filled[:, :, z]] = 1
    return cores


def test_block_through_a_bright_disc_is_cut_at_the_disc() -> None:
    # Endplates at slices 22 and 27: the disc is slices 23-26 (8 mm) and reads 110 HU,
    # brighter than the 50 HU bodies; the column is cut by the image at both ends.
    hu, filled = _column([(22, 27)], disc_hu=110.0)
    cores = _core(filled, 10, 41, [range(23, 27)])
    node = node_from_mask(cores == 1, 1, np.asarray(SPACING))
    out = separate_at_endplates([node], cores, filled, hu, SPACING, STATS)
    assert len(out.vertebrae) == 2
    upper, lower = out.vertebrae  # cranial first
    assert upper.centroid_mm[2] > lower.centroid_mm[2]
    # Each part stays on its side of the disc; the disc slices hold no core.
    assert lower.z_hi_mm <= 23 * SPACING[2] + 1e-6
    assert upper.z_lo_mm >= 26 * SPACING[2] - 1e-6
    assert not out.cores[:, :, 23:27].any()
    # The disc, and only the disc, leaves the filled bone.
    disc_slices = np.flatnonzero(out.discs.any(axis=(0, 1)))
    assert set(disc_slices.tolist()) <= set(range(23, 27))
    body = cores[:, :, 15] == 1  # the body's core cross-section
    assert out.discs[:, :, 24][body].all()
    assert out.discs[:, :, 24].sum() > 0.7 * filled[:, :, 24].sum()
    assert out.notes


def test_crushed_body_between_close_endplates_is_not_cut() -> None:
    # A crushed body: its endplates (slices 20 and 25) are only 10 mm apart, flanked by
    # bright discs; its core lies between them and must survive whole.
    hu, filled = _column([(15, 20), (25, 30)], disc_hu=110.0)
    cores = _core(filled, 21, 25, [])
    node = node_from_mask(cores == 1, 1, np.asarray(SPACING))
    out = separate_at_endplates([node], cores, filled, hu, SPACING, STATS)
    assert 1 in [n.label for n in out.vertebrae]
    assert (out.cores == 1).sum() == (cores == 1).sum()
    assert not out.discs[:, :, 20:26].any()
    # (The bodies beyond both discs, cut by the image and without cores, are found.)
    assert len(out.vertebrae) == 3


@pytest.mark.parametrize("disc_hu", [-20.0])
def test_disc_darker_than_bone_is_left_to_the_threshold(disc_hu: float) -> None:
    # With discs darker than the bodies the bone threshold parts them already; a block
    # through such a disc has other causes and is not cut here.
    hu, filled = _column([(22, 27)], disc_hu=disc_hu, trabecular_hu=200.0)
    cores = _core(filled, 10, 41, [range(23, 27)])
    node = node_from_mask(cores == 1, 1, np.asarray(SPACING))
    out = separate_at_endplates([node], cores, filled, hu, SPACING, STATS)
    assert len(out.vertebrae) == 1
    assert not out.discs.any()


def test_bodies_cut_by_the_field_of_view_beyond_the_last_discs_are_found() -> None:
    # The middle body (endplates 14 and 30) has a core; beyond its discs (slices 10-13
    # and 31-34) bodies run out of the image, without cores and, below, with holes in
    # their filled bone.
    hu, filled = _column([(9, 14), (30, 35)], disc_hu=110.0)
    filled[12:18, 12:18, 2:6] = False  # noise holes
    cores = _core(filled, 16, 29, [])
    node = node_from_mask(cores == 1, 1, np.asarray(SPACING))
    out = separate_at_endplates([node], cores, filled, hu, SPACING, STATS, open_below=True)
    assert len(out.vertebrae) == 3
    top, middle, bottom = out.vertebrae
    assert middle.label == 1
    assert bottom.z_lo_mm == 0.0 and bottom.z_hi_mm <= 9 * SPACING[2] + 1e-6
    assert top.z_lo_mm >= 35 * SPACING[2] and top.z_hi_mm == SHAPE[2] * SPACING[2]
    assert out.solid[15, 15, 3]  # the hole is body interior
    assert not out.solid[:, :, 9:36].any()
    # No body is looked for below a column that ends on the sacrum.
    closed = separate_at_endplates([node], cores, filled, hu, SPACING, STATS, open_below=False)
    assert len(closed.vertebrae) == 2
    assert closed.vertebrae[1].label == 1
