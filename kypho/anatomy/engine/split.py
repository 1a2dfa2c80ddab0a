"""Splitting body cores that stay merged through discs: thin discs at thick slices,
collapsed or calcified discs, bridging osteophytes.

A core much taller than its neighbours holds two (or more) bodies. It is cut at the disc
planes its CT profile shows (:mod:`kypho.anatomy.engine.disc_profile`), each with
evidence; a block without any is left whole and reported. Short (fractured) cores are
never touched. In a small crop with fewer than three cores only a block taller than any
body is cut.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from kypho.anatomy.engine.column import (
    MAX_BODY_CORE_WIDTH_MM,
    Node,
    beside_in_sequence,
    node_from_mask,
)
from kypho.anatomy.engine.disc_profile import DiscCuts, disc_cuts
from kypho.anatomy.engine.disc_space import dark_disc_space
from kypho.anatomy.engine.halves import join_halves
from kypho.anatomy.engine.threshold import TissueStats

__all__ = ["MergedSplit", "node_from_mask", "split_merged"]

#: A core this much taller than the median of the others may hold more than one body
#: and is searched for discs (it is cut only where they show). A body and its crushed
#: neighbour make ~1.5 bodies (family s1-0005: T6 and a 31 %-crushed T7, 42 mm among
#: 25-30 mm pieces, 1.53x, were never searched at 1.6x)...
MERGED_HEIGHT_RATIO = 1.45
#: A piece beyond a block's end cut is a body only with at least this share of its
#: neighbour's cross-section.
END_PIECE_SHARE = 0.5
#: ...and taller than this in any case: the tallest normal bodies are ~30 mm (DOMAIN.md
#: §7.3) and a core stops short of the endplates. Two upper thoracic bodies (17-20 mm)
#: make a core of 40-45 mm: at 2x and 48 mm they were never searched (family s1-0036,
#: s1-0060: 0 and 4 of 8-10 identified, now 8 and 10; the family 63.7 -> 66.6 %).
MERGED_MIN_HEIGHT_MM = 36.0
#: A core this tall is searched for discs whatever the others are (and cut only where
#: its CT profile shows them): one body's core is at most ~45 mm (the tallest bodies are
#: ~30 mm, DOMAIN.md §7.3, lengthened by 5 mm slices), two thoracic bodies and their disc
#: make 40-50 mm, two lumbar ones ~60 mm. When most cores are merged blocks their median
#: hides them all (family s1-0001: cores of 101, 93 and 76 mm beside one of 36 mm were
#: never searched; s2-0044: six cores of 42-52 mm, two bodies each, were never searched
#: at 60 mm, and the column was named from T7 where T1 was: 1 of 17 identified, 17 now).
ALWAYS_MERGED_HEIGHT_MM = 45.0
#: ...and a core this tall holds two bodies whatever its discs look like: two lumbar
#: bodies and their disc make ~60 mm. Between the two heights a core is cut only where
#: the disc is unlike a fracture (:func:`_two_endplates_or_dark`).
TWO_BODY_HEIGHT_MM = 60.0
#: Cores on each side a core's height is compared with.
LOCAL_NEIGHBOURS = 2


@dataclass(frozen=True)
class _BlockImage:
    """What every block search reads: the coarse grid, the CT and its tissue levels."""

    spacing_mm: tuple[float, float, float]
    hu: np.ndarray
    mm_to_index: tuple[np.ndarray, np.ndarray]
    voxel_mm: tuple[float, float, float]
    stats: TissueStats


def _block_touches(mask_idx: np.ndarray, shape: tuple[int, ...]) -> tuple[bool, bool]:
    """Whether a block reaches the lowest / highest slice of the image."""
    return bool(mask_idx[:, 2].min() == 0), bool(mask_idx[:, 2].max() == shape[2] - 1)


@dataclass(frozen=True)
class MergedSplit:
    """Result of :func:`split_merged`.

    Parameters
    ----------
    vertebrae : list of Node
        With merged members replaced by their parts, cranial to caudal.
    cores : (X, Y, Z) ndarray of uint32
        Core labels including the new parts.
    notes : list of str
        One sentence per split, and per block that could not be split with evidence.
    uncertain : bool
        A block was left whole, or a disc plane its pitch calls for lacked evidence:
        the number of vertebrae across it, and so the levels, are in doubt.
    discs : (X, Y, Z) ndarray of bool
        Disc space found around the cuts (to leave the filled bone), where the discs
        read darker than the bodies.
    """

    vertebrae: list[Node]
    cores: np.ndarray
    notes: list[str]
    uncertain: bool
    discs: np.ndarray


def _pieces(pts: np.ndarray, found: DiscCuts, keep: np.ndarray) -> np.ndarray:
    """Piece index per block voxel: how many kept disc planes it lies above."""
    d = np.einsum(
        "nkc,kc->nk",
        pts[:, None, :] - found.points_mm[keep][None, :, :],
        found.tangents[keep],
    )
    return (d > 0).sum(axis=1)


def _body_like_ends(pts: np.ndarray, found: DiscCuts, keep: np.ndarray) -> np.ndarray:
    """Drop end cuts that would leave a piece thinner than a body beyond them.

    Above a block's top body the core can run on into thick arch bone, whose outer
    endplate then reads like a disc: a piece beyond the last cut with less than
    END_PIECE_SHARE of the neighbouring piece's cross-section (voxels per mm of length)
    is no body. Once its cut is dropped, that piece is left out of the next judgement:
    carried by the body below it as a tail, it made that body read as thin in turn, and
    every cut fell one after another (ind-1-0036: a 60 mm strand on top of a 180 mm
    block, and L2-L5 were left in one piece although four of their discs had evidence).
    """
    along = pts @ np.array([0.0, 0.0, 1.0])
    alive = np.ones(len(pts), dtype=bool)
    while keep.sum() >= 1:
        piece = _pieces(pts, found, keep)
        count = np.bincount(piece[alive], minlength=int(keep.sum()) + 1).astype(float)
        length = np.array(
            [
                np.ptp(along[alive & (piece == k)]) + 1.0 if count[k] else 1.0
                for k in range(len(count))
            ]
        )
        area = count / length
        kept = np.flatnonzero(keep)
        if area[0] < END_PIECE_SHARE * area[1]:
            keep[kept[0]] = False
            alive &= piece != 0
        elif area[-1] < END_PIECE_SHARE * area[-2]:
            keep[kept[-1]] = False
            alive &= piece != len(count) - 1
        else:
            break
    return keep


def _separate_pitch(vertebrae: list[Node], merged: int, typical: float) -> float | None:
    """Median centroid distance between consecutive bodies of normal height, if known."""
    if typical <= 0.0:
        return None
    ok = [n.height_mm < MERGED_HEIGHT_RATIO * typical for n in vertebrae]
    steps = [
        float(np.linalg.norm(a.centroid_mm - b.centroid_mm))
        for k, (a, b) in enumerate(itertools.pairwise(vertebrae))
        if ok[k] and ok[k + 1] and merged not in (k, k + 1)
    ]
    return float(np.median(steps)) if len(steps) >= 2 else None


def _cut_block(
    cores: np.ndarray,
    mask: np.ndarray,
    idx: np.ndarray,
    sp: np.ndarray,
    found: DiscCuts,
    keep: np.ndarray,
    next_label: int,
) -> tuple[list[Node], int]:
    """The block's pieces between the kept disc planes, labelled in ``cores`` (in place)
    from ``next_label`` on; the block's other voxels leave ``cores``. Returns the pieces
    and the next free label."""
    pts = idx * sp
    # Signed distance of every voxel to each disc plane (normal = the centre line's
    # direction there): a voxel belongs to the piece above as many planes as it lies
    # above; the layer on a plane stays empty so the pieces part.
    d = np.einsum(
        "nkc,kc->nk",
        pts[:, None, :] - found.points_mm[keep][None, :, :],
        found.tangents[keep],
    )
    piece = (d > 0).sum(axis=1)  # as _pieces; d is needed for the parting layer
    half = np.maximum(found.half_width_mm[keep], 0.5 * sp[2])
    on_cut = (np.abs(d) < half[None, :]).any(axis=1)
    parts: list[Node] = []
    for k in range(int(keep.sum()) + 1):
        sel = (piece == k) & ~on_cut
        if not sel.any():
            continue
        part = np.zeros_like(mask)
        part[tuple(idx[sel].T)] = True
        cores[part] = next_label
        parts.append(node_from_mask(part, next_label, sp))
        next_label += 1
    cores[mask & ~np.isin(cores, [p.label for p in parts])] = 0
    return parts, next_label


def _block_discs(
    idx: np.ndarray, shape: tuple[int, ...], image: _BlockImage, pitch_mm: float | None
) -> DiscCuts:
    """The disc planes of the block whose coarse voxels are ``idx``."""
    below, above = _block_touches(idx, shape)
    sp = np.asarray(image.spacing_mm, dtype=float)
    stats = image.stats
    return disc_cuts(
        image.hu,
        idx * sp,
        image.mm_to_index,
        slice_mm=float(sp[2]),
        cut_below=below,
        cut_above=above,
        voxel_mm=image.voxel_mm,
        soft_tissue_hu=stats.soft_tissue_hu,
        noise_hu=stats.noise_hu,
        pitch_mm=pitch_mm,
        bone_hu=stats.bone_hu,
    )


def _two_endplates_or_dark(found: DiscCuts) -> np.ndarray:
    """Cuts whose disc shows as a disc in a core searched only for its height
    (:data:`ALWAYS_MERGED_HEIGHT_MM`, not taller than its neighbours): two endplates
    resolved apart, or darker than the bodies. One unresolved bright band is also what
    the two depressed endplates of a grade 3 biconcave body make where they meet (family
    s1-0017: L3, Hm 12 of 26 mm, with bridging osteophytes a 48 mm core, cut in two at a
    405 HU band between 114 HU bone)."""
    return (found.half_width_mm > 0.0) | (found.disc_hu < found.body_hu)


def _whole_note(height_mm: float) -> str:
    return (
        f"one bony block {height_mm:.0f} mm tall shows no disc in its CT profile and was "
        "left whole (fused or bridged vertebrae?); the levels across it are uncertain"
    )


def _split_note(height_mm: float, pieces: int, weak: int) -> str:
    return (
        f"one bony block {height_mm:.0f} mm tall was split into {pieces} "
        f"vertebrae at the discs its CT profile shows"
        + (f"; {weak} more disc plane(s) lacked evidence and were not cut" if weak else "")
    )


def split_merged(
    vertebrae: list[Node],
    cores: np.ndarray,
    spacing_mm: tuple[float, float, float],
    hu: np.ndarray,
    mm_to_index: tuple[np.ndarray, np.ndarray],
    voxel_mm: tuple[float, float, float],
    stats: TissueStats,
) -> MergedSplit:
    """Cut over-tall cores at the disc planes their CT profile shows.

    A core is over-tall against the median of the two cores on each side of it, and a
    core of ALWAYS_MERGED_HEIGHT_MM or more always is. When many cores hold two bodies
    each, that median is two bodies tall and hides them (family s1-0022: cores of 142,
    33, 60 and 86 mm); so once blocks were cut, the cores not yet examined and the
    pieces are judged again against their new neighbours.

    Parameters
    ----------
    vertebrae : list of Node
        Presacral chain members, cranial to caudal.
    cores : (X, Y, Z) ndarray of uint32
        Core labels (modified copy returned).
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    hu : (X, Y, Z) ndarray of float
        The CT at full resolution.
    mm_to_index : tuple of two (3,) ndarray
        Scale and offset from coarse-array mm to full-resolution voxel indices.
    voxel_mm : tuple of 3 float
        Full-resolution voxel size.
    stats : TissueStats
        The image's own soft-tissue level and noise.

    Returns
    -------
    MergedSplit
    """
    image = _BlockImage(spacing_mm, hu, mm_to_index, voxel_mm, stats)
    first, examined = _split_pass(vertebrae, cores, image, skip=frozenset())
    if len(first.vertebrae) == len(vertebrae):
        return first
    before = {n.label for n in vertebrae}
    # Pieces are judged again too: a block cut at fewer discs than it holds leaves a
    # piece two bodies tall (family s1-0001: a 51 mm piece among 25-36 mm ones). A
    # piece wider than any body is the foot of a block run into the pelvis, no pair of
    # bodies (s1-0009: 105 x 216 mm, cut into six pieces of ilium).
    wide = {
        n.label
        for n in first.vertebrae
        if n.label not in before and n.width_mm > MAX_BODY_CORE_WIDTH_MM
    }
    again, _ = _split_pass(first.vertebrae, first.cores, image, skip=examined | wide)
    verts, cores = join_halves(again.vertebrae, again.cores, spacing_mm, before)
    return MergedSplit(
        verts,
        cores,
        first.notes + again.notes,
        first.uncertain or again.uncertain,
        first.discs | again.discs,
    )


def _split_pass(
    vertebrae: list[Node], cores: np.ndarray, image: _BlockImage, skip: frozenset[int]
) -> tuple[MergedSplit, frozenset[int]]:
    """One pass of :func:`split_merged` over the cores not in ``skip``; also returns the
    labels of the cores examined as blocks."""
    # With fewer than three cores (a small crop) there are too few neighbours to tell a
    # merged block from a tall body by height: only a block taller than any body is cut.
    short = len(vertebrae) < 3
    sp = np.asarray(image.spacing_mm, dtype=float)
    out: list[Node] = []
    notes: list[str] = []
    uncertain = False
    discs = np.zeros(cores.shape, dtype=bool)
    next_label = int(cores.max()) + 1
    examined: set[int] = set()
    for i, node in enumerate(vertebrae):
        # Bodies grow caudally (T1 ~15 mm, L3 ~28 mm, DOMAIN.md §7.3): a core is
        # compared with its own stretch of the column, two cores on each side.
        near = beside_in_sequence(vertebrae, i, LOCAL_NEIGHBOURS)
        typical = 0.0 if short else float(np.median([n.height_mm for n in near]))
        limit = max(MERGED_HEIGHT_RATIO * typical, MERGED_MIN_HEIGHT_MM)
        if node.label in skip or node.height_mm < min(limit, ALWAYS_MERGED_HEIGHT_MM):
            out.append(node)
            continue
        examined.add(node.label)
        mask = cores == node.label
        idx = np.argwhere(mask)
        pitch = _separate_pitch(vertebrae, i, typical)
        found = _block_discs(idx, cores.shape, image, pitch)
        keep = _body_like_ends(idx * sp, found, found.evidence.copy())
        by_height = node.height_mm < min(limit, TWO_BODY_HEIGHT_MM)
        if by_height:
            keep &= _two_endplates_or_dark(found)
        if not keep.any():
            out.append(node)
            if by_height:
                # Searched only for its height, it stays as it was, and is judged again
                # against its neighbours once blocks beside it are cut (family s1-0037:
                # L3-L4, 48 mm, parted at a calcified disc on that second look).
                examined.discard(node.label)
            else:
                uncertain = True
                notes.append(_whole_note(node.height_mm))
            continue
        parts, next_label = _cut_block(cores, mask, idx, sp, found, keep, next_label)
        discs |= dark_disc_space(
            image.hu,
            image.mm_to_index,
            found,
            keep,
            cores.shape,
            sp,
            radius_mm=float(np.sqrt(len(idx) * np.prod(sp) / node.height_mm / np.pi)),
            noise_hu=image.stats.noise_hu,
        )
        weak = int((~keep).sum())
        uncertain |= weak > 0
        notes.append(_split_note(node.height_mm, len(parts), weak))
        out.extend(sorted(parts, key=lambda n: -n.centroid_mm[2]))
    return MergedSplit(out, cores, notes, uncertain, discs), frozenset(examined)
