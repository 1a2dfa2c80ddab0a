"""The sacrum at the foot of the column: a core far wider than the bodies above it.

The vertebra sitting on the sacrum is L5 (DOMAIN.md §3). The sacral core (the S1 body
with its alae, often run on into the ilia) is told from a body by its width, read by
bounding box and slab by slab.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import Node

__all__ = ["SACRUM_WIDTH_RATIO", "is_sacrum", "slab_widths_mm"]

#: The sacral core (S1 body plus the thick alae, often joined to the ilia) is far wider
#: than any lumbar body core: alae span ~100 mm against a ~40-48 mm L5 body (§7.3).
SACRUM_WIDTH_RATIO = 2.0
#: Percentile of the lowest core's slab widths that reads the sacrum's alae: it widens
#: steadily down its upper part, while a slice or two a rib or a sliver widens does not
#: make a body a sacrum.
SLAB_WIDTH_PERCENTILE = 80.0
#: ...and it is narrower than NARROW_SLAB_RATIO times the bodies' slab width over its
#: S1 body at most (S1 ~30 mm tall, DOMAIN.md §7.3 gives L5 27 mm) before the alae.
NARROW_SLAB_RATIO = 1.5
MAX_NARROW_TOP_MM = 35.0
#: Narrowest slab of a body's core (mm): the smallest thoracic body is ~33 mm wide
#: (DOMAIN.md §7.3, T1) and its core stops a few mm inside the cortex on each side.
MIN_BODY_SLAB_MM = 20.0
#: A single core this tall holds two bodies at least (lumbar pitch ~37 mm: bodies ~27 mm
#: with ~10 mm discs, DOMAIN.md §7.3).
MIN_TWO_BODY_BLOCK_MM = 75.0


def is_sacrum(
    chain: list[Node],
    cores: np.ndarray | None = None,
    spacing_mm: tuple[float, float, float] | None = None,
) -> bool:
    """True when the lowest core of the chain is much wider than the bodies above it.

    Two bodies above it at least are needed to know their width: as separate cores, or
    as one block as tall as two vertebral pitches (bodies merged through their discs,
    parted later by the disc search). With the core labels, widths are also read slab
    by slab (:func:`slab_widths_mm`): a block's bounding box is widened by the column's
    drift along it and by a few slices a process or a sliver widens (independent
    phantom ind-1-0012: lumbar bodies 33-45 mm across slice by slice, 87 mm by their
    box, beside a sacrum 85 mm across its alae, 89 mm by its box: no sacrum, and the
    column was named T5-T9 from the iliac wings read as ribs).
    """
    if len(chain) < 2 or (len(chain) == 2 and chain[0].height_mm < MIN_TWO_BODY_BLOCK_MM):
        return False
    widths = np.array([n.width_mm for n in chain[:-1]])
    box_wide = chain[-1].width_mm >= SACRUM_WIDTH_RATIO * float(np.median(widths))
    if cores is None or spacing_mm is None:
        return box_wide
    slabs = slab_widths_mm(cores, [n.label for n in chain], spacing_mm)
    bodies = [float(np.median(w)) for w in slabs[:-1] if w.size]
    if not bodies or not slabs[-1].size:
        return box_wide
    body = float(np.median(bodies))
    wide = float(np.percentile(slabs[-1], SLAB_WIDTH_PERCENTILE))
    if box_wide:
        # The box of a tall block of bodies is widened by a slice or two a process or
        # the pelvis widens, and its own drift (independent phantoms ind-1-0039: T9-L3
        # in one core 64 mm by its box, 43 mm slice by slice, over 29 mm cores above;
        # ind-1-0022: L2 down in one core, 72 mm by its box, 44 by its slabs): the alae
        # widen a sacral core over much of its height, so its slabs must show it too.
        return body < MIN_BODY_SLAB_MM or wide >= SACRUM_WIDTH_RATIO * body
    if body < MIN_BODY_SLAB_MM:
        return False  # no body above to compare with (family s2-0046: a 7-17 mm vessel)
    # A block of bodies run into the sacrum below them is wide at its foot too, but
    # stays as narrow as a body far down from its top (family s2-0046: L1-L5 and the
    # sacrum in one 242 mm core, taken for the sacrum and the column lost): a sacral
    # core is a body's width for its S1 body at most before the alae widen it.
    below_top = slabs[-1][::-1] >= NARROW_SLAB_RATIO * body
    narrow_top_mm = (int(np.argmax(below_top)) if below_top.any() else below_top.size) * float(
        spacing_mm[2]
    )
    return narrow_top_mm <= MAX_NARROW_TOP_MM and wide >= SACRUM_WIDTH_RATIO * body


def slab_widths_mm(
    cores: np.ndarray, labels: list[int], spacing_mm: tuple[float, float, float]
) -> list[np.ndarray]:
    """Left-right extent (mm) of each core in every slice it occupies."""
    boxes = ndimage.find_objects(cores, max_label=max(labels, default=0))
    out = []
    for lab in labels:
        box = boxes[lab - 1] if 0 < lab <= len(boxes) else None
        if box is None:
            out.append(np.zeros(0))
            continue
        inside = cores[box] == lab
        cols = inside.any(axis=1)  # (x, z): columns of the slab holding the core
        present = cols.any(axis=0)
        first = np.argmax(cols, axis=0)
        last = cols.shape[0] - 1 - np.argmax(cols[::-1], axis=0)
        out.append(((last - first + 1) * spacing_mm[0])[present].astype(float))
    return out
