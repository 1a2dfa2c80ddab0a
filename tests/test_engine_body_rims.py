"""Body masks of deep biconcave fractures keep their rims (kypho.anatomy.engine.bodies).

A grade 3 biconcave body is solid only in its collapsed middle: its axial slices above
and below are rings that the in-plane opening removes, and the rims reach further from
the solid middle than the fixed reach that takes shaved rims back. Independent phantom
ind-1-0008's L2 lost its posterior corners that way and read Hp 19.1 mm for 26.7.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine import body_from_vertebra

SPACING = (0.8, 0.8, 1.0)
HALF_HEIGHT_MM = 14.0
BOWL_MM = 9.0  # depth of each endplate's depression at its centre


def _biconcave(with_arch: bool) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """A 28 mm body (elliptic, 40 x 30 mm) whose endplates are cupped 9 mm at the
    centre, pedicles behind its upper half; optionally a whole arch (pedicles along the
    body's height and a lamina) closing the canal behind it. Whole labels, the truth
    body and the local coordinates (x, ap, z) in mm."""
    sx, sy, sz = SPACING
    shape = (int(70 / sx), int(80 / sy), int(50 / sz))
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij", sparse=True)
    x, ap, z = i * sx - 35.0, j * sy - 45.0, k * sz - 25.0
    rho = np.sqrt((x / 20.0) ** 2 + (ap / 15.0) ** 2)
    bowl = BOWL_MM * np.clip(1.0 - (rho / 0.8) ** 2, 0.0, None) ** 2
    body = (rho <= 1.0) & (np.abs(z) <= HALF_HEIGHT_MM - bowl)
    top, bottom = (9.0, 0.0) if not with_arch else (HALF_HEIGHT_MM, -HALF_HEIGHT_MM)
    pedicles = (np.abs(np.abs(x) - 11.0) <= 3.0) & (ap < -13.0) & (ap > -32.0)
    lamina = (np.abs(x) <= 14.0) & (ap <= -27.0) & (ap > -32.0) & with_arch
    arch = (pedicles | lamina) & (z > bottom) & (z < top)
    whole = np.where(body | arch, 3, 0).astype(np.uint8)
    return whole, body, (x, ap, z)


def test_deep_biconcave_rims_are_kept() -> None:
    whole, truth, (_x, ap, z) = _biconcave(with_arch=False)
    out = body_from_vertebra(whole, np.diag([*SPACING, 1.0])) == 3
    rim = truth & (np.abs(z) > HALF_HEIGHT_MM - 2.0)
    # The rims 12-14 mm from the middle, beyond the fixed reach, are body ...
    assert rim.sum() > 100
    assert (rim & ~out).sum() <= 0.02 * rim.sum()
    assert (truth & ~out).sum() <= 0.02 * truth.sum()
    # ... and the pedicles behind the wall are not.
    assert not (out & (ap < -16.0)).any()


def test_the_canal_is_not_read_as_a_cup() -> None:
    # The canal is a hole in every axial slice too, but behind the body: filled, the
    # arch would be opened into the body.
    whole, truth, (_x, ap, _z) = _biconcave(with_arch=True)
    out = body_from_vertebra(whole, np.diag([*SPACING, 1.0])) == 3
    assert (truth & ~out).sum() <= 0.02 * truth.sum()
    assert not (out & (ap < -16.0)).any()
