"""The small bodies above the column's top: lower cervical vertebrae.

A body core is bone deeper than :data:`~kypho.anatomy.engine.column.CORE_DEPTH_MM` in
its plane and in 3-D, which rejects ribs and processes. A C6 or C7 body is only 13-15 mm
tall and 15-17 mm deep (Panjabi et al., Spine 1991;16:861), so that depth leaves a core
of a few cubic millimetres or none: a whole-spine or cervicothoracic scan lost C7, and
with it the rib-free vertebra above the first rib that makes the first rib T1
(independent phantoms ind-1-0011, 0014, 0021, 0029, 0036: C7 missed in every whole
spine). Above the chain's top, and only there, the column is followed upward with a
shallower depth, :data:`CERVICAL_CORE_DEPTH_MM`: no rib joins a cervical body, and each
piece must sit on the axis above the previous one, a disc's gap away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cc3d
import numpy as np

from kypho.anatomy.engine.column import Node, deep_bone

__all__ = ["CERVICAL_CORE_DEPTH_MM", "CranialExtension", "extend_cranially"]

#: Depth (mm, in plane and in 3-D) a cervical core voxel needs: under half the 15-17 mm
#: depth and 13-15 mm height of a C6-C7 body (Panjabi 1991), above half the thickness of
#: a lamina or process (~4-6 mm).
CERVICAL_CORE_DEPTH_MM = 3.0
#: Smallest cervical core (mm^3): a C6 cut by the field of view still leaves ~600.
MIN_CERVICAL_CORE_MM3 = 300.0
#: Widest cervical core relative to the core below it: no cervical body is wider than
#: the one below (C3-T1 widen caudally); a shoulder girdle or rib run in is.
MAX_WIDTH_RATIO = 1.2
#: Largest gap (mm) along z between consecutive cores: a cervical disc is 4-6 mm and a
#: core stops a few millimetres inside each endplate.
MAX_GAP_MM = 16.0
#: Largest horizontal shift (mm) of a core's centroid from the one below, plus this
#: share of their z distance: the cervical lordosis.
MAX_SHIFT_MM = 6.0
SHIFT_PER_MM = 0.4
#: Radius (mm) of the search column, in plane, around the centroid of the top core's
#: upper TOP_SECTION_MM.
SEARCH_RADIUS_MM = 40.0
#: The top core is followed from the centroid of its top this many millimetres: a
#: block of bodies not yet parted at their discs has its centroid far below, off the
#: axis of a curved column, and the shift it allows grows with the distance (family
#: s1-0064: a 220 mm kyphotic block's centroid let a shoulder-girdle core 66 mm to the
#: side of the top body be taken as the vertebra above it).
TOP_SECTION_MM = 10.0


@dataclass(frozen=True)
class CranialExtension:
    """The chain with the cores found above its top, cranial first, and the core map
    holding them under new labels."""

    chain: list[Node]
    cores: np.ndarray
    added: int


def _shallow_components(
    filled: np.ndarray, spacing_mm: tuple[float, float, float], inflation_mm: float
) -> np.ndarray:
    depth = CERVICAL_CORE_DEPTH_MM + inflation_mm
    return cc3d.connected_components(deep_bone(filled, spacing_mm, depth, depth), connectivity=6)


def _candidates(labels: np.ndarray, sp: np.ndarray, origin: np.ndarray) -> list[Node]:
    """The shallow cores large enough for a cervical body and clear of the slab's
    foot (a core run on into the top core), as nodes in the grid's millimetres."""
    stats = cc3d.statistics(labels)
    found: list[Node] = []
    for lab in range(1, len(stats["voxel_counts"])):
        bb = stats["bounding_boxes"][lab]
        vol = float(stats["voxel_counts"][lab]) * float(np.prod(sp))
        if bb is None or vol < MIN_CERVICAL_CORE_MM3 or bb[2].start == 0:
            continue
        node = Node(
            label=lab,
            centroid_mm=np.asarray(stats["centroids"][lab]) * sp + origin,
            z_lo_mm=bb[2].start * sp[2] + origin[2],
            z_hi_mm=bb[2].stop * sp[2] + origin[2],
            volume_mm3=vol,
            width_mm=(bb[0].stop - bb[0].start) * sp[0],
        )
        found.append(node)
    return found


def _top_section(top: Node, cores: np.ndarray, sp: np.ndarray) -> Node:
    """``top`` with its centroid moved to that of its upper TOP_SECTION_MM."""
    k_lo = max(0, int(np.floor((top.z_hi_mm - TOP_SECTION_MM) / sp[2])))
    k_hi = int(np.ceil(top.z_hi_mm / sp[2]))
    idx = np.argwhere(cores[:, :, k_lo:k_hi] == top.label)
    if not len(idx):
        return top
    idx[:, 2] += k_lo
    return replace(top, centroid_mm=idx.mean(axis=0) * sp)


def _follow(top: Node, found: list[Node]) -> list[Node]:
    """From ``top`` upward, each core a disc's gap above the last, on its axis, no
    wider than it."""
    added: list[Node] = []
    below = top
    for node in sorted(found, key=lambda n: n.z_lo_mm):
        gap = node.z_lo_mm - below.z_hi_mm
        dz = node.centroid_mm[2] - below.centroid_mm[2]
        shift = float(np.hypot(*(node.centroid_mm[:2] - below.centroid_mm[:2])))
        if gap < -1e-6 or gap > MAX_GAP_MM:
            continue
        if shift > MAX_SHIFT_MM + SHIFT_PER_MM * dz:
            continue
        if node.width_mm > MAX_WIDTH_RATIO * below.width_mm:
            continue
        added.append(node)
        below = node
    return added


def extend_cranially(
    chain: list[Node],
    cores: np.ndarray,
    filled: np.ndarray,
    spacing_mm: tuple[float, float, float],
    inflation_mm: float = 0.0,
) -> CranialExtension:
    """Follow the column upward from its top core with shallow cores.

    Parameters
    ----------
    chain : list of Node
        The column's cores, cranial to caudal (axis 2 increases cranially).
    cores : (X, Y, Z) ndarray of uint32
        Core labels; not modified.
    filled : (X, Y, Z) ndarray of bool
        Filled bone.
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    inflation_mm : float
        Thickening of the bone by the coarse grid, added to the depth.

    Returns
    -------
    CranialExtension
        The longer chain and a new core map, or the inputs when nothing was found.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    top_z = filled.shape[2] * sp[2]
    if not chain or chain[0].z_hi_mm >= top_z - 1e-6:
        return CranialExtension(chain, cores, 0)
    top = _top_section(chain[0], cores, sp)
    k0 = int(np.floor(top.z_hi_mm / sp[2]))
    c = top.centroid_mm[:2] / sp[:2]
    r = SEARCH_RADIUS_MM / sp[:2]
    x0, y0 = (max(0, int(c[i] - r[i])) for i in range(2))
    x1, y1 = (min(filled.shape[i], int(c[i] + r[i]) + 1) for i in range(2))
    # The slab above the top core, with one slice of it so a shallow core running on
    # into it is seen as one and left out.
    box = np.s_[x0:x1, y0:y1, max(0, k0 - 1) :]
    labels = _shallow_components(filled[box], spacing_mm, inflation_mm)
    origin = np.array([x0, y0, max(0, k0 - 1)], dtype=float) * sp
    added = _follow(top, _candidates(labels, sp, origin))
    if not added:
        return CranialExtension(chain, cores, 0)
    out = cores.copy()
    view = out[box]
    next_label = int(cores.max()) + 1
    new_nodes = []
    for node in added:
        view[(labels == node.label) & (view == 0)] = next_label
        new_nodes.append(replace(node, label=next_label))
        next_label += 1
    return CranialExtension([*new_nodes[::-1], *chain], out, len(new_nodes))
