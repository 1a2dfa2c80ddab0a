"""A core two pitches tall is two bodies: cut it where the column's pitch puts its disc.

A thin disc at thick slices (a 3.8 mm thoracic disc at 3 mm, blurred) can read only
slightly darker than the bodies, below the evidence a block's CT profile needs
(:mod:`~kypho.anatomy.engine.disc_profile`), so the block was left whole and every level
counted across it was one off (independent phantom ind-1-0014: T7 and T8, a 42 mm core
among bodies 22 mm apart, disc 181 HU against 226 HU bone). A core is a body's height
less its endplate margins, so one body's core is always shorter than the pitch (body and
disc) of its neighbours, and a body beside a crushed one makes ~1.5 pitches
(:data:`~kypho.anatomy.engine.split.MERGED_HEIGHT_RATIO`): a core of
:data:`MIN_PAIR_PITCHES` to :data:`MAX_PAIR_PITCHES` pitches holds two bodies. It is cut
at the one candidate disc near its middle that reads darker than bone; a bright band
there (the depressed endplates of a crushed body meeting) is no disc, and the block
stays whole.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.disc_profile import DiscCuts

__all__ = ["MAX_PAIR_PITCHES", "MIN_PAIR_PITCHES", "pitch_pair_cut"]

#: Core height, in pitches of the bodies beside it, of a block of two bodies.
MIN_PAIR_PITCHES = 1.7
MAX_PAIR_PITCHES = 2.6
#: Largest distance (in pitches) of the cut from the core's middle.
MIDDLE_TOLERANCE_PITCHES = 0.3


def pitch_pair_cut(found: DiscCuts, height_mm: float, pitch_mm: float | None) -> np.ndarray:
    """The one cut to keep in a core of two bodies without disc evidence.

    Parameters
    ----------
    found : DiscCuts
        The block's candidate disc planes (none with evidence).
    height_mm : float
        The core's height along z.
    pitch_mm : float or None
        Centroid distance between the separate bodies beside it.

    Returns
    -------
    (K,) ndarray of bool
        At most one True: the candidate nearest the middle, darker than bone.
    """
    keep = np.zeros(len(found.positions_mm), dtype=bool)
    if pitch_mm is None or pitch_mm <= 0 or not len(keep):
        return keep
    if not MIN_PAIR_PITCHES * pitch_mm <= height_mm <= MAX_PAIR_PITCHES * pitch_mm:
        return keep
    off = np.abs(found.positions_mm - 0.5 * height_mm)
    ok = (off <= MIDDLE_TOLERANCE_PITCHES * pitch_mm) & (found.disc_hu < found.body_hu)
    if ok.any():
        keep[int(np.argmin(np.where(ok, off, np.inf)))] = True
    return keep
