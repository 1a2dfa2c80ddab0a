"""Arches of a vertebra cut by the field of view, split from its neighbour at the joints.

The whole-vertebra flood (:mod:`kypho.anatomy.engine.whole`) follows bone from each body
through its pedicles, which is right when the pedicles are in the image. When the image's
top (or bottom) slice cuts a vertebra beyond its pedicles, the parts of its arch in view
(laminae, articular processes, spinous process) are joined to its body only outside the
image. Inside it they touch the neighbouring vertebra at the facet joints, and the flood
gives most of them to the neighbour, whose pedicles are in view.

That case shows in the labels: without its border slice, the cut vertebra falls apart
into its body and arch pieces that only the border held together. Then the two vertebrae
are re-split by a watershed on the CT values (bright first), seeded from both bodies,
the cut vertebra's part of the border slice and the neighbour's far half. Bone is bright
and continuous within each vertebra, and the facet joint between them is a band of
cartilage darker than the cortex on both sides, so the floods meet there: each voxel goes
to the side it reaches by the brightest path. It runs on the CT's own voxels, unsmoothed:
the joint space is about a voxel wide, and smoothing would close it.
"""

from __future__ import annotations

import cc3d
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from kypho.anatomy.engine.bodies import body_from_vertebra

__all__ = ["MIN_BORDER_VOXELS", "MIN_DETACHED_MM3", "arch_detached", "resplit_cut_arches"]

#: A vertebra is treated as cut by a border slice when it has at least this many voxels
#: in it (fewer is a rim grazing the border).
MIN_BORDER_VOXELS = 50
#: Smallest arch piece (mm^3) whose detachment from the body, once the border slice is
#: left out, shows that the pedicles are outside the image: a lumbar lamina or
#: articular process is several cm^3, while noise specks are a few voxels.
MIN_DETACHED_MM3 = 500.0


def _box_around(mask_box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(mask_box, shape, strict=True)
    )


def _contact_neighbour(sub: np.ndarray, vid: int, exclude: set[int]) -> int | None:
    """Label sharing the longest boundary with ``vid`` (26-connectivity) in ``sub``."""
    mask = sub == vid
    ring = ndimage.binary_dilation(mask, structure=np.ones((3, 3, 3), bool)) & ~mask
    touching = sub[ring]
    touching = touching[(touching > 0) & ~np.isin(touching, list(exclude))]
    if not touching.size:
        return None
    return int(np.bincount(touching).argmax())


def arch_detached(mask: np.ndarray, top: bool, voxel_mm3: float) -> bool:
    """True when ``mask`` (one vertebra, cut by its top or bottom slice) falls apart into
    pieces of at least :data:`MIN_DETACHED_MM3` once that slice is left out."""
    inner = mask[:, :, :-1] if top else mask[:, :, 1:]
    counts = cc3d.statistics(cc3d.connected_components(inner, connectivity=26))["voxel_counts"]
    big = np.sort(counts[1:])[::-1] * voxel_mm3
    return len(big) >= 2 and big[1] >= MIN_DETACHED_MM3


def _resplit_pair(
    sub: np.ndarray,
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    cut: int,
    other: int,
    top: bool,
) -> None:
    """Re-split vertebrae ``cut`` and ``other`` in place inside a crop whose top (bottom)
    slice is the image's; ``other`` lies below (above) ``cut``."""
    region = (sub == cut) | (sub == other)
    z = np.arange(sub.shape[2])[None, None, :]
    # The bodies stay as they are: only the arches are in question, and where two
    # endplates nearly touch, a bright rim would let one flood into the other body.
    pair = np.where(region, sub, 0).astype(np.uint8)
    bodies = body_from_vertebra(pair, np.diag([*spacing_mm, 1.0]))
    markers = np.zeros(sub.shape, dtype=np.uint8)
    markers[bodies == cut] = 1
    markers[bodies == other] = 2
    border = sub.shape[2] - 1 if top else 0
    markers[:, :, border][sub[:, :, border] == cut] = 1
    # The neighbour's half away from the cut vertebra: its body and that end of its
    # arch, which no joint separates from it.
    other_mask = sub == other
    z_mid = float(np.argwhere(other_mask)[:, 2].mean())
    far = z <= z_mid if top else z >= z_mid
    markers[other_mask & far] = 2
    if not (markers == 1).any() or not (markers == 2).any():
        return
    flood = watershed(-hu, markers, mask=region)
    sub[region] = np.where(flood[region] == 1, cut, other).astype(sub.dtype)


def resplit_cut_arches(
    labels: np.ndarray,
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    skip: set[int] | None = None,
) -> np.ndarray:
    """Give the arch of a vertebra cut beyond its pedicles by the image's top or bottom
    slice back to it.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of uint8
        Whole-vertebra labels on the CT grid (canonical: axis 2 inferior to superior).
    hu : (X, Y, Z) ndarray of float32
        The CT values on the same grid.
    spacing_mm : (3,) float
        Voxel size.
    skip : set of int, optional
        Labels that are not vertebrae (the sacrum): never re-split.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
        The labels; unchanged unless a vertebra at the top or bottom is cut beyond its
        pedicles, in which case it and its neighbour are re-split at the joints.
    """
    out = labels.copy()
    skip = set(skip or ())
    voxel_mm3 = float(np.prod(spacing_mm))
    for top in (True, False):
        border = out[:, :, -1] if top else out[:, :, 0]
        ids = border[(border > 0) & ~np.isin(border, list(skip))]
        if not ids.size:
            continue
        counts = np.bincount(ids)
        cut = int(counts.argmax())
        if counts[cut] < MIN_BORDER_VOXELS:
            continue
        boxes = ndimage.find_objects(out)
        cut_box = _box_around(boxes[cut - 1], out.shape)
        if not arch_detached(out[cut_box] == cut, top, voxel_mm3):
            continue
        other = _contact_neighbour(out[cut_box], cut, skip | {cut})
        if other is None:
            continue
        z_cut, z_other = (boxes[i - 1][2].start + boxes[i - 1][2].stop for i in (cut, other))
        if (z_other < z_cut) != top:
            continue  # the neighbour must lie on the far side of the cut vertebra
        pair = tuple(
            slice(min(a.start, b.start), max(a.stop, b.stop))
            for a, b in zip(boxes[cut - 1], boxes[other - 1], strict=True)
        )
        # Views: the re-split writes through to ``out``.
        _resplit_pair(out[pair], hu[pair], spacing_mm, cut, other, top)
    return out
