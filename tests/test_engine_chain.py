"""The column is the chain of body cores, not the heaviest bright block
(kypho.anatomy.engine.column.chain_nodes)."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import MAX_BODY_CORE_WIDTH_MM, Node, chain_nodes


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
