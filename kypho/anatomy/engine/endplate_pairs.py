"""Disc planes read from the endplates: separating bodies whose cores run through discs.

In a noisy CT of osteoporotic bone the trabecular interior (~50 HU) can be darker than
the discs (~100 HU); bright noise then makes the discs "bone", the cavity filling fills
them and one core runs through several bodies and discs. The endplates still stand out:
along the core's own axis, the mean HU over its central footprint peaks at every
endplate, and a disc is the interval between the two peaks of a close pair (the lower
endplate of one body, the upper endplate of the next, a disc thickness apart), whatever
its HU relative to the bone (:mod:`kypho.anatomy.engine.endplate_profile`).

A core is cut at such a disc only where it narrows there and the disc reads no darker
than the body (where discs are darker the bone threshold parts the bodies already, and
merged blocks have other causes that :mod:`kypho.anatomy.engine.split` handles), and
only if every part is then a single body. The parts are grown to their whole bodies,
the discs they ran through leave the filled bone, and a body cut by the field of view
beyond the last disc of the column, left without a core, is given one. A small chain
member behind a much larger neighbour's body is arch, not body.

A crushed body is also short between its two endplates, but its core lies between them,
while a core that runs through a disc continues on both sides of the pair: only cores
that extend beyond a pair are cut, and each endplate belongs to one disc only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.endplate_profile import (
    PAIR_MAX_MM,
    Frame,
    Profile,
    core_frame,
    fitted_axis,
    prism,
    widened,
)
from kypho.anatomy.engine.endplate_reading import (
    DISC_RIM_MM,
    MIN_PART_MM,
    EndplateReader,
)
from kypho.anatomy.engine.threshold import TissueStats

__all__ = ["EndplateSplit", "separate_at_endplates"]

#: How far (mm) beyond the column's end cores the profile is read: to the far end of the next body
#: (the core stops ~5 mm short of its endplate, a disc pair spans up to PAIR_MAX_MM, a
#: body is up to ~35 mm tall, DOMAIN.md §7.3).
SEARCH_BEYOND_MM = 60.0
#: Where a core runs through a disc its cross-section there is at most this fraction of
#: its typical cross-section elsewhere (a pair of bright plates inside one body, e.g.
#: trabecular texture at thick slices, leaves the core as wide as elsewhere).
DISC_CORE_RATIO = 0.7
#: Tallest core of one body (mm): bodies are at most ~30 mm tall (DOMAIN.md §7.3) and
#: a core stops short of the endplates; margin for partial volume.
SINGLE_BODY_MAX_MM = 40.0
#: A part cut off inside the image is at least this long (mm) and this share of the
#: median core of the column (as split.MIN_BODY_CORE_MM and split.MIN_BODY_SHARE).
MIN_BODY_PIECE_MM = 10.0
MIN_BODY_SHARE = 0.4
#: A chain member whose centroid lies this far (mm) behind the posterior edge of its
#: neighbour's footprint sits in the canal or the arch: it is arch, not a body.
BEHIND_MARGIN_MM = 8.0


@dataclass
class EndplateSplit:
    """Result of :func:`separate_at_endplates`.

    Parameters
    ----------
    vertebrae : list of Node
        Presacral body cores, cranial to caudal.
    cores : (X, Y, Z) ndarray of uint32
        Core labels including new parts.
    discs : (X, Y, Z) ndarray of bool
        Disc voxels found between endplate pairs (to be removed from the filled bone).
    solid : (X, Y, Z) ndarray of bool
        Interior of bodies found beyond the last disc (to be added to the filled bone).
    notes : list of str
        One sentence per change.
    """

    vertebrae: list[Node]
    cores: np.ndarray
    discs: np.ndarray
    solid: np.ndarray
    notes: list[str]


def _behind_neighbour(vertebrae: list[Node], frames: list[Frame]) -> set[int]:
    """Chain members that sit behind a much larger neighbour's body: arch pieces."""
    out: set[int] = set()
    for i, node in enumerate(vertebrae):
        for j in (i - 1, i + 1):
            if not 0 <= j < len(vertebrae) or vertebrae[j].volume_mm3 < 2.0 * node.volume_mm3:
                continue
            f = frames[j]
            v = float((node.centroid_mm - f.centre) @ f.e2)
            if v < f.v_min_mm - BEHIND_MARGIN_MM:
                out.add(node.label)
    return out


def _touches_border(index: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> bool:
    return any(
        bool((ix == 0).any() or (ix == n - 1).any()) for ix, n in zip(index, shape, strict=True)
    )


def _cut(work: EndplateReader, node: Node) -> list[Node]:
    """Cut one core at the discs it runs through; its parts, or [node] if none."""
    idx, frame, t, prof, pairs = work.read(node)
    half = 0.5 * prof.step
    # Cross-section of the core along the axis: where it runs through a disc it narrows
    # (the disc is filled only where noise closed it), inside a body it does not.
    bins = np.floor((t - t.min()) / prof.step).astype(int)
    area = np.bincount(bins).astype(float)
    centres = t.min() + (np.arange(len(area)) + 0.5) * prof.step
    acting: list[tuple[float, float]] = []
    for lo, hi in pairs:
        in_slab = (centres > lo + half) & (centres < hi - half)
        outside = ~in_slab & (area > 0)
        long_below = t.min() <= lo - MIN_PART_MM
        long_above = t.max() >= hi + MIN_PART_MM
        if not (in_slab & (area > 0)).any() or not outside.any() or not (long_below or long_above):
            continue
        narrow = area[in_slab].min() <= DISC_CORE_RATIO * float(np.median(area[outside]))
        if narrow and work.disc_not_darker(prof, pairs, t, lo, hi):
            acting.append((lo, hi))
    if not acting:
        return [node]
    bounds = np.array([b for pair in acting for b in pair])
    seg = np.searchsorted(bounds, t)  # even: between discs; odd: inside a disc
    shape = work.cores.shape
    pieces = [idx[seg == k] for k in range(0, 2 * len(acting) + 1, 2)]
    kept: list[np.ndarray] = []
    for piece in pieces:
        # A thin slice beyond a disc inside the image is the next vertebra's endplate
        # region (or the top of the sacrum) that the core ran into, not a body; a body
        # cut by the field of view may be short.
        if not len(piece):
            continue
        at_border = _touches_border(tuple(piece.T), shape)
        length = (np.ptp(piece[:, 2]) + 1) * work.sp[2]
        small = len(piece) * float(np.prod(work.sp)) < MIN_BODY_SHARE * work.typical_mm3
        if not at_border and (length < MIN_BODY_PIECE_MM or small):
            continue
        kept.append(piece)
    # Every part must be one body: a part still taller than any body means a disc of the
    # block was missed (or the block is curved); the block is then left whole, to be cut
    # by its cross-section (:func:`split.split_merged`). A core that only ends in a disc
    # (one part) is left as it is: the flood parts it from its neighbour at the disc.
    if len(kept) < 2 or any((np.ptp(p[:, 2]) + 1) * work.sp[2] > SINGLE_BODY_MAX_MM for p in kept):
        return [node]
    work.cores[tuple(idx.T)] = 0
    plates = np.array([b for pair in pairs for b in pair])
    kept = [_grown(work, frame, prof, plates, idx, piece) for piece in kept]
    parts = [part for part in map(work.new_node, kept) if part is not None]
    # Only a disc the core runs right through (core on both sides) is known to have been
    # filled; where the core merely ends in it, the disc is usually already open and
    # the slab would take endplate and tilted body edges with it.
    for lo, hi in acting:
        if t.min() <= lo - MIN_PART_MM and t.max() >= hi + MIN_PART_MM:
            work.mark_disc(frame, lo, hi)
    return sorted(parts, key=lambda n: -n.centroid_mm[2])


def _grown(
    work: EndplateReader,
    frame: Frame,
    prof: Profile,
    plates: np.ndarray,
    idx: np.ndarray,
    piece: np.ndarray,
) -> np.ndarray:
    """A part of a cut core grown to its whole body: the filled bone between the nearest
    endplates on either side (or the image border) within the body outline.

    The core of a body stops ~5 mm inside its surface; after a cut the parts are small,
    and the flood that gives each arch to its body (through the pedicles) would start
    too far from the pedicles.
    """
    shape = work.cores.shape
    t_piece = (piece * work.sp - frame.centre) @ frame.axis
    below = plates[plates < t_piece.min()]
    above = plates[plates > t_piece.max()]
    t_lo = float(below.max()) + 0.5 * prof.step if below.size else prof.t0
    t_hi = (
        float(above.min()) - 0.5 * prof.step
        if above.size
        else prof.t0 + len(prof.mean_hu) * prof.step
    )
    wide = widened(frame, DISC_RIM_MM)
    pidx, _ = prism(wide, t_lo - 0.25 * prof.step, t_hi - 0.25 * prof.step, shape, work.sp)
    index = tuple(pidx.T)
    free = work.filled[index] & (work.cores[index] == 0)
    return np.unique(np.concatenate([piece, pidx[free]]), axis=0)


def _extend(work: EndplateReader, node: Node, downward: bool) -> Node | None:
    """A body beyond the disc at the end of the column, cut by the field of view."""
    _, frame, t, prof, pairs = work.read(node, SEARCH_BEYOND_MM)
    half = 0.5 * prof.step
    if downward:
        near = [p for p in pairs if p[1] <= t.min() + 2 * prof.step + half]
        if not near:
            return None
        lo, hi = max(near)
        if t.min() - hi > PAIR_MAX_MM:
            return None
        sel = prof.t < lo - 1.5 * half  # below the endplate's bin
    else:
        near = [p for p in pairs if p[0] >= t.max() - 2 * prof.step - half]
        if not near:
            return None
        lo, hi = min(near)
        if lo - t.max() > PAIR_MAX_MM:
            return None
        sel = prof.t > hi + 0.5 * half  # above the endplate's bin
    if not work.disc_not_darker(prof, pairs, t, lo, hi):
        return None
    # The body reaches from the pair to the next endplate outward, if any, or the end of
    # the profile; it must be cut by the field of view (a whole body has its own core).
    further = [p for p in _peak_positions(pairs) if (p < lo if downward else p > hi)]
    if further:
        edge = max(further) if downward else min(further)
        sel &= prof.t > edge + 0.5 * half if downward else prof.t < edge - 1.5 * half
    index = tuple(ix[sel] for ix in prof.index)
    if not sel.any() or not _touches_border(index, work.cores.shape):
        return None
    # Its interior is the footprint between the disc and the border: noise may have left
    # holes in the filled bone of a body whose thin cortex is lost in it.
    free = work.cores[index] == 0
    part = work.new_node(np.stack([ix[free] for ix in index], axis=1))
    if part is not None:
        work.mark_disc(frame, lo, hi)
        work.solid[tuple(ix[free] for ix in index)] = True
    return part


def _peak_positions(pairs: list[tuple[float, float]]) -> list[float]:
    return [p for pair in pairs for p in pair]


def separate_at_endplates(
    vertebrae: list[Node],
    cores: np.ndarray,
    filled: np.ndarray,
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    stats: TissueStats,
    *,
    voxels_per_cell: int = 1,
    open_below: bool = True,
) -> EndplateSplit:
    """Cut body cores at the discs they run through, found from endplate peak pairs;
    find bodies cut by the field of view beyond the column's last discs; drop arch
    pieces that sit behind a neighbouring body.

    Parameters
    ----------
    vertebrae : list of Node
        Presacral chain members, cranial to caudal.
    cores : (X, Y, Z) ndarray of uint32
        Core labels (a modified copy is returned).
    filled : (X, Y, Z) ndarray of bool
        Filled bone on the same grid.
    hu : (X, Y, Z) ndarray of float32
        CT values on the same grid (block means on a pooled grid).
    spacing_mm : tuple of 3 float
        Voxel size of that grid.
    stats : TissueStats
        The CT's tissue statistics (noise per CT voxel).
    voxels_per_cell : int
        CT voxels averaged into one grid voxel (lowers the noise of ``hu``).
    open_below : bool
        False when the column ends on the sacrum: no body is looked for below it.

    Returns
    -------
    EndplateSplit
    """
    sp = np.asarray(spacing_mm, dtype=float)
    work = EndplateReader(
        cores.copy(),
        filled,
        hu,
        sp,
        stats.noise_hu / np.sqrt(max(1, voxels_per_cell)),
        stats.bone_hu - stats.soft_tissue_hu,
    )
    notes: list[str] = []
    if not vertebrae:
        return EndplateSplit([], work.cores, work.discs, work.solid, notes)
    frames = [core_frame(work.voxels(n), sp, fitted_axis(work.voxels(n), sp)) for n in vertebrae]
    arch = _behind_neighbour(vertebrae, frames)
    if arch:
        notes.append(
            f"{len(arch)} bone core(s) behind the vertebral bodies were taken as arch, not body"
        )
    work.typical_mm3 = float(np.median([n.volume_mm3 for n in vertebrae if n.label not in arch]))
    out: list[Node] = []
    for node in vertebrae:
        if node.label in arch:
            continue
        parts = _cut(work, node)
        if len(parts) > 1:
            notes.append(
                f"one bony block {node.height_mm:.0f} mm tall was cut into {len(parts)} "
                "vertebrae at the discs between its endplates"
            )
        out.extend(parts)
    if out:
        for end, downward in ((out[-1], True), (out[0], False)):
            if downward and not open_below:
                continue
            extra = _extend(work, end, downward)
            if extra is not None:
                out = [*out, extra] if downward else [extra, *out]
                notes.append(
                    "a vertebral body cut by the field of view was found beyond the last "
                    "disc of the column"
                )
    return EndplateSplit(out, work.cores, work.discs & ~work.solid, work.solid, notes)
