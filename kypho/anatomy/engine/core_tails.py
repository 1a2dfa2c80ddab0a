"""Thin tails at the ends of a body core: articular pillars and rib heads, not body.

A body's core keeps nearly its full axial section from end to end: it stops
``CORE_DEPTH_3D_MM`` short of each endplate, where the body is still whole. Bone thick
enough for a core also stands behind the canal, though: lumbar articular pillars, thick
and overlapping at their facet joints, and rib heads at the costovertebral joints. Joined
to a body through a thick pedicle they hang off its core's end as a tail a fraction of
its section, reaching into the next body's level. The chain cannot then follow that
core with the next body's, which overlaps it in z (independent phantom ind-1-0027: the
L1 and L3 cores reached 20 and 16 mm towards each other, and L2's core between them
was passed over). The chain judges such a core's overlap by its body part alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import MAX_BODY_CORE_WIDTH_MM, Node

__all__ = ["MAX_OVER_BODY_SHARE", "MIN_SECTION_FRACTION", "MIN_TAIL_MM", "without_tails"]

#: A core's slice with less than this fraction of its largest axial section is tail:
#: a pillar or rib head is a tenth to a fifth of a body's section, while a body core
#: tapers only over its last slice or two (measured on ind-1-0027: 20-110 mm^2 of tail
#: against 650-950 mm^2 of body).
MIN_SECTION_FRACTION = 0.25
#: Shortest tail (mm): one or two thin end slices are a body core's own taper.
MIN_TAIL_MM = 4.0
#: A thin end lying over the body's own footprint more than this share is the body's
#: end seen obliquely (kyphosis tilts a thoracolumbar body's core: ind-1-0004's T11 and
#: T12 had such ends), not a tail.
MAX_OVER_BODY_SHARE = 0.5
#: Radius (mm) of the opening that leaves a body's footprint without the pillars
#: beside it: a pillar's core is 5-8 mm across, a body's 20-40 mm.
BODY_OPENING_MM = 5.0


def _tail_slices(core: np.ndarray, spacing_mm: np.ndarray) -> np.ndarray:
    """Indices (along axis 2 of ``core``, one core's mask in its box) of the thin runs
    at either end that lie mostly outside the in-plane footprint of its thick slices."""
    area = core.sum(axis=(0, 1)).astype(float)
    thick = np.flatnonzero(area >= MIN_SECTION_FRACTION * area.max())
    first, last = int(thick[0]), int(thick[-1])
    # The body's footprint without the pillars beside it at its own level: an opening
    # wider than a pillar's core (a few mm) and narrower than a body's (20-40 mm).
    r = [max(1, round(BODY_OPENING_MM / s)) for s in spacing_mm[:2]]
    gx, gy = np.ogrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1]
    disk = (gx / r[0]) ** 2 + (gy / r[1]) ** 2 <= 1.0
    footprint = ndimage.binary_opening(core[:, :, first : last + 1].any(axis=2), disk)
    out: list[int] = []
    for run in (range(first), range(last + 1, len(area))):
        if len(run) * spacing_mm[2] < MIN_TAIL_MM:
            continue
        # A tilted body's end is thin in its axial slices too but lies over the body;
        # a pillar or rib head stands behind or beside it.
        tail = core[:, :, run.start : run.stop]
        if (tail & footprint[:, :, None]).sum() <= MAX_OVER_BODY_SHARE * tail.sum():
            out.extend(run)
    return np.asarray(out, dtype=int)


def without_tails(
    cores: np.ndarray,
    nodes: list[Node],
    rejected: set[int],
    spacing_mm: tuple[float, float, float],
) -> list[Node]:
    """The nodes, those of candidate cores no wider than a body with thin tails given
    the extent of their body part (``Node.body_z_mm``) for the chain's overlap test.

    The cores themselves are left whole: the disc search and the delineation read them
    as before (cutting the tails off the cores moved discs and made false wedges, in
    ind-1-0011 and ind-1-0026).

    Parameters
    ----------
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid.
    nodes : list of Node
        The cores described.
    rejected : set of int
        Labels that are no candidates (left as they are).
    spacing_mm : tuple of 3 float
        Coarse voxel size.

    Returns
    -------
    list of Node
        In the order given; new records where a tail was found.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    boxes = ndimage.find_objects(cores)  # one pass for every core's bounding box
    out: list[Node] = []
    for node in nodes:
        box = boxes[node.label - 1] if node.label <= len(boxes) else None
        if node.label in rejected or node.width_mm > MAX_BODY_CORE_WIDTH_MM or box is None:
            out.append(node)
            continue
        tail = _tail_slices(cores[box] == node.label, sp)
        if not tail.size:
            out.append(node)
            continue
        body = np.setdiff1d(np.arange(box[2].stop - box[2].start), tail)
        lo, hi = box[2].start + int(body.min()), box[2].start + int(body.max()) + 1
        out.append(replace(node, body_z_mm=(float(lo * sp[2]), float(hi * sp[2]))))
    return out
