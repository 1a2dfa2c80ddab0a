"""The sacrum apart from the hip bones and the pelvic ring.

The sacral core found on the coarse grid usually runs on into both ilia through the
sacroiliac joints and, around the pelvic ring, into the acetabula and the pubis, some
of which lie near the midline. Only the part of the core within the alae's reach that
hangs together with the S1 body there seeds the sacrum; the rest of the core and the
bone far to the side seed the pelvis, and a geodesic flood shares the bone between
them (TotalSegmentator's "sacrum" excludes the hip bones, which are separate masks).
At 3 mm the sacroiliac joints show no gap darker than the fatty sacral marrow, so an
intensity watershed was tried and rejected.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from kypho.anatomy.engine.plane_fill import fill_in_planes

__all__ = ["fill_sacrum", "sacrum_from_pelvis"]

#: Half-width (mm) of the central column of the sacral core taken as the S1 body seed
#: (S1 endplate ~45-50 mm wide, DOMAIN.md §7.3; the alae and ilia lie outside).
S1_SEED_HALF_WIDTH_MM = 20.0
#: Height (mm) of that seed below the top of the central column: about one S1 body.
S1_SEED_HEIGHT_MM = 25.0
#: Bone farther than this to the side of the body axis seeds the hip bones: the sacral
#: alae end ~50-60 mm from the midline (S1 ~100-110 mm wide), the ilia lie beyond.
ILIUM_SEED_MM = 60.0
#: Half-width (mm) of the sacrum at its alae (S1 ~100-110 mm wide); the ilia lie beyond.
SACRUM_HALF_WIDTH_MM = 55.0


def sacrum_from_pelvis(
    whole: np.ndarray,
    filled: np.ndarray,
    sacral_core: np.ndarray,
    axis_mm: np.ndarray,
    spacing_mm: tuple[float, float, float],
    sacrum_id: int,
) -> np.ndarray:
    """Re-draw the sacrum inside the pelvic bone, apart from the ilia and the pelvic ring.

    Parameters
    ----------
    whole : (X, Y, Z) ndarray of uint8
        Vertebra ids from the flat flood (0 = not spine); a modified copy is returned.
    filled : (X, Y, Z) ndarray of bool
        Filled bone.
    sacral_core : (X, Y, Z) ndarray of bool
        The sacral core (S1 body, alae and whatever pelvis it ran into).
    axis_mm : (X, Y, Z) ndarray of float32
        Left-right distance to the body axis.
    spacing_mm : tuple of 3 float
        Voxel size.
    sacrum_id : int
        Label of the sacrum in ``whole``.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
    """
    central = sacral_core & (axis_mm < S1_SEED_HALF_WIDTH_MM)
    zs = np.flatnonzero(central.any(axis=(0, 1)))
    if zs.size == 0:
        return whole
    top = int(zs.max())
    depth = max(1, round(S1_SEED_HEIGHT_MM / spacing_mm[2]))
    seed = central.copy()
    seed[:, :, : max(0, top + 1 - depth)] = False
    # The sacrum is the part of the core within the alae's reach that hangs together
    # with S1 there; the rest of the core (acetabula, pubis, ilia) is pelvis.
    band = cc3d.connected_components(sacral_core & (axis_mm < SACRUM_HALF_WIDTH_MM), connectivity=6)
    hit = np.unique(band[seed])
    sacral = np.isin(band, hit[hit > 0])
    # Everything the other vertebrae did not claim competes: the sacrum and the pelvis.
    region = filled & ((whole == sacrum_id) | (whole == 0))
    markers = np.zeros(whole.shape, dtype=np.uint8)
    markers[region & ((axis_mm > ILIUM_SEED_MM) | (sacral_core & ~sacral))] = 2
    markers[sacral & region] = 1
    if not (markers == 1).any():
        return whole
    flood = watershed(np.zeros(whole.shape, dtype=np.uint8), markers, mask=region)
    out = whole.copy()
    out[out == sacrum_id] = 0
    out[flood == 1] = sacrum_id
    return out


def fill_sacrum(labels: np.ndarray, sacrum_id: int) -> np.ndarray:
    """Fill the sacrum's enclosed interior, slice by slice, where nothing else is labelled.

    The sacral bodies' trabecular bone is often fatty (below the trabecular threshold)
    and their thin cortex is open at the foramina, so the 3-D cavity fill leaves them
    hollow; in an axial slice the interior is still enclosed.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of uint8
        Vertebra labels (modified in place and returned).
    sacrum_id : int
        Label of the sacrum.
    """
    mask = labels == sacrum_id
    if not mask.any():
        return labels
    box = tuple(
        slice(max(0, b.start - 1), b.stop + 1)
        for b in ndimage.find_objects(mask.astype(np.uint8))[0]
    )
    sub = mask[box]
    # A light closing bridges the foramina and partial-volume gaps of the thin cortex
    # before the interior is filled in sagittal planes (the stacked sacral bodies) and
    # coronal ones (the lateral masses); not in axial ones, where the arch encloses the
    # sacral canal.
    sub = sub | ndimage.binary_closing(sub, structure=ndimage.generate_binary_structure(3, 1))
    filled = fill_in_planes(sub, 0) | fill_in_planes(sub, 1)
    view = labels[box]
    view[filled & (view == 0)] = sacrum_id
    return labels
