"""A block's end cut is dropped only when the piece beyond it is thinner than a body."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.disc_profile import DiscCuts
from kypho.anatomy.engine.split import _body_like_ends


def _cuts(z_mm: list[float]) -> DiscCuts:
    k = len(z_mm)
    zeros = np.zeros(k)
    return DiscCuts(
        positions_mm=np.asarray(z_mm, dtype=float),
        points_mm=np.array([[0.0, 0.0, z] for z in z_mm]),
        tangents=np.tile([0.0, 0.0, 1.0], (k, 1)),
        evidence=np.ones(k, dtype=bool),
        score=zeros,
        half_width_mm=zeros,
        body_hu=zeros,
        disc_hu=zeros,
    )


def _block(tail_top_mm: int) -> np.ndarray:
    """Voxel centres (1 mm) of three 20 x 20 mm bodies at z 0-24, 30-54 and 60-84 joined
    through bright discs, with a 2 x 2 mm strand of arch bone on top up to ``tail_top_mm``."""
    pts = []
    for lo, hi, half in ((0, 30, 10), (30, 60, 10), (60, 85, 10), (85, tail_top_mm, 1)):
        x, y, z = np.mgrid[-half:half, -half:half, lo:hi]
        pts.append(np.c_[x.ravel(), y.ravel(), z.ravel()])
    return np.vstack(pts).astype(float)


def test_a_strand_beyond_the_top_body_loses_its_cut_but_the_discs_keep_theirs() -> None:
    # ind-1-0036: once the strand's cut was dropped, the top body carried the strand as
    # a tail, its mean section read as thin, and every disc cut of L2-L5 fell in turn.
    keep = _body_like_ends(_block(150), _cuts([27.0, 57.0, 110.0]), np.ones(3, dtype=bool))
    assert keep.tolist() == [True, True, False]


def test_a_block_without_a_strand_keeps_every_cut() -> None:
    keep = _body_like_ends(_block(85), _cuts([27.0, 57.0]), np.ones(2, dtype=bool))
    assert keep.tolist() == [True, True]
