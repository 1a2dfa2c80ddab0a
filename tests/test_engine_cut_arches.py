"""Arches of a vertebra cut beyond its pedicles by the image border, split from the
neighbour at the facet joint (kypho.anatomy.engine.cut_arches). The real case is in
test_engine_tptbox.py; here a small synthetic pair whose truth is known by construction."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.cut_arches import arch_detached, resplit_cut_arches

UPPER, LOWER = 21, 22
SPACING = (1.5, 1.5, 1.5)


def _pair(pedicle_in_view: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two vertebrae, the upper one cut by the top slice.

    Returns the labels a geodesic flood would give (the lower part of the upper
    vertebra's articular process labelled LOWER), the CT, and the true labels.
    """
    shape = (24, 40, 40)
    truth = np.zeros(shape, np.uint8)
    truth[4:20, 22:36, 22:40] = UPPER  # body, cut by the top slice
    truth[4:20, 22:36, 2:18] = LOWER  # body, below a disc (z 18-21)
    truth[8:16, 14:22, 6:14] = LOWER  # pedicle
    truth[8:16, 9:13, 6:28] = LOWER  # superior articular process, up past the disc
    truth[8:16, 4:8, 14:40] = UPPER  # inferior articular process, to the top slice
    if pedicle_in_view:
        truth[8:16, 8:22, 30:34] = UPPER  # pedicle + lamina joining it to its body
    hu = np.full(shape, -50.0, np.float32)
    hu[truth > 0] = 700.0
    # Trabecular interiors of the bodies are darker than any cortex.
    hu[6:18, 24:34, 24:38] = 150.0
    hu[6:18, 24:34, 4:16] = 150.0
    # Facet joint: one voxel of cartilage between the two processes, which the bone
    # mask took in (partial volume) and the flood labelled with the lower vertebra.
    truth_joint = (slice(8, 16), slice(8, 9), slice(14, 28))
    hu[truth_joint] = 120.0
    flood = truth.copy()
    flood[truth_joint] = LOWER
    process = np.zeros(shape, bool)
    process[8:16, 4:8, 14:40] = True
    if not pedicle_in_view:
        # The flood reached the upper process through the joint, below the slices
        # where it meets the border.
        flood[process & (np.arange(40)[None, None, :] < 30)] = LOWER
    truth[truth_joint] = 0  # either side is right for the joint itself
    return flood, hu, truth


def test_detached_arch_returns_to_the_cut_vertebra() -> None:
    flood, hu, truth = _pair(pedicle_in_view=False)
    out = resplit_cut_arches(flood, hu, SPACING)
    process = np.zeros(flood.shape, bool)
    process[8:16, 4:8, 14:40] = True
    wrong_before = int((process & (flood != UPPER)).sum())
    assert wrong_before > 500
    # Every voxel of the upper process and none of the lower vertebra's own bone.
    assert np.all(out[process] == UPPER)
    lower = truth == LOWER
    assert np.all(out[lower] == LOWER)
    assert np.all(out[truth == UPPER] == UPPER)


def test_detection_needs_the_arch_to_fall_apart_without_the_border() -> None:
    flood, _, _ = _pair(pedicle_in_view=False)
    # In the flood's labels the upper vertebra is its body plus the top of the process:
    # without the top slice, two pieces, the smaller one 8 x 4 x 9 voxels (972 mm^3 at
    # 1.5 mm, but only 288 mm^3 at 1 mm: a speck, not an arch).
    pieces = flood == UPPER
    assert arch_detached(pieces, top=True, voxel_mm3=float(np.prod(SPACING)))
    assert not arch_detached(pieces, top=True, voxel_mm3=1.0)
    # Held together inside the image (as by a pedicle), it is not detached.
    pieces[8:16, 8:22, 30:34] = True
    assert not arch_detached(pieces, top=True, voxel_mm3=float(np.prod(SPACING)))


def test_pedicles_in_view_leave_the_labels_alone() -> None:
    flood, hu, _ = _pair(pedicle_in_view=True)
    out = resplit_cut_arches(flood, hu, SPACING)
    np.testing.assert_array_equal(out, flood)


def test_a_vertebra_cut_by_the_bottom_slice_is_handled_the_same_way() -> None:
    flood, hu, truth = _pair(pedicle_in_view=False)
    # Mirrored along z, the cut vertebra is at the bottom and its neighbour above it.
    out = resplit_cut_arches(flood[:, :, ::-1].copy(), hu[:, :, ::-1].copy(), SPACING)
    bone = truth[:, :, ::-1] > 0  # the joint itself may go either way
    np.testing.assert_array_equal(out[bone], truth[:, :, ::-1][bone])
    assert not np.array_equal(out, flood[:, :, ::-1])
