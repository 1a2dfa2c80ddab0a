"""The body of a vertebra the count lost is found in the room it left, under its level."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node, node_from_mask
from kypho.anatomy.engine.lost_bodies import lost_bodies, lost_steps, with_lost_bodies
from kypho.anatomy.engine.missing_levels import missing_after, uneven_steps
from kypho.anatomy.levels import Level

SPACING = (2.0, 2.0, 2.0)
NAMED = [Level.T5, Level.T6, Level.T7, Level.T9, Level.T10]  # T8 counted as lost


def _column(
    slab_radius: int | None, fourth_core_radius: int = 6
) -> tuple[list[Node], np.ndarray, np.ndarray]:
    """Five 20 mm bodies (32 mm wide) on a 24 mm pitch with one vertebra's room left
    between the third and the fourth, where an 8 mm slab of radius ``slab_radius`` voxels
    lies between two discs (None: nothing). Cores stop 4 mm inside each body; the
    fourth's is ``fourth_core_radius`` voxels across (6 as the others)."""
    shape = (40, 40, 100)
    x, y = np.mgrid[0 : shape[0], 0 : shape[1]]
    disc = (x - 20) ** 2 + (y - 20) ** 2 <= 8**2
    core_disc = (x - 20) ** 2 + (y - 20) ** 2 <= 6**2
    filled = np.zeros(shape, dtype=bool)
    cores = np.zeros(shape, dtype=np.int32)
    small_core = (x - 20) ** 2 + (y - 20) ** 2 <= fourth_core_radius**2
    for label, z0 in enumerate((86, 74, 62, 38, 26), start=1):  # cranial to caudal
        filled[:, :, z0 : z0 + 10] |= disc[:, :, None]
        cores[:, :, z0 + 2 : z0 + 8][small_core if label == 4 else core_disc] = label
    if slab_radius is not None:
        slab = (x - 20) ** 2 + (y - 20) ** 2 <= slab_radius**2
        filled[:, :, 51:55] |= slab[:, :, None]
    nodes = [node_from_mask(cores == k, k, np.array(SPACING)) for k in range(1, 6)]
    return nodes, cores, filled


def test_the_lost_level_gets_the_crushed_body_in_its_room() -> None:
    nodes, cores, filled = _column(slab_radius=8)
    assert missing_after(nodes) == [2]  # one vertebra's room between the 3rd and 4th
    missing, rooms = lost_steps(nodes, cores, filled, SPACING)
    assert missing == [2] and list(rooms) == [2]
    found = lost_bodies(list(NAMED), missing, rooms, SPACING)
    assert len(found) == 1
    body = found[0]
    assert body.level is Level.T8 and body.after is Level.T7
    assert body.height_mm == 8.0
    assert np.array_equal(body.mask, filled & (np.arange(100) >= 51)[None, None, :]
                          & (np.arange(100) < 55)[None, None, :])

    names, evidence = list(NAMED), ["rib"] * len(NAMED)
    core_to_id = {n.label: int(lv) for n, lv in zip(nodes, NAMED, strict=True)}
    new_cores, warnings = with_lost_bodies(cores, found, names, evidence, core_to_id)
    assert names == [Level.T5, Level.T6, Level.T7, Level.T8, Level.T9, Level.T10]
    assert "as T8's body" in evidence[3] and len(warnings) == 1
    label = next(lab for lab, lv in core_to_id.items() if lv == int(Level.T8))
    assert np.array_equal(new_cores == label, body.mask)
    assert not (cores == label).any()  # the input is not modified
    # Given again, the level already named keeps its core: nothing is added twice.
    again, more = with_lost_bodies(new_cores, found, names, evidence, core_to_id)
    assert np.array_equal(again, new_cores) and not more and names.count(Level.T8) == 1


def test_no_slab_or_a_calcified_nucleus_is_no_body() -> None:
    for radius in (None, 3):  # an empty room; a nucleus 12 mm across
        nodes, cores, filled = _column(slab_radius=radius)
        missing, rooms = lost_steps(nodes, cores, filled, SPACING)
        assert missing == [2] and rooms == {}  # counted by its length, holding no body
        assert lost_bodies(list(NAMED), missing, rooms, SPACING) == []


def test_a_step_the_count_did_not_take_as_a_lost_vertebra_is_not_searched() -> None:
    # The anchors refused the gap: the names run on without a skipped level, and the bone
    # in the long step (an osteophyte, a rib head) must not become a vertebra.
    nodes, cores, filled = _column(slab_radius=8)
    missing, rooms = lost_steps(nodes, cores, filled, SPACING)
    assert list(rooms) == [2]
    consecutive = [Level.T5, Level.T6, Level.T7, Level.T8, Level.T9]
    assert lost_bodies(consecutive, missing, rooms, SPACING) == []
    # ...nor a step where two vertebrae were counted as lost.
    assert lost_bodies([Level.T5, Level.T6, Level.T7, Level.T10, Level.T11],
                       [2, 2], rooms, SPACING) == []


def test_a_long_step_beside_a_partial_core_is_a_lost_vertebra_only_with_a_body_in_it() -> None:
    # The fourth body's core holds a quarter of its neighbours': a step beside it is
    # what a piece of a vertebra also makes, so its length alone counts nothing...
    nodes, cores, filled = _column(slab_radius=8, fourth_core_radius=3)
    assert missing_after(nodes) == []
    assert uneven_steps(nodes) == [2]
    # ...but a body of its own in the room is a lost vertebra.
    missing, rooms = lost_steps(nodes, cores, filled, SPACING)
    assert missing == [2] and list(rooms) == [2]
    nodes, cores, filled = _column(slab_radius=None, fourth_core_radius=3)
    assert lost_steps(nodes, cores, filled, SPACING) == ([], {})
