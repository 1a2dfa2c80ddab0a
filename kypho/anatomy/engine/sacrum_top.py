"""A lowest lumbar body left joined to the sacral core, split off at its disc.

At thick slices, with a narrow lumbosacral disc, or where low-dose noise made the disc
bone, the L5 body core runs into the sacrum's. Along the lumbar axis the sacral core's
central column then shows a body-sized segment, a clear dip (the disc) and the sacrum
below; a true sacrum starts with its widest part instead.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.split import node_from_mask

__all__ = ["split_sacrum_top"]

#: A disc plane reads below this fraction of the core cross-section on either side (in
#: a block already known to hold several bodies, a shallow dip is enough).
DISC_DIP_RATIO = 0.97
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


def _top_width_mm(pts: np.ndarray, bins: np.ndarray, cut: int) -> float:
    """Median left-right extent (mm) of the sacral core's slabs above the dip."""
    sel = (bins >= 0) & (bins < cut)
    lo = np.full(cut, np.inf)
    hi = np.full(cut, -np.inf)
    np.minimum.at(lo, bins[sel], pts[sel, 0])
    np.maximum.at(hi, bins[sel], pts[sel, 0])
    widths = (hi - lo)[np.isfinite(lo)]
    return float(np.median(widths)) if widths.size else 0.0


def _part_off(
    cores: np.ndarray,
    idx: np.ndarray,
    pts: np.ndarray,
    central: np.ndarray,
    bins: np.ndarray,
    cut: int,
    lowest: Node,
    sp: np.ndarray,
) -> Node:
    """Give the segment above the dip its own core label (``cores`` in place).

    The arch of that vertebra (pedicles, transverse processes) joined the sacral core
    beside the central column. Well above the disc plane and within the arch's reach it
    is released from the sacral marker, so the flood gives it to whichever body it hangs
    on (the iliac crests lie farther out, the sacral facets lower).
    """
    label = int(cores.max()) + 1
    body = central & (bins < cut) & (bins >= 0)
    near = np.abs(pts[:, 0] - lowest.centroid_mm[0]) < ARCH_HALF_WIDTH_MM
    z_disc = float(pts[central & (bins == cut), 2].mean())
    arch = near & ~central & (pts[:, 2] > z_disc + ARCH_ABOVE_DISC_MM)
    cores[tuple(idx[body].T)] = label
    cores[tuple(idx[arch | (central & (bins == cut))].T)] = 0  # the cut layer parts the two
    part = np.zeros(cores.shape, dtype=bool)
    part[tuple(idx[body].T)] = True
    return node_from_mask(part, label, sp)


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
    return _part_off(cores, idx, pts, central, bins, cut, lowest, sp), cores
