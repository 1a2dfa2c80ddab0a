"""A vertebra half the size of its neighbours caps the level confidence."""

from __future__ import annotations

from kypho.anatomy.engine.fragments import FRAGMENT_CONFIDENCE, cap_for_fragments
from kypho.anatomy.levels import Level
from kypho.model import LevelInfo


def _info(level: Level, count: int, cut: bool = False) -> LevelInfo:
    return LevelInfo(
        level=level,
        centroid_ras_mm=(0.0, 0.0, -30.0 * int(level)),
        body_centroid_ras_mm=None,
        voxel_count=count,
        confidence=0.97,
        cut_by_fov=cut,
    )


def test_a_piece_of_a_vertebra_caps_every_level() -> None:
    # T8 is a piece (3,750 voxels among ~9,000): measured on a family case where an
    # over-split block shifted every name while last rib and sacrum agreed.
    counts = {Level.T6: 8885, Level.T7: 8769, Level.T8: 3750, Level.T9: 9955, Level.T10: 9300}
    infos = [_info(lv, c) for lv, c in counts.items()] + [_info(Level.S, 96000)]
    capped, warnings = cap_for_fragments(infos)
    assert all(i.confidence <= FRAGMENT_CONFIDENCE for i in capped if i.level is not Level.S)
    assert capped[-1].confidence == infos[-1].confidence
    assert warnings and "T8" in warnings[0]
    assert infos[0].confidence == 0.97  # the records given are not changed


def test_a_grade_3_crush_and_a_cut_vertebra_do_not() -> None:
    # A 45 % crush keeps ~55 % of its body and all of its arch: ~0.6 of a neighbour.
    counts = {Level.T12: 14000, Level.L1: 8600, Level.L2: 14600, Level.L3: 15000}
    infos = [_info(lv, c) for lv, c in counts.items()]
    infos.append(_info(Level.L4, 3000, cut=True))  # cut by the field of view
    capped, warnings = cap_for_fragments(infos)
    assert capped == infos and not warnings


def test_two_vertebrae_left_in_one_label_cap_every_level() -> None:
    # Family s1-0037: L4 and L5 not parted at a calcified disc (36,920 voxels), the top
    # of the sacrum split off below as "L5"; last rib and sacrum agreed on the shifted
    # count at 0.97.
    counts = {Level.L1: 15591, Level.L2: 16030, Level.L3: 17401, Level.L4: 36920,
              Level.L5: 32861}
    infos = [_info(lv, c) for lv, c in counts.items()] + [_info(Level.S, 17136)]
    capped, warnings = cap_for_fragments(infos)
    assert all(i.confidence <= FRAGMENT_CONFIDENCE for i in capped if i.level is not Level.S)
    assert len(warnings) == 1 and "L4 is nearly twice" in warnings[0]


def test_lumbar_growth_and_osteophytes_do_not() -> None:
    # Lumbar vertebrae grow ~10 % a level; L4 with large osteophytes (+40 %) is no merge.
    counts = {Level.L1: 15000, Level.L2: 16500, Level.L3: 18000, Level.L4: 27700,
              Level.L5: 21500}
    infos = [_info(lv, c) for lv, c in counts.items()]
    capped, warnings = cap_for_fragments(infos)
    assert capped == infos and not warnings


def _at(level: Level, z_mm: float, count: int = 30000) -> LevelInfo:
    return LevelInfo(
        level=level,
        centroid_ras_mm=(0.0, 0.0, z_mm),
        body_centroid_ras_mm=(0.0, 0.0, z_mm),
        voxel_count=count,
        confidence=0.97,
    )


def test_a_vertebra_missing_between_two_bodies_caps_every_level() -> None:
    # Family s1-0053: T9 crushed to a 2 cm3 core and dropped; the bodies found as "T9"
    # and "T10" lie 40 mm apart among steps of 20-28 mm, and every name above the gap
    # was one level off at 0.97 (last rib and sacrum agreed below it).
    z = {Level.T6: 133.4, Level.T7: 111.7, Level.T8: 89.7, Level.T9: 66.4,
         Level.T10: 26.2, Level.T11: -0.6, Level.T12: -28.6, Level.L1: -56.2}
    infos = [_at(lv, v) for lv, v in z.items()]
    capped, warnings = cap_for_fragments(infos)
    assert all(i.confidence <= FRAGMENT_CONFIDENCE for i in capped)
    assert len(warnings) == 1 and "T9-T10" in warnings[0]


def test_growing_pitches_and_a_crush_leave_no_gap() -> None:
    # Pitches grow ~1 mm a level down the thoracic spine; a grade-3 crush at T12
    # shortens the steps on both sides of it.
    z = [0.0, -21.0, -43.0, -66.0, -90.0, -110.0, -130.0, -158.0, -188.0]
    levels = [Level.T6, Level.T7, Level.T8, Level.T9, Level.T10, Level.T11, Level.T12,
              Level.L1, Level.L2]
    infos = [_at(lv, v) for lv, v in zip(levels, z, strict=True)]
    capped, warnings = cap_for_fragments(infos)
    assert capped == infos and not warnings
