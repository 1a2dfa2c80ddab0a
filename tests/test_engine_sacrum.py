"""The sacrum is cut out of a pelvic ring that its core ran into (engine.sacrum)."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.sacral_core import SACRUM_WIDTH_RATIO, is_sacrum
from kypho.anatomy.engine.sacrum import fill_sacrum, sacrum_from_pelvis

SP = (2.0, 2.0, 2.0)
S = 26


def _ring() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A toy pelvis on a 2 mm grid, 240 x 160 x 120 mm, axis at x = 120 mm.

    Sacrum: a block 100 mm wide behind (low y), z 40-110 mm. Ilia: from the sacrum's
    sides out to 110 mm from the axis. Pubis: a bar across the midline in front (high y)
    and low (z 0-20 mm), reached only through the ilia. All one piece of bone.
    """
    shape = (120, 80, 60)
    bone = np.zeros(shape, dtype=bool)
    x = np.arange(shape[0]) * SP[0]
    lateral = np.abs(x - 120.0)
    bone[35:85, 5:25, 20:55] = True  # sacrum, |x - 120| < 50 mm
    bone[5:35, 5:25, 10:45] = True  # right ilium
    bone[85:115, 5:25, 10:45] = True  # left ilium
    bone[5:15, 5:70, 0:15] = True  # ischiopubic bars running forward
    bone[105:115, 5:70, 0:15] = True
    bone[5:115, 60:70, 0:10] = True  # pubis across the midline, in front
    axis = np.broadcast_to(lateral[:, None, None], shape).astype(np.float32)
    whole = np.where(bone, S, 0).astype(np.uint8)  # the flat flood gave it all to S
    return whole, bone, bone.copy(), axis


def test_sacrum_keeps_the_midline_block_and_drops_ilia_and_pubis() -> None:
    whole, bone, core, axis = _ring()
    out = sacrum_from_pelvis(whole, bone, core, axis, SP, S)
    sac = out == S
    truth = np.zeros_like(sac)
    truth[35:85, 5:25, 20:55] = True
    assert not sac[:, 60:70, 0:10].any(), "the pubis in front was kept as sacrum"
    assert not sac[:20].any() and not sac[100:].any(), "iliac wings were kept as sacrum"
    dice = 2.0 * (sac & truth).sum() / (sac.sum() + truth.sum())
    assert dice > 0.85


def test_no_central_core_leaves_labels_unchanged() -> None:
    whole, bone, core, axis = _ring()
    core[30:90] = False  # no sacral core near the axis: nothing to seed from
    out = sacrum_from_pelvis(whole, bone, core, axis, SP, S)
    assert np.array_equal(out, whole)


def test_fill_sacrum_fills_enclosed_body_but_not_other_labels() -> None:
    labels = np.zeros((30, 30, 30), dtype=np.uint8)
    labels[5:25, 5:25, 5:25] = S
    labels[8:22, 8:22, 8:22] = 0  # a hollow shell: fatty marrow below the bone level
    labels[12:14, 12:14, 12:14] = 24  # something else inside stays itself
    out = fill_sacrum(labels.copy(), S)
    assert (out[8:22, 8:22, 8:22] == S).sum() == 14**3 - 8
    assert (out == 24).sum() == 8
    assert (out[:5] == 0).all()


def _node(label: int, z_lo: float, z_hi: float, width: float) -> Node:
    return Node(
        label=label,
        centroid_mm=np.array([100.0, 100.0, 0.5 * (z_lo + z_hi)]),
        z_lo_mm=z_lo,
        z_hi_mm=z_hi,
        volume_mm3=1000.0 * (z_hi - z_lo),
        width_mm=width,
    )


def test_sacrum_below_one_block_of_merged_bodies() -> None:
    # Low-dose family case: the lumbar bodies merged through their discs into one core
    # 235 mm tall, the sacrum below it twice as wide; one short core above is no block.
    assert is_sacrum([_node(1, 101.0, 336.0, 50.0), _node(2, 0.0, 96.0, 128.0)])
    assert not is_sacrum([_node(1, 101.0, 140.0, 50.0), _node(2, 0.0, 96.0, 128.0)])
    assert not is_sacrum([_node(1, 101.0, 336.0, 50.0), _node(2, 0.0, 96.0, 60.0)])


def _cores_from_slabs(slabs: dict[int, list[tuple[int, int, int]]]) -> np.ndarray:
    """Core labels on a (120, 40, 80) grid of 2 mm voxels from (z, x_lo, x_hi) slabs."""
    cores = np.zeros((120, 40, 80), np.int32)
    for label, rows in slabs.items():
        for z, lo, hi in rows:
            cores[lo:hi, 10:30, z] = label
    return cores


def _chain_nodes(cores: np.ndarray) -> list[Node]:
    from kypho.anatomy.engine.split import node_from_mask

    return [node_from_mask(cores == k, k, np.array([2.0, 2.0, 2.0])) for k in (1, 2)]


def test_sacrum_below_a_drifting_block_is_told_by_its_slabs() -> None:
    # Independent phantom ind-1-0012: lumbar bodies 33-45 mm across slice by slice but
    # 87 mm by their block's box (the column drifts sideways along it), above a sacrum
    # 85 mm across its alae: by the boxes the sacrum was no wider than the bodies.
    block = [(z, 30 + (z - 40) // 2, 50 + (z - 40) // 2) for z in range(40, 80)]  # 40 mm wide
    sacrum = [(z, 60 - z, 62 + z) for z in range(0, 38)]  # widening to 148 mm, box 150 mm
    cores = _cores_from_slabs({1: block, 2: sacrum})
    chain = _chain_nodes(cores)
    assert chain[1].width_mm < SACRUM_WIDTH_RATIO * chain[0].width_mm  # boxes: 152 vs 78
    assert not is_sacrum(chain)
    assert is_sacrum(chain, cores, (2.0, 2.0, 2.0))


def test_a_body_widened_in_a_slice_or_two_is_no_sacrum() -> None:
    # A rib head or a process widens a lowest body to 100 mm in two of its slices only.
    block = [(z, 30 + (z - 40) // 2, 50 + (z - 40) // 2) for z in range(40, 80)]
    body = [(z, 40, 60) for z in range(0, 20)] + [(z, 25, 75) for z in (20, 21)]
    assert not is_sacrum(_chain_nodes(_cores_from_slabs({1: block, 2: body})))
    cores = _cores_from_slabs({1: block, 2: body})
    assert not is_sacrum(_chain_nodes(cores), cores, (2.0, 2.0, 2.0))


def test_a_block_of_bodies_wide_only_by_its_box_is_no_sacrum() -> None:
    # Independent phantom ind-1-0039 (T6-L3 in view, no sacrum): T9-L3 ran into one
    # core 64 mm across by its box, a few slices widened by processes, 43 mm slice by
    # slice, below 30 mm cores: taken for the sacrum, the column was named L1-L5.
    upper = [(z, 40, 55) for z in range(40, 80)]  # 30 mm wide, two bodies tall
    block = [(z, 39, 60) for z in range(0, 38)] + [(z, 22, 56) for z in (20, 21)]
    cores = _cores_from_slabs({1: upper, 2: block})
    chain = _chain_nodes(cores)
    assert chain[1].width_mm >= SACRUM_WIDTH_RATIO * chain[0].width_mm  # boxes: 68 vs 30
    assert is_sacrum(chain)  # by the boxes alone
    assert not is_sacrum(chain, cores, (2.0, 2.0, 2.0))
