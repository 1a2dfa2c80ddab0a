"""A vessel joined to a body: the stretch of a core that runs thin beside the column.

An enhanced descending aorta touches the lower thoracic bodies and becomes one core
with them; above the contact it runs on alone, a tube thinner than any body, level with
the column's own cores behind or beside it. The core is then taller than the bodies it
holds and its volume outweighs the column's separate cores in the chain (family s2-0019,
arterial chest: a 165 mm core of T10-T11 and 90 mm of aorta beat T5-T8 for the chain,
and 0 of 11 vertebrae were identified). No part of a column is thinner than a body over
more than a vertebra's height while another body core lies beside it at the same level:
that stretch is cut off the core and is no candidate.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import MAX_BODY_CORE_WIDTH_MM, MIN_CORE_MM3, Node
from kypho.anatomy.engine.core_split import MAX_VESSEL_CORE_AREA_MM2
from kypho.anatomy.engine.split import node_from_mask

__all__ = ["part_vessel_runs"]

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
#: of or beside the bodies, never behind them).
LARGER_SECTION = 1.5
BESIDE_MM = 60.0
FRONT_TOLERANCE_MM = 5.0
#: Share of the stretch's slices that must have such a body beside them: body cores stop
#: ~CORE_DEPTH_3D_MM short of each endplate, so they fill about half of the column's
#: length (a 15 mm core on a 30 mm pitch), less where a body was not found.
MIN_BESIDE_SHARE = 0.3


def _sections(cores: np.ndarray, k: int, sp: np.ndarray) -> dict[int, tuple[float, np.ndarray]]:
    """Area (mm^2) and in-plane centroid (mm) of every core in axial slice ``k``."""
    sl = cores[:, :, k]
    labels = np.unique(sl[sl > 0])
    if not labels.size:
        return {}
    area = ndimage.sum_labels(np.ones(sl.shape), sl, labels) * sp[0] * sp[1]
    cents = ndimage.center_of_mass(np.ones(sl.shape), sl, labels)
    return {
        int(lab): (float(a), np.asarray(c) * sp[:2])
        for lab, a, c in zip(labels, area, cents, strict=True)
    }


def _runs(flags: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True at least ``min_len`` long."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]


def _vessel_slices(
    cores: np.ndarray, node: Node, bodies: set[int], sp: np.ndarray
) -> np.ndarray:
    """The slices (indices along axis 2) of ``node`` that are a vessel run beside a body."""
    k0, k1 = round(node.z_lo_mm / sp[2]), round(node.z_hi_mm / sp[2])
    per_slice = [_sections(cores, k, sp) for k in range(k0, k1)]
    area = np.array([s.get(node.label, (0.0, None))[0] for s in per_slice])
    size = max(1, round(SMOOTH_MM / sp[2])) | 1
    thin = (area > 0) & (ndimage.median_filter(area, size=size, mode="nearest")
                         < MAX_VESSEL_CORE_AREA_MM2)
    out: list[int] = []
    for a, b in _runs(thin, max(2, round(MIN_RUN_MM / sp[2]))):
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
    bodies = {n.label for n in nodes if n.label not in rejected
              and n.width_mm <= MAX_BODY_CORE_WIDTH_MM}
    tall = [n for n in nodes if n.label not in rejected and n.height_mm > MIN_RUN_MM]
    next_label, parted = int(cores.max()) + 1, 0
    out, rejected = list(nodes), set(rejected)
    for node in tall:
        slices = _vessel_slices(cores, node, bodies - {node.label}, sp)
        if not slices.size:
            continue
        if parted == 0:
            cores = cores.copy()
        mask = cores == node.label
        run = np.zeros_like(mask)
        run[:, :, slices] = mask[:, :, slices]
        rest, n_rest = ndimage.label(mask & ~run, structure=np.ones((3, 3, 3), bool))
        cores[mask] = 0
        pieces = [node_from_mask(run, next_label, sp)]
        cores[run] = next_label
        rejected.add(next_label)
        for i in range(1, n_rest + 1):
            piece = rest == i
            if piece.sum() * float(np.prod(sp)) < MIN_CORE_MM3:
                continue
            next_label += 1
            cores[piece] = next_label
            pieces.append(node_from_mask(piece, next_label, sp))
        next_label += 1
        out = [n for n in out if n.label != node.label] + pieces
        parted += 1
    return cores, out, rejected, parted
