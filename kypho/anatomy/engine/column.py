"""The vertebral column on the coarse grid: filled bone, body cores and their chain.

Bone (see :func:`kypho.anatomy.engine.threshold.bone_mask`) has its cavities filled, so
the (possibly osteoporotic, ~50 HU) trabecular interior enclosed by cortex and endplates
becomes solid while the open spinal canal stays empty. Voxels deeper than
:data:`CORE_DEPTH_MM` inside that bone in their axial plane, and deeper than
:data:`CORE_DEPTH_3D_MM` in 3-D, are "cores": ribs, laminae and processes are too thin
to have any, and the intervertebral discs (not bone) cut the column into one core per
body. The spine is the heaviest chain of cores stacked along the craniocaudal axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import cc3d
import fill_voids
import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.bodies import inplane_distance_mm
from kypho.anatomy.engine.plane_fill import fill_in_planes
from kypho.imaging.distance import distance_mm
from kypho.imaging.mask_box import mask_box

__all__ = [
    "CORE_DEPTH_MM",
    "Node",
    "at_image_end",
    "beside_in_sequence",
    "chain_nodes",
    "core_components",
    "deep_bone",
    "drop_fragments",
    "filled_bone",
    "heaviest_chain",
    "node_from_mask",
]

T = TypeVar("T")

#: In-plane depth (mm) a voxel needs inside bone to be a body core. Ribs are ~8-12 mm
#: thick and pedicles 5-10 mm (DOMAIN.md §7.1); bodies are 35-48 mm wide (§7.3).
CORE_DEPTH_MM = 5.0
#: Radius (mm) of the in-plane closing before cavity filling: bridges cortex and
#: endplate gaps left by partial volume, far below the canal's ~8 mm radius (§7.3).
CLOSING_MM = 2.0
#: 3-D depth (mm) a core voxel needs: half the height of a 45 %-crushed body (~13 mm)
#: still clears it, a bony bridge across a disc does not.
CORE_DEPTH_3D_MM = 5.0
#: Smallest core kept (mm^3): a 45 %-crushed upper thoracic body still has ~2 cm^3.
MIN_CORE_MM3 = 600.0
#: Widest core (mm, left-right) a vertebral body can have: bodies are 33-54 mm wide
#: from T1 to L5 (DOMAIN.md §7.1 table) and the core stops CORE_DEPTH_MM inside the
#: cortex; wider cores weigh less in the chain (:func:`_chain_weight`).
MAX_BODY_CORE_WIDTH_MM = 60.0
#: No pelvis is taller (mm): iliac crest to ischial tuberosity is ~200-220 mm in
#: adults. A wider core that is taller holds the column too (a lumbar block run into
#: the sacrum; independent phantom ind-1-0018: 258 mm).
MAX_PELVIS_HEIGHT_MM = 220.0
#: A chain member smaller than this fraction of the median member is a fragment.
MIN_FRACTION_OF_MEDIAN = 0.25
#: Chain neighbours on each side a core is also compared with (:func:`drop_fragments`).
NEIGHBOURS_COMPARED = 2
#: Largest gap between consecutive body cores along z (mm): a disc is 4-12 mm and the
#: core stops ~CORE_DEPTH_MM short of each endplate rim.
MAX_CHAIN_GAP_MM = 40.0
#: Horizontal offset allowed between consecutive cores (mm), plus a share of their z gap
#: (scoliosis up to ~25 degrees moves centroids ~15 mm per level).
MAX_CHAIN_SHIFT_MM = 22.0


@dataclass
class Node:
    """One core (candidate vertebral body) on the coarse grid.

    Parameters
    ----------
    label : int
        Its id in the core label array.
    centroid_mm : (3,) ndarray
        Centroid in coarse-array millimetres (index x coarse spacing).
    z_lo_mm, z_hi_mm : float
        Extent along axis 2 in the same frame.
    volume_mm3 : float
        Core volume.
    width_mm : float
        Extent along axis 0 (left-right).
    body_z_mm : tuple of 2 float, optional
        Extent along axis 2 of the body's own part, when thin tails (pillars, rib heads)
        hang off the core's ends (:mod:`~kypho.anatomy.engine.core_tails`).
    """

    label: int
    centroid_mm: np.ndarray
    z_lo_mm: float
    z_hi_mm: float
    volume_mm3: float
    width_mm: float
    body_z_mm: tuple[float, float] | None = None

    @property
    def height_mm(self) -> float:
        return self.z_hi_mm - self.z_lo_mm

    @property
    def body_z_range_mm(self) -> tuple[float, float]:
        """Extent along axis 2 without thin tails (see ``core_tails``), else the whole."""
        return self.body_z_mm if self.body_z_mm is not None else (self.z_lo_mm, self.z_hi_mm)


def node_from_mask(mask: np.ndarray, label: int, spacing: np.ndarray) -> Node:
    """The :class:`Node` describing core ``label`` occupying ``mask`` (coarse grid, mm)."""
    # Listed in its box: the same voxels in the same order, several times faster.
    box = mask_box(mask)
    idx = np.argwhere(mask[box]) + [b.start for b in box] if box is not None else np.argwhere(mask)
    return Node(
        label=label,
        centroid_mm=idx.mean(axis=0) * spacing,
        z_lo_mm=float(idx[:, 2].min() * spacing[2]),
        z_hi_mm=float((idx[:, 2].max() + 1) * spacing[2]),
        volume_mm3=float(len(idx) * np.prod(spacing)),
        width_mm=float((idx[:, 0].max() - idx[:, 0].min() + 1) * spacing[0]),
    )


def filled_bone(bone: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Bone with its enclosed cavities filled.

    Parameters
    ----------
    bone : (X, Y, Z) ndarray of bool
        Bone voxels.
    spacing_mm : tuple of 3 float
        Voxel size.

    Returns
    -------
    (X, Y, Z) ndarray of bool
    """
    # A light in-plane closing bridges cortex gaps from noise and partial volume so the
    # trabecular interior is enclosed; it is too small to seal a 15 mm canal, and being
    # in-plane it never bridges a thin disc between two endplates.
    rx, ry = (max(1, round(CLOSING_MM / s)) for s in spacing_mm[:2])
    gx, gy = np.ogrid[-rx : rx + 1, -ry : ry + 1]
    struct = ((gx / rx) ** 2 + (gy / ry) ** 2 <= 1.0)[:, :, None]
    closed = ndimage.binary_closing(np.pad(bone, ((rx, rx), (ry, ry), (0, 0))), structure=struct)
    closed = closed[rx:-rx, ry:-ry, :] | bone
    # Bone cut by the top or bottom of the field of view (a sacrum, a cut vertebra) is
    # open to the border there; a one-slice lid, its own outline filled, closes it.
    bottom = ndimage.binary_fill_holes(closed[:, :, 0])[:, :, None]
    top = ndimage.binary_fill_holes(closed[:, :, -1])[:, :, None]
    lidded = np.concatenate([bottom, closed, top], axis=2)
    filled = fill_voids.fill(lidded, in_place=False)[:, :, 1:-1]
    # Partial volume at 2-3 mm leaves pinholes through which a 3-D cavity leaks. A body
    # interior is also enclosed in its sagittal and coronal planes (cortex and
    # endplates), while the canal, an open tube along z, is open in both.
    sag = fill_in_planes(lidded, 0)[:, :, 1:-1]
    cor = fill_in_planes(lidded, 1)[:, :, 1:-1]
    return np.ascontiguousarray(filled | sag | cor)


def deep_bone(
    filled: np.ndarray,
    spacing_mm: tuple[float, float, float],
    inplane_mm: float,
    depth3d_mm: float,
) -> np.ndarray:
    """Filled bone deeper than ``inplane_mm`` in its axial plane and ``depth3d_mm`` in 3-D.

    The 3-D depth matters too: a narrow or partly bony disc (thick slices, degeneration)
    leaves a thin bridge between two bodies that the in-plane depth alone keeps.
    """
    core = inplane_distance_mm(filled, spacing_mm) > inplane_mm
    depth3d = distance_mm(filled, spacing_mm, black_border=False)
    return core & (depth3d > depth3d_mm)


def core_components(
    filled: np.ndarray, spacing_mm: tuple[float, float, float], inflation_mm: float = 0.0
) -> tuple[np.ndarray, list[Node]]:
    """Label the body cores and describe each.

    Parameters
    ----------
    filled : (X, Y, Z) ndarray of bool
        Filled bone.
    spacing_mm : tuple of 3 float
        Voxel size.
    inflation_mm : float
        How much the bone was thickened by building the grid (block maxima add up to
        half a block on each side); added to the depth thresholds.

    Returns
    -------
    labels : (X, Y, Z) ndarray of uint32
        Core id per voxel (0 elsewhere); only cores of at least :data:`MIN_CORE_MM3`.
    nodes : list of Node
    """
    core = deep_bone(filled, spacing_mm, CORE_DEPTH_MM + inflation_mm,
                     CORE_DEPTH_3D_MM + inflation_mm)  # fmt: skip
    labels = cc3d.connected_components(core, connectivity=6).astype(np.uint32)
    stats = cc3d.statistics(labels)
    voxel_mm3 = float(np.prod(spacing_mm))
    sp = np.asarray(spacing_mm)
    nodes: list[Node] = []
    keep = np.zeros(len(stats["voxel_counts"]), dtype=bool)
    for lab in range(1, len(stats["voxel_counts"])):
        vol = float(stats["voxel_counts"][lab]) * voxel_mm3
        box = stats["bounding_boxes"][lab]
        if vol < MIN_CORE_MM3 or box is None:
            continue
        keep[lab] = True
        nodes.append(
            Node(
                label=lab,
                centroid_mm=np.asarray(stats["centroids"][lab]) * sp,
                z_lo_mm=box[2].start * sp[2],
                z_hi_mm=box[2].stop * sp[2],
                volume_mm3=vol,
                width_mm=(box[0].stop - box[0].start) * sp[0],
            )
        )
    labels[~keep[labels]] = 0
    return labels, nodes


def _chain_weight(node: Node) -> float:
    """A core's weight in the chain: its volume, discounted by the cube of how much
    wider it is than any vertebral body core (:data:`MAX_BODY_CORE_WIDTH_MM`).

    Bright soft tissue can form cores too: contrast-filled organs, bowel with oral
    contrast, an aorta merged with them. Such a block can outweigh a whole column by
    volume alone (measured: a 154 mm wide, 802 cm^3 block against 139 cm^3 of body
    cores), but no vertebral body is that wide, and the wider a core the less of it
    can be body. The steep discount keeps the choice with the stack of body-sized
    cores; the sacrum's core, often run on into the ilia, still joins the chain below
    the bodies, as any linked core adds to its chain.
    """
    return node.volume_mm3 * min(1.0, MAX_BODY_CORE_WIDTH_MM / max(node.width_mm, 1e-6)) ** 3


def beside_in_sequence(items: Sequence[T], k: int, per_side: int) -> list[T]:
    """Up to ``per_side`` items on each side of item ``k`` of a cranio-caudal sequence
    (vertebrae, or the steps between them), the item itself left out."""
    return [*items[max(0, k - per_side) : k], *items[k + 1 : k + 1 + per_side]]


def chain_nodes(nodes: list[Node], z_extent_mm: float | None = None) -> list[Node]:
    """The heaviest craniocaudal chain of cores without its fragments, cranial to caudal
    (:func:`heaviest_chain`, then :func:`drop_fragments`)."""
    return drop_fragments(heaviest_chain(nodes), z_extent_mm)


def heaviest_chain(nodes: list[Node]) -> list[Node]:
    """The heaviest craniocaudal chain of cores, returned cranial to caudal.

    Consecutive members overlap or follow each other along z within
    :data:`MAX_CHAIN_GAP_MM` and are horizontally close; the chain with the largest
    total core weight (volume, discounted for cores wider than a body:
    :func:`_chain_weight`) wins, which rejects sternum, aorta, pelvic fragments and
    contrast-filled organs.

    Parameters
    ----------
    nodes : list of Node
        Candidate cores.
    """
    if not nodes:
        return []
    order = sorted(nodes, key=lambda n: n.centroid_mm[2])
    n = len(order)
    # The column's foot: no core lies below it near its axis (a pelvis, never a wide
    # lumbar body above the sacrum; family s1-0001).
    foot = [
        not any(_near_axis(o, nd) for o in order[:k] if o.centroid_mm[2] < nd.centroid_mm[2])
        for k, nd in enumerate(order)
    ]
    weight = [_chain_weight(nd) for nd in order]
    best = np.array(weight)
    prev = np.full(n, -1)
    for j in range(n):
        for i in range(j):
            lo, hi = order[i], order[j]
            # The gap is read on the whole cores (tails included: the shorter gap), the
            # overlap on their body parts (see _overlap_too_far).
            gap = hi.z_lo_mm - lo.z_hi_mm
            dz = hi.centroid_mm[2] - lo.centroid_mm[2]
            if dz <= 0 or gap > MAX_CHAIN_GAP_MM or _overlap_too_far(lo, hi, foot[i]):
                continue
            shift = float(np.hypot(*(hi.centroid_mm[:2] - lo.centroid_mm[:2])))
            if shift > MAX_CHAIN_SHIFT_MM + 0.4 * dz:
                continue
            if best[i] + weight[j] > best[j]:
                best[j] = best[i] + weight[j]
                prev[j] = i
    j = int(np.argmax(best))
    chain = []
    while j >= 0:
        chain.append(order[j])
        j = int(prev[j])
    return chain  # built from the top down: already cranial to caudal


def _near_axis(a: Node, b: Node) -> bool:
    return float(np.hypot(*(a.centroid_mm[:2] - b.centroid_mm[:2]))) <= MAX_CHAIN_SHIFT_MM


def _overlap_too_far(lo: Node, hi: Node, lo_is_foot: bool) -> bool:
    """Whether ``hi`` reaches too far down into ``lo`` (the core below it) to follow it.

    Consecutive bodies overlap in z by less than half the shorter core (tilt, a body's
    rim past its neighbour's). A core wider than any body below is a pelvis: the ilia
    rise beside L5, above the sacrum's own top (independent phantom ind-1-0010: 23 mm
    over the L5 core), so there the upper core's bottom need only clear the lower
    core's centre, as long as its top reaches within half its height of the lower
    core's top, as L5's reaches the iliac crests, and the wide core is no taller than a
    pelvis: a wide core holding the lumbar column and the pelvis must not take the
    pillars behind it as bodies (ind-1-0001, ind-1-0018). Only the column's foot
    (``lo_is_foot``: no core below it near its axis) is a pelvis: a wide L5 core above
    the sacral core is held to the usual overlap (family s1-0001).
    """
    (lo_bottom, lo_top), (hi_bottom, hi_top) = lo.body_z_range_mm, hi.body_z_range_mm
    pelvis = lo_is_foot and lo.width_mm > MAX_BODY_CORE_WIDTH_MM
    if pelvis and lo.height_mm <= MAX_PELVIS_HEIGHT_MM:
        deep = hi_top < lo_top - 0.5 * (hi_top - hi_bottom)
        return hi_bottom < lo.centroid_mm[2] or deep
    return hi_bottom - lo_top < -0.5 * min(lo_top - lo_bottom, hi_top - hi_bottom)


def at_image_end(node: Node, z_extent_mm: float) -> bool:
    """Whether a core reaches the image's lowest or highest slice (a vertebra cut by the
    field of view there); ``z_extent_mm`` is the image's height in the nodes' frame."""
    return node.z_lo_mm <= 0.0 or node.z_hi_mm >= z_extent_mm - 1e-6


def drop_fragments(
    chain: list[Node], z_extent_mm: float | None = None, cranial_added: int = 0
) -> list[Node]:
    """The chain without its fragments: cores far smaller than the bodies around them.

    A thick spot of a process or a rib head is smaller than
    :data:`MIN_FRACTION_OF_MEDIAN` of the chain's median core. At the chain's cranial
    end, above its first body-sized core, the bodies themselves are that small (a
    cervical or T1 core is a fifth of a lumbar one: a whole spine's median dropped T1,
    independent phantom ind-1-0029): there a core is judged against its neighbours
    (:data:`NEIGHBOURS_COMPARED` on each side) instead.

    Parameters
    ----------
    chain : list of Node
        Cranial to caudal.
    z_extent_mm : float, optional
        Height of the image (same frame as the nodes): a small core at either end of the
        chain that touches the top or bottom of the image is a vertebra cut by the field
        of view, not a fragment, and is kept.
    cranial_added : int
        Cores at the chain's head found above its top by a shallower search
        (:mod:`~kypho.anatomy.engine.cranial_cores`): left out of the median.
    """
    if not chain:
        return []
    volumes = [nd.volume_mm3 for nd in chain]
    typical = float(np.median(volumes[cranial_added:] or volumes))
    small = [v < MIN_FRACTION_OF_MEDIAN * typical for v in volumes]
    head = next((i for i, s in enumerate(small) if not s), len(chain))

    def fragment(i: int) -> bool:
        if not small[i] or i >= head:
            return small[i]
        near = beside_in_sequence(volumes, i, NEIGHBOURS_COMPARED)
        return volumes[i] < MIN_FRACTION_OF_MEDIAN * float(np.median(near or [typical]))

    def cut_by_fov(i: int, nd: Node) -> bool:
        if z_extent_mm is None or 0 < i < len(chain) - 1:
            return False
        return at_image_end(nd, z_extent_mm)

    return [nd for i, nd in enumerate(chain) if not fragment(i) or cut_by_fov(i, nd)]
