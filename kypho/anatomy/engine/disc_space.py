"""The disc space around a cut through a merged block, where the disc reads dark.

A plane through the middle of a disc parts the two bodies' cores, but the disc itself
is tilted and wedged against any plane; where the filled bone ran through it, the flood
that follows would share it between the bodies at the plane. Where the disc reads darker
than the bodies, its own voxels say where it is: the voxels near the cut, across the
body and its rim, darker than half-way from the bodies' level to the disc's, connected
to the cut plane.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.disc_profile import DiscCuts

__all__ = ["dark_disc_space"]

#: The disc is searched this far (mm) either side of its cut plane: half the thickest
#: disc (lumbar, ~12 mm, DOMAIN.md §7.3) plus a tilt of ~20 degrees over a body's radius.
SEARCH_MM = 9.0
#: Within that, no farther than the disc's half-width plus this margin (mm): a plane
#: ~10 degrees off the disc moves ~3 mm across a body's radius.
TILT_MARGIN_MM = 3.0
#: ...and this far (mm) beyond the body core's radius: the core lies ~5 mm inside the
#: cortex (column.CORE_DEPTH_MM), the annulus and ring apophysis beyond it.
RIM_MM = 7.0
#: A disc reads darker than the bodies by at least this share of the bodies' contrast to
#: it at the cut before its voxels are trusted (a thin disc at thick slices is a bright
#: band of endplates instead, and is left to the per-column disc rules).
MIN_DARK_SHARE = 0.15
#: ...and the half-way level lies this many voxel noise SDs below the bodies' level.
NOISE_K = 3.0


def dark_disc_space(
    hu: np.ndarray,
    mm_to_index: tuple[np.ndarray, np.ndarray],
    found: DiscCuts,
    keep: np.ndarray,
    shape: tuple[int, int, int],
    spacing_mm: np.ndarray,
    *,
    radius_mm: float,
    noise_hu: float,
) -> np.ndarray:
    """Coarse voxels of the dark discs around the kept cuts.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        The CT at full resolution.
    mm_to_index : tuple of two (3,) ndarray
        Coarse-array mm to full-resolution voxel indices.
    found : DiscCuts
        The cuts.
    keep : (K,) ndarray of bool
        Which cuts are applied.
    shape : tuple of 3 int
        Coarse grid shape.
    spacing_mm : (3,) ndarray of float
        Coarse voxel size.
    radius_mm : float
        The block's equivalent core radius.
    noise_hu : float
        The image's noise (one voxel's SD).

    Returns
    -------
    (X, Y, Z) ndarray of bool
    """
    out = np.zeros(shape, dtype=bool)
    sp = np.asarray(spacing_mm, dtype=float)
    scale, offset = (np.asarray(a, dtype=float) for a in mm_to_index)
    reach = radius_mm + RIM_MM
    for k in np.flatnonzero(keep):
        body, disc = float(found.body_hu[k]), float(found.disc_hu[k])
        half = float(found.half_width_mm[k])
        if half <= 0.0:
            continue  # the endplates are not resolved apart: no disc to read
        # The half-way level must sit clear of the bodies' own noise, or trabecular
        # voxels near the plane would pass for disc.
        if body - disc < max(MIN_DARK_SHARE * abs(body), 2.0 * NOISE_K * noise_hu):
            continue
        point, normal = found.points_mm[k], found.tangents[k]
        span = np.sqrt(reach**2 + SEARCH_MM**2)
        lo = np.maximum(np.floor((point - span) / sp).astype(int), 0)
        hi = np.minimum(np.ceil((point + span) / sp).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        axes = [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).astype(float) * sp
        rel = grid - point
        d = rel @ normal
        radial = np.linalg.norm(rel - d[..., None] * normal, axis=-1)
        near = (np.abs(d) <= min(SEARCH_MM, half + TILT_MARGIN_MM)) & (radial <= reach)
        full = (grid * scale + offset).reshape(-1, 3).T
        vals = ndimage.map_coordinates(hu, full, order=1, mode="nearest", prefilter=False)
        dark = near & (vals.reshape(near.shape) < 0.5 * (body + disc))
        # Only the dark region the cut plane runs through: a dark vessel or the canal
        # beside it is not disc.
        labels = cc3d.connected_components(dark, connectivity=6)
        on_plane = np.unique(labels[dark & (np.abs(d) <= 0.5 * sp.max())])
        on_plane = on_plane[on_plane > 0]
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        out[box] |= np.isin(labels, on_plane)
    return out
