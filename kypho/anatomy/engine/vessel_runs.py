"""A vessel joined to a body: the stretch of a core that runs thin beside the column.

An enhanced descending aorta touches the lower thoracic bodies and becomes one core
with them; above the contact it runs on alone, a tube thinner than any body, level with
the column's own cores behind or beside it. The core is then taller than the bodies it
holds and its volume outweighs the column's separate cores in the chain (family s2-0019,
arterial chest: a 165 mm core of T10-T11 and 90 mm of aorta beat T5-T8 for the chain,
and 0 of 11 vertebrae were identified). No part of a column is thinner than a body over
more than a vertebra's height while another body core lies beside it at the same level:
that stretch is cut off the core and is no candidate.

The same thin runs are cut off a core already rejected as thin on average, when what is
left is body-thick and passes as a candidate on its own (:func:`keep_body_stretches`):
a body joined to the articular pillars behind the canal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import CORE_DEPTH_3D_MM, MIN_CORE_MM3, Node
from kypho.anatomy.engine.core_split import MAX_VESSEL_CORE_AREA_MM2, MIN_BODY_CORE_AREA_MM2
from kypho.anatomy.engine.split import node_from_mask

__all__ = ["keep_body_stretches", "part_vessel_runs"]

#: A stretch at least this long (mm) is longer than any body with its disc (the tallest
#: lumbar body is ~30 mm, DOMAIN.md §1): a body's core tapers at its endplates only
#: for a few mm.
MIN_RUN_MM = 40.0
#: Axial sections are compared after a running median over this length (mm), so that a
#: slice where the vessel meets a rib or a calcified plaque does not break its stretch.
SMOOTH_MM = 7.5
#: The core beside the stretch is a body: its section at least this many times the
#: stretch's, its centroid within BESIDE_MM in the plane, and not in front of the
#: stretch by more than FRONT_TOLERANCE_MM (the aorta and the venae cavae lie in front
#: of or beside the bodies, never behind them). Any candidate core counts, however wide:
#: a lumbar body's core holds its transverse processes (76-90 mm across in family
#: s3-0028, where a width limit left the aorta joined to L4 and 2 of 6 vertebrae found).
LARGER_SECTION = 1.5
BESIDE_MM = 60.0
FRONT_TOLERANCE_MM = 5.0
#: A run's first slices next to what stays of the core are left to neither where they lie
#: over that part's section and not over the run's own further on (mm): a body's core
#: tapers over about its 3-D core depth at each endplate, and a thin tail (a pillar, a
#: rib head) leaving it there takes the body's thinning end into its run, which seeds
#: "not spine" (independent phantom ind-1-0039: the slice over T9's top went with the
#: pillars behind T6-T8, T9's anterior-superior corner was kept out of its mask, and
#: Ha read 4.6 mm short: a false grade 1).
END_TAPER_MM = CORE_DEPTH_3D_MM
#: Share of the stretch's slices that must have such a body beside them: body cores stop
#: ~CORE_DEPTH_3D_MM short of each endplate, so they fill about half of the column's
#: length (a 15 mm core on a 30 mm pitch), less where a body was not found.
MIN_BESIDE_SHARE = 0.3


def _sections(
    cores: np.ndarray, k0: int, k1: int, sp: np.ndarray
) -> list[dict[int, tuple[float, np.ndarray]]]:
    """Area (mm^2) and in-plane centroid (mm) of every core in each axial slice
    ``k0 <= k < k1``.

    One counting pass over the slab: each (slice, core) pair is a bin. The voxels of a
    bin are summed in the order ``scipy.ndimage.center_of_mass`` sums one slice's (rows,
    then columns), so the centroids are the same to the last bit, ~10x faster than
    labelled statistics slice by slice.
    """
    slab = cores[:, :, k0:k1]
    xs, ys, zs = np.nonzero(slab)
    labels = slab[xs, ys, zs].astype(np.int64)
    n_lab = int(labels.max()) + 1 if labels.size else 1
    n_bins = max(k1 - k0, 0) * n_lab
    # Bins by slice, then core: one slice's voxels in their C order (rows, then columns).
    order = np.argsort(zs, kind="stable")
    key = zs[order] * n_lab + labels[order]
    count = np.bincount(key, minlength=n_bins)
    sum_x = np.bincount(key, weights=xs[order].astype(float), minlength=n_bins)
    sum_y = np.bincount(key, weights=ys[order].astype(float), minlength=n_bins)
    out: list[dict[int, tuple[float, np.ndarray]]] = []
    for k in range(k1 - k0):
        bins = k * n_lab + np.flatnonzero(count[k * n_lab : (k + 1) * n_lab])
        out.append({
            int(b - k * n_lab): (
                float(count[b] * sp[0] * sp[1]),
                np.array([sum_x[b] / count[b], sum_y[b] / count[b]]) * sp[:2],
            )
            for b in bins
        })
    return out


def _runs(flags: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True at least ``min_len`` long."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]


def _thin_runs(area: np.ndarray, sp: np.ndarray) -> list[tuple[int, int]]:
    """Runs (start, end exclusive, in slices) at least :data:`MIN_RUN_MM` long where a
    core's axial section ``area`` (mm^2 per slice) is thinner than any body's."""
    size = max(1, round(SMOOTH_MM / sp[2])) | 1
    thin = (area > 0) & (ndimage.median_filter(area, size=size, mode="nearest")
                         < MAX_VESSEL_CORE_AREA_MM2)
    return _runs(thin, max(2, round(MIN_RUN_MM / sp[2])))


def _vessel_slices(
    cores: np.ndarray, node: Node, bodies: set[int], sp: np.ndarray
) -> np.ndarray:
    """The slices (indices along axis 2) of ``node`` that are a vessel run beside a body."""
    k0, k1 = round(node.z_lo_mm / sp[2]), round(node.z_hi_mm / sp[2])
    per_slice = _sections(cores, k0, k1, sp)
    area = np.array([s.get(node.label, (0.0, None))[0] for s in per_slice])
    out: list[int] = []
    for a, b in _thin_runs(area, sp):
        beside = 0
        for s, ar in zip(per_slice[a:b], area[a:b], strict=True):
            here = s[node.label][1]
            beside += any(
                lab in bodies
                and q_area >= LARGER_SECTION * ar
                and float(np.hypot(*(q_at - here))) <= BESIDE_MM
                and q_at[1] - here[1] <= FRONT_TOLERANCE_MM
                for lab, (q_area, q_at) in s.items()
            )
        if beside >= MIN_BESIDE_SHARE * (b - a):
            out.extend(range(k0 + a, k0 + b))
    return np.asarray(out, dtype=int)


def _tapering_ends(mask: np.ndarray, slices: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """The core's voxels in the first :data:`END_TAPER_MM` of each end of the run
    ``slices`` that lie over the core's section beyond that end (outside the run) but
    not over the run's own section past those slices: a body's thinning end, apart from
    the tail that runs on over itself."""
    out = np.zeros_like(mask)
    in_run = np.zeros(mask.shape[2], bool)
    in_run[slices] = True
    depth = max(1, round(END_TAPER_MM / sp[2]))
    ring = np.ones((3, 3), bool)  # one voxel of slack around a section

    def section(k: int) -> np.ndarray:
        return ndimage.binary_dilation(mask[:, :, k], structure=ring)

    for a, b in _runs(in_run, 1):
        if b - a <= 2 * depth:
            continue
        for beyond, ends, inner in ((a - 1, range(a, a + depth), a + depth),
                                    (b, range(b - depth, b), b - depth - 1)):  # fmt: skip
            if not 0 <= beyond < mask.shape[2] or not mask[:, :, beyond].any():
                continue
            free = section(beyond) & ~section(inner)
            for k in ends:
                out[:, :, k] = mask[:, :, k] & free
    return out


def _cut_off(
    cores: np.ndarray, node: Node, slices: np.ndarray, next_label: int, sp: np.ndarray,
    *, taper: bool,
) -> tuple[Node, list[Node], int]:
    """Relabel (in place) ``node``'s voxels in ``slices`` as one new core and the rest
    as its connected pieces of at least :data:`MIN_CORE_MM3` (smaller ones leave the
    cores); returns the cut-off core, the pieces and the next free label. With
    ``taper``, the run's tapering ends (:func:`_tapering_ends`) are left unlabelled,
    to the flood."""
    mask = cores == node.label
    run = np.zeros_like(mask)
    run[:, :, slices] = mask[:, :, slices]
    rest, n_rest = ndimage.label(mask & ~run, structure=np.ones((3, 3, 3), bool))
    if taper:
        run &= ~_tapering_ends(mask, slices, sp)
    cores[mask] = 0
    cut = node_from_mask(run, next_label, sp)
    cores[run] = next_label
    pieces: list[Node] = []
    for i in range(1, n_rest + 1):
        piece = rest == i
        if piece.sum() * float(np.prod(sp)) < MIN_CORE_MM3:
            continue
        next_label += 1
        cores[piece] = next_label
        pieces.append(node_from_mask(piece, next_label, sp))
    return cut, pieces, next_label + 1


def part_vessel_runs(
    cores: np.ndarray,
    nodes: list[Node],
    rejected: set[int],
    spacing_mm: tuple[float, float, float],
) -> tuple[np.ndarray, list[Node], set[int], int]:
    """Cut the vessel runs off the candidate cores (:data:`MIN_RUN_MM`, module doc).

    Parameters
    ----------
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid (a modified copy is returned when a run is cut).
    nodes : list of Node
        The cores described.
    rejected : set of int
        Labels that are no candidates (they neither lose runs nor count as bodies).
    spacing_mm : tuple of 3 float
        Coarse voxel size.

    Returns
    -------
    cores, nodes, rejected, parted : ndarray, list of Node, set of int, int
        Each parted core's label replaced by its remaining pieces (new labels) and its
        run (a new, rejected label); the number of runs cut.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    bodies = {n.label for n in nodes if n.label not in rejected}
    tall = [n for n in nodes if n.label not in rejected and n.height_mm > MIN_RUN_MM]
    next_label, parted = int(cores.max()) + 1, 0
    out, rejected = list(nodes), set(rejected)
    for node in tall:
        slices = _vessel_slices(cores, node, bodies - {node.label}, sp)
        if not slices.size:
            continue
        if parted == 0:
            cores = cores.copy()
        run, pieces, next_label = _cut_off(cores, node, slices, next_label, sp, taper=True)
        rejected.add(run.label)
        out = [n for n in out if n.label != node.label] + [run, *pieces]
        parted += 1
    return cores, out, rejected, parted


def keep_body_stretches(
    cores: np.ndarray,
    nodes: list[Node],
    rejected: set[int],
    spacing_mm: tuple[float, float, float],
    judge: Callable[[np.ndarray, list[Node]], set[int]],
) -> tuple[np.ndarray, list[Node], set[int], int]:
    """Cut the thin runs off rejected cores that are thin on average, and keep the
    body-thick stretches left as candidates when ``judge`` accepts them.

    A core rejected as thin on average (a vessel's section, see
    :data:`kypho.anatomy.engine.core_split.MIN_BODY_CORE_AREA_MM2`) can hold a body:
    lumbar articular pillars, thick and overlapping at their facet joints, form a
    core running the column's length behind the canal, and where a pedicle is thick
    enough that core takes a body in (independent phantom ind-1-0010: L4 lost with its
    pillars, and the column's chain lost to the sacrum). Off the thin runs
    (:data:`MIN_RUN_MM`), the body's stretch is judged like any core.

    Parameters
    ----------
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid (a modified copy is returned when a run is cut).
    nodes : list of Node
        The cores described.
    rejected : set of int
        Labels that are no candidates.
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    judge : callable
        ``judge(cores, nodes)`` -> labels of the given nodes that are no candidates.

    Returns
    -------
    cores, nodes, rejected, kept : ndarray, list of Node, set of int, int
        As :func:`part_vessel_runs`; the number of body stretches kept.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    thin = [n for n in nodes if n.label in rejected and n.height_mm > MIN_RUN_MM
            and n.volume_mm3 < MIN_BODY_CORE_AREA_MM2 * n.height_mm]
    next_label, kept = int(cores.max()) + 1, 0
    out, rejected = list(nodes), set(rejected)
    for node in thin:
        k0 = round(node.z_lo_mm / sp[2])
        z = np.nonzero(cores[:, :, k0 : round(node.z_hi_mm / sp[2])] == node.label)[2]
        area = np.bincount(z) * sp[0] * sp[1]
        slices = np.asarray([k0 + k for a, b in _thin_runs(area, sp) for k in range(a, b)], int)
        if not slices.size:  # thin on average but nowhere for 40 mm: nothing to part
            continue
        trial = cores.copy()
        # No taper: these runs are pillars the body hangs from (with their whole end
        # slices left to the flood, ind-1-0003's grade 3 L4 read its Hp 6 mm short).
        run, pieces, label = _cut_off(trial, node, slices, next_label, sp, taper=False)
        bodies = [p for p in pieces if p.volume_mm3 >= MIN_BODY_CORE_AREA_MM2 * p.height_mm]
        soft = judge(trial, bodies) if bodies else set()
        good = {p.label for p in bodies if p.label not in soft}
        if not good:
            continue
        cores, next_label, kept = trial, label, kept + len(good)
        out = [n for n in out if n.label != node.label] + [run, *pieces]
        rejected |= {run.label} | {p.label for p in pieces if p.label not in good}
        rejected.discard(node.label)
    return cores, out, rejected, kept
