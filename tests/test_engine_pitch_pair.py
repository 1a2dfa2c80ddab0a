"""A core two pitches tall is cut where the pitch puts its disc, if that disc reads
darker than bone (kypho.anatomy.engine.pitch_pair).

Independent phantom ind-1-0014 (3 mm slices): T7 and T8 made one 42 mm core among
bodies 22 mm apart, their disc 181 HU against 226 HU bone, too faint for the profile's
evidence; the block was left whole and every level across it was one off.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.disc_profile import DiscCuts
from kypho.anatomy.engine.pitch_pair import pitch_pair_cut


def _cuts(positions: list[float], disc_hu: list[float], body_hu: float = 226.0) -> DiscCuts:
    k = len(positions)
    return DiscCuts(
        positions_mm=np.asarray(positions, dtype=float),
        points_mm=np.zeros((k, 3)),
        tangents=np.tile([0.0, 0.0, 1.0], (k, 1)),
        evidence=np.zeros(k, dtype=bool),
        score=np.full(k, 0.5),
        half_width_mm=np.zeros(k),
        body_hu=np.full(k, body_hu),
        disc_hu=np.asarray(disc_hu, dtype=float),
    )


def test_a_faint_disc_in_the_middle_of_a_two_pitch_core_is_cut() -> None:
    keep = pitch_pair_cut(_cuts([20.0], [181.0]), height_mm=42.0, pitch_mm=22.3)
    assert keep.tolist() == [True]


def test_only_the_candidate_nearest_the_middle_is_kept() -> None:
    keep = pitch_pair_cut(_cuts([8.0, 18.0, 22.0], [150.0, 190.0, 200.0]), 42.0, 22.3)
    assert keep.tolist() == [False, False, True]


def test_a_bright_band_is_no_disc() -> None:
    # The depressed endplates of a crushed body meeting read brighter than its bone.
    assert not pitch_pair_cut(_cuts([20.0], [405.0], body_hu=114.0), 42.0, 22.3).any()


def test_a_body_beside_a_crushed_one_is_not_two_pitches() -> None:
    assert not pitch_pair_cut(_cuts([16.0], [181.0]), height_mm=33.0, pitch_mm=22.3).any()
    assert not pitch_pair_cut(_cuts([16.0], [181.0]), height_mm=33.0, pitch_mm=None).any()


def test_a_candidate_far_from_the_middle_is_not_cut() -> None:
    assert not pitch_pair_cut(_cuts([9.0], [150.0]), height_mm=42.0, pitch_mm=22.3).any()
