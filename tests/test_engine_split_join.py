"""Two blocks meeting inside a body leave two halves of it; they are joined again."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import node_from_mask
from kypho.anatomy.engine.halves import join_halves
from kypho.anatomy.levels import Level
from tests.family_helpers import named_right, segment_family_case

SPACING = (2.0, 2.0, 2.0)


def _column(z_ranges: list[tuple[int, int]]) -> tuple[list, np.ndarray]:
    """Body cores 40 x 30 mm at the given slice ranges (coarse 2 mm voxels), caudal first
    in the array, listed cranial to caudal as the chain is."""
    cores = np.zeros((40, 40, 120), dtype=np.uint32)
    for label, (lo, hi) in enumerate(z_ranges, start=1):
        cores[10:30, 12:27, lo:hi] = label
    sp = np.asarray(SPACING)
    nodes = [node_from_mask(cores == k, k, sp) for k in range(1, len(z_ranges) + 1)]
    return sorted(nodes, key=lambda n: -n.centroid_mm[2]), cores


def test_two_halves_of_one_body_are_joined() -> None:
    # Pitch 28 mm (14 slices); the fourth body is parted at its middle into 3 and 4.
    verts, cores = _column([(2, 12), (16, 26), (30, 40), (44, 48), (50, 54), (58, 68), (72, 82)])
    out, joined = join_halves(verts, cores, SPACING, original={1, 2, 3, 6, 7})
    assert len(out) == 6
    # The caudal half takes the cranial one's label.
    assert set(np.unique(joined)) == {0, 1, 2, 3, 5, 6, 7}


def test_a_crushed_body_between_two_is_not_joined() -> None:
    # A grade 3 crush (10 mm core left of 20) between bodies 28 mm apart: steps of ~20 mm.
    verts, cores = _column([(2, 12), (16, 26), (30, 40), (43, 48), (52, 62), (66, 76)])
    out, joined = join_halves(verts, cores, SPACING, original=set())
    assert len(out) == len(verts)
    assert np.array_equal(joined, cores)


def test_a_sliver_beside_a_body_at_its_level_is_joined_to_it() -> None:
    # Independent phantom ind-1-0021: a thin core 19 mm behind L2's over the same slices
    # was counted as a vertebra of its own. Both cores came before the split.
    verts, cores = _column([(2, 12), (16, 26), (30, 40), (44, 54), (58, 68)])
    cores[14:18, 8:12, 45:54] = 9  # 19 mm behind the fourth body, over its slices
    sliver = node_from_mask(cores == 9, 9, np.asarray(SPACING))
    verts = sorted([*verts, sliver], key=lambda n: -n.centroid_mm[2])
    out, joined = join_halves(verts, cores, SPACING, original={1, 2, 3, 4, 5, 9})
    assert len(out) == 5
    assert 9 not in np.unique(joined) or 4 not in np.unique(joined)
    # A piece as far behind as the arch (family s2-0017, 38 mm among pedicle screws) is
    # no sliver of the body.
    cores[cores == 9] = 0
    cores[14:18, 0:3, 45:54] = 9
    far = node_from_mask(cores == 9, 9, np.asarray(SPACING))
    verts = sorted([*[v for v in verts if v.label != 9], far], key=lambda n: -n.centroid_mm[2])
    out, _ = join_halves(verts, cores, SPACING, original={1, 2, 3, 4, 5, 9})
    assert len(out) == 6


def test_a_thoracolumbar_block_boundary_inside_t11() -> None:
    # s1-0048: T6-L3, DISH, degenerate discs, cement. Two blocks met inside T11; its two
    # halves were named T10 and T11 and every level above was one off (5 of 10).
    ph, seg = segment_family_case("s1-0048")
    assert len(named_right(ph, seg)) >= len(ph.truth.vertebrae) - 1
    assert all(i.level is not Level.S for i in seg.levels)
