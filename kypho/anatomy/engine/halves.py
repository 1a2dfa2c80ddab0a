"""Two cores that are halves of one body are joined (:func:`join_halves`)."""

from __future__ import annotations

import itertools

import numpy as np

from kypho.anatomy.engine.column import Node, at_image_end, beside_in_sequence, node_from_mask

__all__ = ["HALVES_STEP_RATIO", "SIDE_BY_SIDE_OVERLAP", "join_halves"]

#: Cores on each side whose steps a step is compared with.
LOCAL_NEIGHBOURS = 2
#: Largest share of the neighbouring steps between two cores that are halves of one body.
HALVES_STEP_RATIO = 0.5
#: Least share of the shorter core's height two cores overlap in z when they lie side
#: by side at one level rather than one above the other: stacked bodies are parted by
#: their disc, and even bodies tilted 30 degrees overlap by less than half.
SIDE_BY_SIDE_OVERLAP = 0.5
#: ...when the smaller holds at most this share of the larger's volume: a sliver, not a
#: body (tilted blocks of a scoliotic or kyphotic column overlap too, with bodies of
#: comparable size: family s1-0048, 0.37-0.57).
SLIVER_SHARE = 0.25
#: ...and whose centroid lies within this distance (mm, in plane) of the larger one's:
#: inside a body's cross-section (a lumbar body is ~35 mm deep and 45-50 mm wide,
#: DOMAIN.md §7.3, so its half-diagonal is ~28 mm, its core's less). Farther, it lies in
#: the arch (family s2-0017: a 0.8 cm^3 core 38 mm behind and beside L3's, among pedicle
#: screws, was joined to it and a normal L6 below was then graded 3).
SLIVER_REACH_MM = 25.0


def _side_by_side(a: Node, b: Node) -> bool:
    """A sliver beside a body at its level, left by a cut (independent phantom
    ind-1-0021: a 0.9 cm^3, 40 mm tall piece 19 mm behind an 8.9 cm^3 L2 core over the
    same slices was counted as a vertebra, and every level above was one off)."""
    overlap = min(a.z_hi_mm, b.z_hi_mm) - max(a.z_lo_mm, b.z_lo_mm)
    small, large = sorted((a.volume_mm3, b.volume_mm3))
    apart = float(np.hypot(*(a.centroid_mm[:2] - b.centroid_mm[:2])))
    return (
        small <= SLIVER_SHARE * large
        and apart <= SLIVER_REACH_MM
        and overlap > SIDE_BY_SIDE_OVERLAP * min(a.height_mm, b.height_mm)
    )


def join_halves(
    vertebrae: list[Node], cores: np.ndarray, spacing_mm: tuple[float, float, float],
    original: set[int],
) -> tuple[list[Node], np.ndarray]:
    """Join consecutive cores that are two halves of one body.

    Two blocks can meet inside a body rather than at a disc: each block's end piece is
    then half of it, their centroids a fraction of a pitch apart (family s1-0048: 5 mm
    among steps of 21-29 mm, so every level above was one off). Two bodies lie a pitch
    apart, a crushed one among them still ~0.6-0.75 of it, so a step below
    HALVES_STEP_RATIO of the neighbouring steps, where one of the two is a piece cut
    from a block, joins them; so does an overlap in z that makes two cores side by side
    (:func:`_side_by_side`).
    """
    verts, cores = list(vertebrae), cores.copy()
    sp = np.asarray(spacing_mm, dtype=float)
    top_mm = cores.shape[2] * sp[2]
    k = 0
    while k < len(verts) - 1:
        steps = [float(np.linalg.norm(a.centroid_mm - b.centroid_mm))
                 for a, b in itertools.pairwise(verts)]
        near = beside_in_sequence(steps, k, LOCAL_NEIGHBOURS)
        a, b = verts[k], verts[k + 1]
        pieces = a.label not in original or b.label not in original
        halves = pieces and len(near) >= 2 and steps[k] < HALVES_STEP_RATIO * float(np.median(near))
        # A core cut by the image's top or bottom is small because it is cut, and on a
        # tilted column overlaps the next one in z (the real chest CT's T12, cut by the
        # lower edge under a column 29 degrees from the image axis, was joined to T11).
        cut = at_image_end(a, top_mm) or at_image_end(b, top_mm)
        if halves or (_side_by_side(a, b) and not cut):
            cores[cores == b.label] = a.label
            verts[k : k + 2] = [node_from_mask(cores == a.label, a.label, sp)]
            continue
        k += 1
    return verts, cores
