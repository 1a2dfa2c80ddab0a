"""Cervical bodies above the column's top are followed with shallower cores
(kypho.anatomy.engine.cranial_cores), and small upper bodies are no fragments among
neighbours as small (kypho.anatomy.engine.column.drop_fragments).

A C7 body (13-15 mm tall, 15-17 mm deep) has no core at the body depth: every whole-spine
independent phantom lost C7, and with it the rib-free vertebra that makes the first rib
T1.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import (
    Node,
    core_components,
    drop_fragments,
    heaviest_chain,
)
from kypho.anatomy.engine.cranial_cores import extend_cranially

from .family_helpers import found_in_place, segment_family_case

SPACING = (1.5, 1.5, 2.0)


def _box(filled: np.ndarray, centre_mm: tuple[float, float], z_mm: tuple[float, float],
         size_mm: tuple[float, float]) -> None:  # fmt: skip
    sp = np.asarray(SPACING)
    lo = [round(float(centre_mm[i] - size_mm[i] / 2) / float(sp[i])) for i in range(2)]
    hi = [round(float(centre_mm[i] + size_mm[i] / 2) / float(sp[i])) for i in range(2)]
    filled[lo[0] : hi[0], lo[1] : hi[1], int(z_mm[0] / sp[2]) : int(z_mm[1] / sp[2])] = True


def _column(cervical: bool) -> np.ndarray:
    """Six thoracic bodies (32 x 26 x 18 mm, 5 mm discs) from z 10 mm, and above them,
    when asked, C7 and C6 (20 x 16 x 14 mm); a spinous process (6 mm thick) behind."""
    filled = np.zeros((80, 80, 110), dtype=bool)
    z = 10.0
    for _ in range(6):
        _box(filled, (60.0, 60.0), (z, z + 18.0), (32.0, 26.0))
        z += 23.0
    if cervical:
        for _ in range(2):
            _box(filled, (60.0, 64.0), (z, z + 14.0), (20.0, 16.0))
            z += 19.0
    _box(filled, (60.0, 25.0), (150.0, 200.0), (6.0, 20.0))
    return filled


def _chain(filled: np.ndarray) -> tuple[list[Node], np.ndarray]:
    cores, nodes = core_components(filled, SPACING)
    return heaviest_chain(nodes), cores


def test_c7_and_c6_have_no_body_core_but_are_followed_above_the_top() -> None:
    filled = _column(cervical=True)
    chain, cores = _chain(filled)
    assert len(chain) == 6  # the cervical bodies are too shallow for a core
    ext = extend_cranially(chain, cores, filled, SPACING)
    assert ext.added == 2
    assert len(ext.chain) == 8
    tops = [n.centroid_mm[2] for n in ext.chain[:2]]
    assert tops[0] > tops[1] > chain[0].centroid_mm[2]  # cranial first
    for node in ext.chain[:2]:
        assert np.count_nonzero(ext.cores == node.label) > 0
    assert not np.shares_memory(ext.cores, cores)
    kept = drop_fragments(ext.chain, filled.shape[2] * SPACING[2], ext.added)
    assert len(kept) == 8  # small, but as large as the bodies beside them


def test_nothing_is_added_above_a_column_without_cervical_bodies() -> None:
    filled = _column(cervical=False)  # only the spinous process lies above the top
    chain, cores = _chain(filled)
    ext = extend_cranially(chain, cores, filled, SPACING)
    assert ext.added == 0 and ext.chain == chain


def test_a_small_core_among_large_ones_is_still_a_fragment() -> None:
    def node(label: int, z: float, volume: float) -> Node:
        return Node(label, np.array([50.0, 50.0, z]), z - 8.0, z + 8.0, volume, 30.0)

    chain = [node(1, 200.0, 20e3), node(2, 180.0, 20e3), node(3, 165.0, 2e3),
             node(4, 150.0, 20e3), node(5, 130.0, 20e3)]  # fmt: skip
    assert [n.label for n in drop_fragments(chain)] == [1, 2, 4, 5]
    # Below the first body-sized core a small core is judged against the whole chain,
    # even among small neighbours (a thin 0.7 cm^3 piece beside a 1.2 cm^3 one,
    # independent phantom ind-1-0011).
    chain = [node(1, 260.0, 20e3), node(2, 240.0, 20e3), node(3, 220.0, 4e3),
             node(4, 205.0, 1.2e3), node(5, 190.0, 0.9e3), node(6, 175.0, 20e3),
             node(7, 155.0, 20e3)]  # fmt: skip
    assert 5 not in [n.label for n in drop_fragments(chain)]
    # Above it, the cranial run of small bodies (T1 under C7, whose cores are all far
    # below a lumbar median) is judged against its neighbours and kept.
    chain = [node(1, 300.0, 0.6e3), node(2, 283.0, 0.9e3), node(3, 265.0, 1.4e3),
             node(4, 245.0, 2.5e3), node(5, 225.0, 2.9e3), node(6, 200.0, 20e3),
             node(7, 175.0, 20e3), node(8, 150.0, 20e3)]  # fmt: skip
    assert len(drop_fragments(chain, cranial_added=2)) == 8


def _block_and_piece_above(shift_mm: float) -> np.ndarray:
    """One block of bodies not parted at their discs (32 x 26 mm, z 10-130 mm) and a
    20 x 16 x 14 mm piece of bone 6 mm above it, ``shift_mm`` to the side."""
    filled = np.zeros((100, 80, 110), dtype=bool)
    _box(filled, (60.0, 60.0), (10.0, 130.0), (32.0, 26.0))
    _box(filled, (60.0 + shift_mm, 60.0), (136.0, 150.0), (20.0, 16.0))
    return filled


def test_the_column_is_followed_from_a_block_s_top_not_its_centroid() -> None:
    # s1-0064: a 220 mm kyphotic block's centroid lay far below its top, and the shift
    # allowed grows with that distance: a shoulder-girdle core 66 mm to the side of the
    # top body was taken as the vertebra above it.
    filled = _block_and_piece_above(shift_mm=20.0)
    chain, cores = _chain(filled)
    assert len(chain) == 1
    assert extend_cranially(chain, cores, filled, SPACING).added == 0
    filled = _block_and_piece_above(shift_mm=0.0)
    chain, cores = _chain(filled)
    assert extend_cranially(chain, cores, filled, SPACING).added == 1


def test_a_shoulder_core_beside_a_kyphotic_block_is_no_vertebra() -> None:
    ph, seg = segment_family_case("s1-0064")
    found = [i for i in seg.levels if i.level.display != "S"]
    assert len(found) == found_in_place(ph, seg) == len(ph.truth.vertebrae)
