"""The column is the chain of body cores, not the heaviest bright block
(kypho.anatomy.engine.column.chain_nodes)."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import MAX_BODY_CORE_WIDTH_MM, Node, chain_nodes, heaviest_chain


def _body(label: int, z_mm: float, width_mm: float = 40.0, volume_mm3: float = 20e3) -> Node:
    return Node(
        label, np.array([150.0, 100.0, z_mm]), z_mm - 12.0, z_mm + 12.0, volume_mm3, width_mm
    )


def test_a_wide_bright_organ_does_not_outweigh_the_column() -> None:
    # Six lumbar body cores, 20 cm^3 each, 30 mm apart; beside them a contrast-filled
    # organ block (the sweep's failing case: 154 mm wide, 242 mm tall, 802 cm^3) that
    # outweighs the whole column by volume.
    bodies = [_body(i + 1, 30.0 + 30.0 * i) for i in range(6)]
    organ = Node(99, np.array([207.0, 159.0, 120.0]), 0.0, 242.0, 802e3, 154.0)
    assert organ.volume_mm3 > sum(b.volume_mm3 for b in bodies)
    chain = chain_nodes([*bodies, organ], z_extent_mm=242.0)
    assert [n.label for n in chain] == [6, 5, 4, 3, 2, 1]  # cranial to caudal: high z first


def test_the_wide_sacrum_still_joins_the_chain_below_the_bodies() -> None:
    # A sacral core run on into the ilia (real CT: 291 mm wide) sits under L5.
    bodies = [_body(i + 1, 140.0 + 30.0 * i) for i in range(5)]
    sacrum = Node(50, np.array([150.0, 95.0, 95.0]), 20.0, 128.0, 500e3, 291.0)
    chain = chain_nodes([*bodies, sacrum], z_extent_mm=300.0)
    assert chain[-1].label == 50
    assert len(chain) == 6


def test_body_sized_cores_keep_their_full_weight() -> None:
    # Within the widest body core the weight is the volume: a heavier chain of bodies
    # wins over a lighter one as before.
    heavy = [_body(i + 1, 30.0 + 30.0 * i, width_mm=MAX_BODY_CORE_WIDTH_MM) for i in range(3)]
    light = [
        Node(
            10 + i,
            np.array([300.0, 100.0, 30.0 + 30.0 * i]),
            18.0 + 30.0 * i,
            42.0 + 30.0 * i,
            15e3,
            30.0,
        )
        for i in range(3)
    ]
    chain = chain_nodes([*heavy, *light])
    assert {n.label for n in chain} == {1, 2, 3}


def test_l5_follows_a_pelvis_core_whose_ilia_rise_beside_it() -> None:
    # Independent phantom ind-1-0010: the sacral core run on into the ilia (84 mm wide)
    # reached 23 mm up beside the L5 core, more than half of L5's core height: the
    # chain went from L4 straight to the sacrum and L5 was lost.
    bodies = [_body(i + 1, 100.0 + 35.0 * i) for i in range(4)]  # L4 ... L1, 24 mm tall
    l5 = Node(5, np.array([150.0, 100.0, 65.0]), 54.0, 76.0, 18e3, 46.0)
    sacrum = Node(50, np.array([150.0, 85.0, 38.0]), 0.0, 77.0, 120e3, 84.0)
    assert 77.0 - 54.0 > 0.5 * 22.0  # deeper into the pelvis core than two bodies overlap
    chain = chain_nodes([*bodies, l5, sacrum], z_extent_mm=250.0)
    assert [n.label for n in chain][-2:] == [5, 50]
    assert len(chain) == 6


def test_a_body_core_still_may_not_sink_into_the_pelvis_core_below_its_centre() -> None:
    body = Node(5, np.array([150.0, 100.0, 40.0]), 30.0, 52.0, 18e3, 46.0)
    sacrum = Node(50, np.array([150.0, 85.0, 38.0]), 0.0, 77.0, 120e3, 84.0)
    assert len(chain_nodes([body, sacrum], z_extent_mm=250.0)) == 1


def test_pillar_cores_do_not_chain_into_a_core_holding_column_and_pelvis() -> None:
    # Independent phantom ind-1-0001: L1-L5, sacrum and ilia were one core 250 mm tall
    # and 94 mm wide, and the pillar cores behind its upper half (1 cm^3 each) stood
    # between T12 and it. Taken into the chain as bodies, they cost 5 of 6 names.
    t12 = _body(1, 260.0)
    pillars = [Node(10 + i, np.array([150.0, 60.0, z]), z - 8.0, z + 8.0, 1e3, 18.0)
               for i, z in enumerate((230.0, 197.0, 164.0))]
    block = Node(50, np.array([150.0, 90.0, 86.0]), 0.0, 250.0, 257e3, 94.0)
    assert [n.label for n in heaviest_chain([t12, *pillars, block])] == [1, 50]
    # Taller than any pelvis, the wide core is held to the usual overlap as well.
    low = Node(5, np.array([150.0, 100.0, 200.0]), 180.0, 235.0, 18e3, 46.0)
    tall = Node(50, np.array([150.0, 90.0, 120.0]), 0.0, 258.0, 200e3, 84.0)
    assert len(heaviest_chain([low, tall])) == 1


def test_only_the_column_foot_counts_as_a_pelvis() -> None:
    # Family s1-0001: a 78 mm-wide L5 core above the sacral core was read as a pelvis,
    # the core above it followed it 21 mm deep, and the extra piece cost 10 names.
    above = Node(1, np.array([155.0, 105.0, 104.0]), 89.0, 125.0, 22e3, 52.0)
    wide_l5 = Node(2, np.array([155.0, 126.0, 76.0]), 57.0, 110.0, 29e3, 78.0)
    sacrum = Node(3, np.array([158.0, 145.0, 32.0]), 0.0, 72.0, 97e3, 124.0)
    labels = [n.label for n in heaviest_chain([above, wide_l5, sacrum])]
    assert labels[:2] != [1, 2]
    # Alone under it, the same wide core is a pelvis and may be followed.
    assert [n.label for n in heaviest_chain([above, wide_l5])] == [1, 2]
