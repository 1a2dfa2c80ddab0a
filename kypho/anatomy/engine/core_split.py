"""Parting a core that is wider than any vertebral body into the compact pieces it joins.

A contrast-filled aorta or heart, or a calcified aortic wall filled as a cavity, lies
against the thoracic bodies and becomes one core with them: a block a whole column tall
and twice a body wide (measured on the phantom family: 96 mm wide, 307 mm tall, holding
T6-T11). Rejected as a whole it takes the column with it; kept, it is no body. Where two
such structures touch, the contact is narrower than either of them, so eroding the core
deeper in the plane parts them: each piece is grown back over the voxels of the core
nearest to it, and is then judged on its own (enhanced tissue, trunk position).
"""

from __future__ import annotations

from collections.abc import Callable

import cc3d
import numpy as np
from scipy import ndimage
from skimage.morphology import h_minima
from skimage.segmentation import watershed

from kypho.anatomy.engine.bodies import inplane_distance_mm
from kypho.anatomy.engine.column import MAX_BODY_CORE_WIDTH_MM, MIN_CORE_MM3, Node
from kypho.imaging.distance import distance_mm

__all__ = ["split_wide_cores"]

#: Extra in-plane depths (mm) tried, shallowest first: the first that parts the core wins,
#: so a contact is cut no deeper than needed. The deepest stays below the half-width of
#: a small thoracic body core (~12 mm), which must survive.
EXTRA_DEPTHS_MM = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0)
#: Farthest a body's interior lies from its cortex (mm): the largest lumbar body is about
#: 50 x 35 mm in the plane (DOMAIN.md §7.1), so no interior point is more than ~18 mm
#: from its shell. Part of a suspect core farther than this from any cortex-level voxel
#: is an enhanced organ grown into from the bone it touches (portal-phase liver and heart
#: reach the trabecular level). Applied to suspect cores only: a faint osteoporotic
#: shell can leave a real body's centre this far from cortex-level voxels.
MAX_CORTEX_DISTANCE_MM = 22.0
#: A piece thinner than this on average (mm^2 of cross-section: volume over height) is a
#: vessel, not a body: the smallest body core (an upper thoracic body, ~30 x 20 mm, less
#: CORE_DEPTH_MM on each side) is ~200 mm^2; the aorta's core is a few tens.
MIN_BODY_CORE_AREA_MM2 = 120.0
#: A parting is kept only when what it rejects is at least this share of the core's
#: volume: an organ or vessel is a large part of the block it joined, while trimming
#: a few rib ends off a column merged by noise only breaks the column into fragments.
MIN_REJECTED_SHARE = 0.05
#: Cores wider than this are left whole unless taller than a pelvis: the sacral core
#: runs on into the ilia (iliac crests span 250-300 mm; 291 mm on totalseg_example) and
#: the sacrum is told by that
#: width (see ribs_sacrum).
MAX_PART_WIDTH_MM = 200.0
#: No pelvis is this tall (iliac crest to ischial tuberosity ~200-220 mm in adults): a
#: core this tall is column joined through its discs, or to the aorta running beside
#: it, and is tried whatever its width.
MIN_NOT_PELVIS_HEIGHT_MM = 250.0
#: A core taller than MIN_ORGAN_HEIGHT_MM whose mean cross-section is below this (mm^2)
#: is mostly vessel: a block of lumbar bodies is ~500-700 mm^2 through its length, an
#: enhanced aorta or IVC with one body joined to it ~200 (family s1-0063: 214 mm tall,
#: 196 mm^2, L4 lost in it).
MAX_VESSEL_CORE_AREA_MM2 = 2.0 * MIN_BODY_CORE_AREA_MM2
#: A basin taller than this spans more than two vertebral pitches (lumbar bodies ~27 mm
#: with ~10 mm discs, DOMAIN.md §7.3): no single body, but a vessel or organ along them.
MIN_ORGAN_HEIGHT_MM = 80.0
#: An organ-sized piece whose centroid lies this far (mm) in front of another piece at
#: the same heights is the heart or a contrast-filled organ: nothing bony in front of
#: the column is that large (the sternum is thin), and a body is 25-45 mm deep
#: (DOMAIN.md §7.1), so two pieces of one column never sit this far apart front to back.
MIN_ANTERIOR_OFFSET_MM = 30.0
#: ...behind which lies a piece of at least this share of its volume (several bodies,
#: measured 0.75 behind a heart on the family; a scapula or spinous process is a few %).
MIN_BEHIND_SHARE = 0.25


def _node(label: int, mask: np.ndarray, offset: np.ndarray, sp: np.ndarray) -> Node:
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    return Node(
        label=label,
        centroid_mm=(idx.mean(0) + offset) * sp,
        z_lo_mm=float((lo[2] + offset[2]) * sp[2]),
        z_hi_mm=float((hi[2] + offset[2]) * sp[2]),
        volume_mm3=float(idx.shape[0] * np.prod(sp)),
        width_mm=float((hi[0] - lo[0]) * sp[0]),
    )


def _pieces(
    core: np.ndarray, spacing_mm: tuple[float, float, float], voxel_mm3: float, start: int
) -> tuple[np.ndarray | None, int]:
    """Seeds of the compact pieces of ``core`` at the shallowest extra depth from
    ``EXTRA_DEPTHS_MM[start]`` on that parts it, and that depth's index (None, -1 when
    it does not part)."""
    depth = inplane_distance_mm(core, spacing_mm)
    for i in range(start, len(EXTRA_DEPTHS_MM)):
        seeds = cc3d.connected_components(depth > EXTRA_DEPTHS_MM[i], connectivity=6)
        counts = np.bincount(seeds.ravel())
        big = np.flatnonzero(counts * voxel_mm3 >= MIN_CORE_MM3)
        big = big[big > 0]
        if big.size >= 2:
            keep = np.zeros(counts.size, dtype=bool)
            keep[big] = True
            seeds[~keep[seeds]] = 0
            return seeds, i
    return None, -1


def _near(
    cortex: np.ndarray, box: tuple[slice, ...], spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """Voxels of ``box`` within :data:`MAX_CORTEX_DISTANCE_MM` of ``cortex`` (the
    distance is taken in the box widened by that distance, not over the whole grid)."""
    pad = [int(np.ceil(MAX_CORTEX_DISTANCE_MM / s)) + 1 for s in spacing_mm]
    wide = tuple(
        slice(max(b.start - p, 0), min(b.stop + p, n))
        for b, p, n in zip(box, pad, cortex.shape, strict=True)
    )
    dist = distance_mm(~cortex[wide], spacing_mm, black_border=False)
    inner = tuple(
        slice(b.start - w.start, b.stop - w.start) for b, w in zip(box, wide, strict=True)
    )
    return dist[inner] <= MAX_CORTEX_DISTANCE_MM


def _grow(
    core: np.ndarray, seeds: np.ndarray, box: tuple[slice, ...], first_label: int, sp: np.ndarray
) -> tuple[np.ndarray, list[Node]]:
    """Each core voxel given to the nearest seed (in mm): the labels in ``box`` (numbered
    from ``first_label``) and the pieces of at least :data:`MIN_CORE_MM3`."""
    _, nearest = ndimage.distance_transform_edt(
        seeds == 0, sampling=tuple(sp), return_indices=True
    )
    owner = seeds[tuple(nearest)]
    offset = np.array([s.start for s in box], dtype=float)
    trial = np.zeros(core.shape, dtype=np.uint32)
    pieces: list[Node] = []
    for piece in np.unique(owner[core]):
        mask = core & (owner == piece)
        if mask.sum() * float(np.prod(sp)) >= MIN_CORE_MM3:
            trial[mask] = first_label + len(pieces)
            pieces.append(_node(first_label + len(pieces), mask, offset, sp))
    return trial, pieces


def _basins(
    core: np.ndarray, peak_hu: np.ndarray, depth_hu: float, box: tuple[slice, ...],
    first_label: int, sp: np.ndarray,
) -> tuple[np.ndarray, list[Node]]:
    """The core parted along its bright ridges: each basin of the block maxima deeper
    than ``depth_hu`` floods the core up to the ridges around it (labels in ``box``
    numbered from ``first_label``, and the basins of at least :data:`MIN_CORE_MM3`).

    A body's interior is walled in by its cortex; a contrast-filled aorta or heart
    lying against it is a basin of its own beyond that wall, however broad the contact.
    """
    land = np.where(core, peak_hu, float(peak_hu[core].max()) if core.any() else 0.0)
    markers = cc3d.connected_components(h_minima(land, depth_hu).astype(bool) & core)
    flood = watershed(land, markers, mask=core)
    offset = np.array([b.start for b in box], dtype=float)
    trial = np.zeros(core.shape, dtype=np.uint32)
    pieces: list[Node] = []
    for basin in np.unique(flood[core]):
        if basin == 0:
            continue  # core voxels no marker's flood reached (cut off by a ridge)
        mask = flood == basin
        if mask.sum() * float(np.prod(sp)) >= MIN_CORE_MM3:
            trial[mask] = first_label + len(pieces)
            pieces.append(_node(first_label + len(pieces), mask, offset, sp))
    return trial, pieces


def _rejoin(
    trial: np.ndarray, pieces: list[Node], soft: set[int], box: tuple[slice, ...],
    sp: np.ndarray,
) -> tuple[np.ndarray, list[Node], set[int]]:
    """The rejected basins as they are, the others joined where they touch (labels
    renumbered from the first piece's), and the rejected labels."""
    first = min(p.label for p in pieces)
    offset = np.array([b.start for b in box], dtype=float)
    kept = np.isin(trial, [p.label for p in pieces if p.label not in soft])
    out = np.zeros_like(trial)
    nodes: list[Node] = []
    for p in pieces:
        if p.label in soft:
            out[trial == p.label] = first + len(nodes)
            nodes.append(_node(first + len(nodes), trial == p.label, offset, sp))
    rejected = {n.label for n in nodes}
    comps, n = cc3d.connected_components(kept, connectivity=6, return_N=True)
    for k in range(1, n + 1):
        mask = comps == k
        if mask.sum() * float(np.prod(sp)) >= MIN_CORE_MM3:
            out[mask] = first + len(nodes)
            nodes.append(_node(first + len(nodes), mask, offset, sp))
    return out, nodes, rejected


def _part(
    core: np.ndarray, box: tuple[slice, ...], start: int, first_label: int, sp: np.ndarray,
    ridges: tuple[np.ndarray, float] | None,
) -> tuple[np.ndarray, list[Node], int] | None:
    """The core's pieces at the shallowest depth from ``start`` on that parts it, else
    along its ridges: labels in ``box``, pieces, and the depth index used
    (``len(EXTRA_DEPTHS_MM)`` for the ridges); None when nothing parts it."""
    spacing = (float(sp[0]), float(sp[1]), float(sp[2]))
    if start < len(EXTRA_DEPTHS_MM):
        seeds, used = _pieces(core, spacing, float(np.prod(sp)), start)
        if seeds is not None:
            return (*_grow(core, seeds, box, first_label, sp), used)
    if ridges is None:
        return None
    # No depth parts it: the aorta or heart lies against the bodies over a face as
    # broad as they are; their cortex still walls them apart.
    return (*_basins(core, ridges[0][box], ridges[1], box, first_label, sp), len(EXTRA_DEPTHS_MM))


def _trimmed(
    core: np.ndarray, box: tuple[slice, ...], cortex: np.ndarray,
    spacing_mm: tuple[float, float, float],
) -> np.ndarray:
    """The core without what lies farther than :data:`MAX_CORTEX_DISTANCE_MM` from
    cortex, unless too little would be left."""
    near = core & _near(cortex, box, spacing_mm)
    return near if near.sum() * float(np.prod(spacing_mm)) >= MIN_CORE_MM3 else core


def _verdict(soft: set[int], pieces: list[Node], used: int, node: Node) -> set[int] | None:
    """The pieces rejected (``soft``: judged no candidates, or in front of the column),
    or None when the parting
    separates nothing worth it from the column and is to be undone."""
    soft = soft | {p.label for p in pieces if p.volume_mm3 < MIN_BODY_CORE_AREA_MM2 * p.height_mm}
    if used == len(EXTRA_DEPTHS_MM):
        # A basin cut from a body by its neighbours' basins has no shell of its own
        # and can read as tissue: only what no body could be is rejected.
        soft = {p.label for p in pieces if p.label in soft and _organ_sized(p)}
    lost = sum(p.volume_mm3 for p in pieces if p.label in soft)
    if not soft or len(soft) == len(pieces) or lost < MIN_REJECTED_SHARE * node.volume_mm3:
        return None
    return soft


def _in_front(pieces: list[Node]) -> set[int]:
    """Organ-sized pieces lying well in front of another piece over most of its height.

    Noise in a low-dose CT hides the homogeneous interior that marks an enhanced heart
    (see enhanced_tissue), but not where it lies: in front of the column, level with it.
    """
    out: set[int] = set()
    for p in pieces:
        if not _organ_sized(p):
            continue
        for q in pieces:
            overlap = min(p.z_hi_mm, q.z_hi_mm) - max(p.z_lo_mm, q.z_lo_mm)
            level = overlap >= 0.5 * min(p.height_mm, q.height_mm)
            # Behind it must lie a column's worth of bone, not a scapula or a process,
            # and a column, narrower than an organ, unless the piece in front is taller
            # than any body: the sacral core run on into the ilia is wider than the L5
            # body whose centroid lies 30 mm in front of its own (independent phantom
            # ind-1-0007: L5 rejected as an organ, every level named one too high),
            # while an 88 mm organ in front of a lumbar block joined to the sacrum
            # is none (family s1-0038).
            column = q.volume_mm3 >= MIN_BEHIND_SHARE * p.volume_mm3 and (
                q.width_mm <= p.width_mm or p.height_mm > MIN_ORGAN_HEIGHT_MM
            )
            ahead = p.centroid_mm[1] - q.centroid_mm[1] >= MIN_ANTERIOR_OFFSET_MM
            if q is not p and level and column and ahead:
                out.add(p.label)
                break
    return out


def _deeper(
    pieces: list[Node], used: int, front: set[int]
) -> list[tuple[Node, int, bool]]:
    """The pieces of a kept parting to try again deeper (queue entries).

    A rejected piece still wider than a body may hold the column beside the organ (a
    column and its aorta judged as one), but not one lying in front of the column
    (``front``, :func:`_in_front`): all of that is in front.
    """
    if used >= len(EXTRA_DEPTHS_MM):
        return []
    return [(p, used + 1, False) for p in pieces if _suspect(p) and p.label not in front]


def _organ_sized(node: Node) -> bool:
    """Wider than any body, or taller than two vertebral pitches (a vessel or organ)."""
    return node.width_mm > MAX_BODY_CORE_WIDTH_MM or node.height_mm > MIN_ORGAN_HEIGHT_MM


def _suspect(node: Node) -> bool:
    """Wider than any body but narrower than a pelvis, taller than a pelvis, or a thin
    core taller than two pitches (a vessel along the column with a body on it)."""
    wide = MAX_BODY_CORE_WIDTH_MM < node.width_mm <= MAX_PART_WIDTH_MM
    tall = node.height_mm > MIN_ORGAN_HEIGHT_MM
    thin = node.volume_mm3 / max(node.height_mm, 1e-6) < MAX_VESSEL_CORE_AREA_MM2
    return wide or node.height_mm > MIN_NOT_PELVIS_HEIGHT_MM or (tall and thin)


def split_wide_cores(
    cores: np.ndarray,
    nodes: list[Node],
    spacing_mm: tuple[float, float, float],
    judge: Callable[[np.ndarray, list[Node]], set[int]],
    cortex: np.ndarray | None = None,
    ridges: tuple[np.ndarray, float] | None = None,
) -> tuple[np.ndarray, list[Node], set[int]]:
    """Part over-wide cores where that separates bone from tissue that is no body.

    Every core wider than any body (:data:`MAX_BODY_CORE_WIDTH_MM`) but narrower than a
    pelvis (:data:`MAX_PART_WIDTH_MM`), or taller than one, is eroded deeper until it
    parts; the parting is kept only when ``judge`` calls some pieces no candidates
    (enhanced tissue, outside the trunk's midline) and others candidates. A thoracic
    column joined through its discs and rib heads parts too, into bodies the disc search
    handles better whole, so a parting that separates nothing from the column is undone.

    Parameters
    ----------
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid (a modified copy is returned).
    nodes : list of Node
        The cores described.
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    judge : callable
        ``judge(cores, nodes)`` -> labels of the given nodes that are no candidates.
    cortex : (X, Y, Z) ndarray of bool, optional
        Cortex-level bone (a suspect core is first trimmed to near it, :func:`_trimmed`).
    ridges : tuple of (X, Y, Z) ndarray and float, optional
        Block maxima and a basin's least depth (HU), for :func:`_basins`.

    Returns
    -------
    cores, nodes, rejected : ndarray, list of Node, set of int
        Labels with each parted core replaced by its pieces (new labels); the cores
        described, pieces in place of their core; the labels that are no candidates.
    """
    rejected = judge(cores, nodes)
    # A piece that is still suspect is tried again deeper (a column joined to the aorta
    # over its whole length parts from it only where the contact is narrowest first).
    queue = [(n, 0, True) for n in nodes if _suspect(n)]
    if not queue:
        return cores, nodes, rejected
    sp, next_label = np.asarray(spacing_mm, dtype=float), int(cores.max()) + 1
    cores, out = cores.copy(), list(nodes)
    use_cortex = cortex is not None and bool(cortex.any())
    while queue:
        node, start, trim = queue.pop()
        box = ndimage.find_objects((cores == node.label).astype(np.uint8))[0]
        core = cores[box] == node.label
        if use_cortex and trim:
            core = _trimmed(core, box, cortex, spacing_mm)  # type: ignore[arg-type]
        if (parted := _part(core, box, start, next_label, sp, ridges)) is None:
            continue
        trial, pieces, used = parted
        # Judged in place of the whole core, in the full label array.
        candidate = cores.copy()
        view = candidate[box]
        view[view == node.label] = 0  # what was trimmed from the core leaves it
        view[core] = trial[core]
        front = _in_front(pieces)
        soft = _verdict(judge(candidate, pieces) | front, pieces, used, node)
        if soft is None:
            # Nothing parted off at this depth, but a piece still wider than any body
            # may part deeper (the aorta along a column touches it over a broad face).
            if used < len(EXTRA_DEPTHS_MM) and any(_suspect(p) for p in pieces):
                queue.append((node, used + 1, trim))
            continue
        if used == len(EXTRA_DEPTHS_MM):
            # Basins part bodies from each other too: what stays joins up again.
            trial, pieces, soft = _rejoin(trial, pieces, soft, box, sp)
            view[core] = trial[core]
        cores, next_label = candidate, next_label + len(pieces)
        out = [n for n in out if n.label != node.label] + pieces
        rejected = (rejected - {node.label}) | soft
        queue += _deeper(pieces, used, front)
    return cores, out, rejected
