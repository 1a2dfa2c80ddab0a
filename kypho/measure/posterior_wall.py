"""Posterior wall of the vertebral body: bulge into the spinal canal (retropulsion).

In the mid-sagittal section, the posterior wall is the posterior edge of the body at each
height. Its bulge is how far it reaches behind the straight line joining the
posterior-inferior and posterior-superior corners, measured at mid-height. The corners
are read at 10 % and 90 % of the posterior height, clear of the rounded rims. A normal,
slightly concave wall gives 0 mm.
"""

from __future__ import annotations

import numpy as np

from kypho.measure.endplates import column_edges
from kypho.measure.heights import HeightProfile

__all__ = ["CORNER_FRACTIONS", "retropulsion_mm"]

#: Heights (fractions of the posterior height, from the inferior endplate) where the
#: posterior-inferior and posterior-superior corners are read.
CORNER_FRACTIONS = (0.10, 0.90)
#: Part of the wall (fractions of the posterior height) searched for the bulge.
MID_WALL = (0.25, 0.75)


def retropulsion_mm(profile: HeightProfile) -> float | None:
    """Posterior bulge of the body beyond its corner line (mm, >= 0).

    Parameters
    ----------
    profile : HeightProfile
        Heights and mid-sagittal section of the vertebra.

    Returns
    -------
    float or None
        None when the posterior wall could not be traced.
    """
    si = profile.si_grid
    z_inf, z_sup = float(profile.inferior_mm[2]), float(profile.superior_mm[2])
    hp = z_sup - z_inf
    if hp <= 2.0:
        return None
    post, _ = column_edges(profile.section.T, profile.ap_grid)  # per SI row
    z = si

    def wall_at(frac: float) -> float:
        zz = z_inf + frac * hp
        return float(np.interp(zz, z[np.isfinite(post)], post[np.isfinite(post)]))

    ok = np.isfinite(post)
    if ok.sum() < 4:
        return None
    z0, z1 = (z_inf + f * hp for f in CORNER_FRACTIONS)
    p0, p1 = wall_at(CORNER_FRACTIONS[0]), wall_at(CORNER_FRACTIONS[1])
    rows = ok & (z >= z_inf + MID_WALL[0] * hp) & (z <= z_inf + MID_WALL[1] * hp)
    if not rows.any():
        return None
    line = p0 + (p1 - p0) * (z[rows] - z0) / (z1 - z0)
    # Positive when the wall lies posterior (smaller AP coordinate) of the corner line.
    return float(max(0.0, np.max(line - post[rows])))
