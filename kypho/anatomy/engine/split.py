"""Splitting body cores that stay merged through a collapsed disc or a bridging osteophyte.

A core much taller than its neighbours holds two (or more) bodies. It is cut where its
cross-section dips (the disc planes, where only a bony bridge or a thin disc remains);
without a dip it is cut evenly into as many pieces as its height holds typical cores.
Short (fractured) cores are never touched. In a small crop with fewer than three cores
only a block taller than any body with a deep waist is cut.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.disc_profile import DiscCuts, disc_cuts
from kypho.anatomy.engine.disc_space import dark_disc_space
from kypho.anatomy.engine.threshold import TissueStats

__all__ = ["MergedSplit", "node_from_mask", "split_merged", "split_sacrum_top"]

#: A core this much taller than the median of the others holds more than one body...
MERGED_HEIGHT_RATIO = 2.0
#: A disc plane reads below this fraction of the core cross-section on either side (in
#: a block already known to hold several bodies, a shallow dip is enough).
DISC_DIP_RATIO = 0.97
#: A piece beyond a block's end cut is a body only with at least this share of its
#: neighbour's cross-section.
END_PIECE_SHARE = 0.5
#: Least distance between two disc planes (mm): below the shortest vertebral pitch (upper
#: thoracic body ~17 mm plus disc, DOMAIN.md §7.3) with margin for fractures.
DISC_SEPARATION_MM = 15.0
#: Half-width (mm) of the central column of the sacral core searched for a joined L5
#: body (L5 endplate ~47 mm wide, DOMAIN.md §7.3; the alae lie outside).
SACRAL_COLUMN_HALF_WIDTH_MM = 22.0
#: Half-width (mm) of the vertebral arch beside the body axis: lumbar transverse
#: processes end ~45 mm from the midline (DOMAIN.md §7.3).
ARCH_HALF_WIDTH_MM = 45.0
#: The sacrum's superior articular processes rise ~10-15 mm above the S1 endplate; the
#: vertebra's own arch parts (pedicles, transverse processes) lie higher, beside its body.
ARCH_ABOVE_DISC_MM = 12.0
#: The lumbosacral disc dip reads below this fraction of the column's widest section.
LUMBOSACRAL_DIP_RATIO = 0.7
#: A split-off body core is at least this long (mm) and this share of the body above.
MIN_BODY_CORE_MM = 10.0
MIN_BODY_SHARE = 0.4
#: ...and at most this many vertebral pitches (the two bodies above) long, measured
#: from the top of the sacral core, which may hold some of the arch.
MAX_PITCH_RATIO = 1.4
#: A lumbar body joined to the sacrum is about as wide as the body above it (L4 and L5
#: are 45-50 mm, DOMAIN.md §7.3), the sacrum's first segment with its alae about twice.
BODY_WIDTH_RATIO = 1.4
#: ...and taller than this in any case: the tallest normal bodies are ~30 mm (DOMAIN.md
#: §7.3) and a core stops short of the endplates.
MERGED_MIN_HEIGHT_MM = 48.0


def _disc_slices(area: np.ndarray, window: int) -> list[int]:
    """Slices where the bone cross-section dips clearly below both sides: disc planes.

    Parameters
    ----------
    area : (Z,) ndarray of float
        Filled-bone voxels per slice inside the core's footprint.
    window : int
        Slices searched on each side for the bone the dip is compared with; also the
        least distance between two cuts.
    """
    n = len(area)
    cuts: list[int] = []
    for k in range(1, n - 1):  # a loop over slices (tens), not voxels
        if area[k] > area[k - 1] or area[k] > area[k + 1]:
            continue
        left = area[max(0, k - window) : k].max()
        right = area[k + 1 : k + 1 + window].max()
        if area[k] > DISC_DIP_RATIO * min(left, right):
            continue
        if cuts and k - cuts[-1] < window:
            if area[k] < area[cuts[-1]]:
                cuts[-1] = k
            continue
        cuts.append(k)
    return cuts


def node_from_mask(mask: np.ndarray, label: int, spacing: np.ndarray) -> Node:
    """The :class:`Node` describing core ``label`` occupying ``mask`` (coarse grid, mm)."""
    idx = np.argwhere(mask)
    return Node(
        label=label,
        centroid_mm=idx.mean(axis=0) * spacing,
        z_lo_mm=float(idx[:, 2].min() * spacing[2]),
        z_hi_mm=float((idx[:, 2].max() + 1) * spacing[2]),
        volume_mm3=float(len(idx) * np.prod(spacing)),
        width_mm=float((idx[:, 0].max() - idx[:, 0].min() + 1) * spacing[0]),
    )


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
    END_PIECE_SHARE of the neighbouring piece's cross-section is no body.
    """
    while keep.sum() >= 1:
        piece = _pieces(pts, found, keep)
        along = pts @ np.array([0.0, 0.0, 1.0])
        count = np.bincount(piece, minlength=int(keep.sum()) + 1).astype(float)
        length = np.array(
            [np.ptp(along[piece == k]) + 1.0 if count[k] else 1.0 for k in range(len(count))]
        )
        area = count / length
        kept = np.flatnonzero(keep)
        if area[0] < END_PIECE_SHARE * area[1]:
            keep[kept[0]] = False
        elif area[-1] < END_PIECE_SHARE * area[-2]:
            keep[kept[-1]] = False
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
    # With fewer than three cores (a small crop) there are too few neighbours to tell a
    # merged block from a tall body by height: only a block taller than any body is cut.
    short = len(vertebrae) < 3
    sp = np.asarray(spacing_mm, dtype=float)
    out: list[Node] = []
    notes: list[str] = []
    uncertain = False
    discs = np.zeros(cores.shape, dtype=bool)
    next_label = int(cores.max()) + 1
    for i, node in enumerate(vertebrae):
        others = [n.height_mm for j, n in enumerate(vertebrae) if j != i]
        typical = 0.0 if short else float(np.median(others))
        if node.height_mm < max(MERGED_HEIGHT_RATIO * typical, MERGED_MIN_HEIGHT_MM):
            out.append(node)
            continue
        mask = cores == node.label
        idx = np.argwhere(mask)
        pts = idx * sp
        below, above = _block_touches(idx, cores.shape)
        found = disc_cuts(
            hu,
            pts,
            mm_to_index,
            slice_mm=float(sp[2]),
            cut_below=below,
            cut_above=above,
            voxel_mm=voxel_mm,
            soft_tissue_hu=stats.soft_tissue_hu,
            noise_hu=stats.noise_hu,
            pitch_mm=_separate_pitch(vertebrae, i, typical),
        )
        keep = _body_like_ends(pts, found, found.evidence.copy())
        if not keep.any():
            out.append(node)
            uncertain = True
            notes.append(
                f"one bony block {node.height_mm:.0f} mm tall shows no disc in its CT "
                "profile and was left whole (fused or bridged vertebrae?); the levels "
                "across it are uncertain"
            )
            continue
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
        discs |= dark_disc_space(
            hu,
            mm_to_index,
            found,
            keep,
            cores.shape,
            sp,
            radius_mm=float(np.sqrt(len(idx) * np.prod(sp) / node.height_mm / np.pi)),
            noise_hu=stats.noise_hu,
        )
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
        weak = int((~keep).sum())
        uncertain |= weak > 0
        notes.append(
            f"one bony block {node.height_mm:.0f} mm tall was split into {len(parts)} "
            f"vertebrae at the discs its CT profile shows"
            + (f"; {weak} more disc plane(s) lacked evidence and were not cut" if weak else "")
        )
        out.extend(sorted(parts, key=lambda n: -n.centroid_mm[2]))
    return MergedSplit(out, cores, notes, uncertain, discs)


def _top_width_mm(pts: np.ndarray, bins: np.ndarray, cut: int) -> float:
    """Median left-right extent (mm) of the sacral core's slabs above the dip."""
    widths = [
        float(np.ptp(pts[bins == k, 0])) for k in range(cut) if np.any(bins == k)
    ]
    return float(np.median(widths)) if widths else 0.0


def split_sacrum_top(
    vertebrae: list[Node],
    sacrum: Node,
    cores: np.ndarray,
    spacing_mm: tuple[float, float, float],
    *,
    narrow_top: bool = False,
) -> tuple[Node | None, np.ndarray]:
    """Separate a lowest lumbar body that stayed joined to the sacral core.

    At thick slices or with a narrow lumbosacral disc the L5 body core runs into the
    sacrum. Along the lumbar axis (continued from the two lowest bodies found), the
    sacral core's central column then shows a body-sized segment, a clear dip (the
    disc) and the sacrum below; a true sacrum starts with its widest part instead.

    Parameters
    ----------
    vertebrae : list of Node
        Presacral chain members, cranial to caudal (at least two).
    sacrum : Node
        The sacral core.
    cores : (X, Y, Z) ndarray of uint32
        Core labels (modified in place when a body is split off).
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    narrow_top : bool
        Also require the segment above the dip to be as narrow as a body (no wider
        than BODY_WIDTH_RATIO times the lowest body): the sacrum's first segment
        carries the alae, twice as wide, so a dip between fused sacral segments does
        not pass. Needed when no rib count says a vertebra is missing.

    Returns
    -------
    node : Node or None
        The separated body, or None.
    cores : ndarray
    """
    if len(vertebrae) < 2:
        return None, cores
    sp = np.asarray(spacing_mm, dtype=float)
    upper, lowest = vertebrae[-2], vertebrae[-1]
    axis = lowest.centroid_mm - upper.centroid_mm
    pitch = float(np.linalg.norm(axis))
    if pitch == 0.0:
        return None, cores
    axis /= pitch
    idx = np.argwhere(cores == sacrum.label)
    pts = idx * sp
    central = np.abs(pts[:, 0] - lowest.centroid_mm[0]) < SACRAL_COLUMN_HALF_WIDTH_MM
    t = (pts - lowest.centroid_mm) @ axis
    step = float(sp[2])
    t0 = float(t[central].min()) if central.any() else 0.0
    bins = np.floor((t - t0) / step).astype(int)
    profile = np.bincount(bins[central & (bins >= 0)]).astype(float)
    window = max(1, round(DISC_SEPARATION_MM / step))
    deep = LUMBOSACRAL_DIP_RATIO * profile.max()
    shortest = MIN_BODY_CORE_MM / step
    cuts = [k for k in _disc_slices(profile, window) if profile[k] <= deep and k >= shortest]
    if not cuts:
        return None, cores
    cut = cuts[0]
    body = central & (bins < cut) & (bins >= 0)
    length = cut * step
    too_small = body.sum() * np.prod(sp) < MIN_BODY_SHARE * lowest.volume_mm3
    if too_small or not MIN_BODY_CORE_MM <= length <= MAX_PITCH_RATIO * pitch:
        return None, cores
    if narrow_top and _top_width_mm(pts, bins, cut) > BODY_WIDTH_RATIO * lowest.width_mm:
        return None, cores
    label = int(cores.max()) + 1
    # The arch of that vertebra (pedicles, transverse processes) joined the sacral core
    # beside the central column. Well above the disc plane and within the arch's reach
    # it is released from the sacral marker, so the flood gives it to whichever body it
    # hangs on (the iliac crests lie farther out, the sacral facets lower).
    near = np.abs(pts[:, 0] - lowest.centroid_mm[0]) < ARCH_HALF_WIDTH_MM
    z_disc = float(pts[central & (bins == cut), 2].mean())
    arch = near & ~central & (pts[:, 2] > z_disc + ARCH_ABOVE_DISC_MM)
    cores[tuple(idx[body].T)] = label
    cores[tuple(idx[arch | (central & (bins == cut))].T)] = 0  # the cut layer parts the two
    part = np.zeros(cores.shape, dtype=bool)
    part[tuple(idx[body].T)] = True
    return node_from_mask(part, label, sp), cores
