"""Body-only masks from whole-vertebra masks: posterior elements cut at the pedicle base.

The vertebral body is the only part of a vertebra that is thick in every axial
direction (a lumbar body is ~40 mm wide and ~30 mm deep, DOMAIN.md §7.3), while the
pedicles, laminae and processes are plates and rods under ~12 mm thick. An in-plane
morphological opening with a disc (radius scaled to the vertebra, at most 9 mm)
therefore keeps the body and drops the posterior elements where they narrow into the
pedicles, i.e. at the pedicle base. Endplate rims the opening shaved off (biconcave or
wedged endplates) are taken back from straight above and below the body; the ring
slices of a deeply cupped (biconcave) endplate are opened with the cup filled, the
disc in it being a hole over the body, the canal one behind it. Distances are
Euclidean in millimetres (anisotropic spacing handled exactly), on a crop per vertebra.
"""

from __future__ import annotations

import cc3d
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from kypho.anatomy.engine.endplate_slices import is_thick_slice
from kypho.anatomy.engine.threshold import AIR_BODY_HU, largest_region
from kypho.imaging.distance import distance_mm
from kypho.imaging.orientation import affine_spacing
from kypho.threads import map_in_threads

__all__ = ["BODY_OPENING_RADIUS_MM", "body_from_vertebra", "inplane_distance_mm"]

#: Largest radius of the in-plane opening that separates the body from the pedicles.
#: Pedicles are 5-10 mm wide at T10-L4 and up to ~15 mm at L5 (DOMAIN.md §7.1); bodies
#: 35-48 mm wide (§7.3). The radius used is 0.45 x the body's in-plane half-width, capped
#: here, so small thoracic bodies are not eroded away.
BODY_OPENING_RADIUS_MM = 9.0

#: Height (mm) above and below the opened body searched for endplate rims.
ENDPLATE_RIM_MM = 6.0

#: Labels that are not vertebrae with a body (the sacrum has no "body" record).
_NO_BODY_LABELS = frozenset({26})

#: Opening radius as a fraction of the thickest in-plane half-width of the vertebra.
_RADIUS_FRACTION = 0.45

#: Least radius (mm) of the largest circle inside a hole of an axial slice for the hole
#: to be read as the disc in a cupped endplate: a cup 10 mm across, a third of a lumbar
#: body's depth. The cups of independent phantom ind-1-0008's grade 3 biconcave L2
#: measure 5.8 and 7.3 mm; the gaps inside noisy or hollow masks over their bodies, at
#: most 3.9 mm (ind-1-0011's merged thoracolumbar masks; the real chest CT: 3.5 mm).
MIN_CUP_RADIUS_MM = 5.0

# Neighbours within an axial slice only: holes and pieces of each slice apart.
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[:, :, 1] = ndimage.generate_binary_structure(2, 1)

# A z step so large that the transform never looks across slices: an in-plane EDT.
_NO_Z = 1.0e6


def inplane_distance_mm(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) from each voxel of ``mask`` to the nearest background voxel in its axial slice.

    Parameters
    ----------
    mask : (X, Y, Z) ndarray of bool
        Foreground.
    spacing_mm : tuple of 3 float
        Voxel size along axes 0, 1, 2.

    Returns
    -------
    (X, Y, Z) ndarray of float32
        0 outside ``mask``; the array border counts as background.
    """
    sx, sy, _ = spacing_mm
    return distance_mm(mask, (sx, sy, _NO_Z), black_border=True)


def _inplane_opening(
    mask: np.ndarray, spacing_mm: tuple[float, float, float], radius_mm: float
) -> np.ndarray:
    core = inplane_distance_mm(mask, spacing_mm) > radius_mm
    if not core.any():
        return core
    # Dilation of the core by the same radius = points within radius of a core voxel.
    reach = inplane_distance_mm(~core, spacing_mm)
    return mask & (reach <= radius_mm + 1e-3)


def _column_axis(centroids_mm: np.ndarray, present: np.ndarray, index: int) -> np.ndarray:
    """Unit craniocaudal direction of the column at vertebra ``index`` (mm space).

    The line through its two nearest neighbours when they lie on either side of it, else
    the line to the nearest one; +z (the image axis) when it has no neighbour. Sign-free.
    """
    others = np.flatnonzero(present)
    others = others[others != index]
    if others.size == 0:
        return np.array([0.0, 0.0, 1.0])
    offsets = centroids_mm[others] - centroids_mm[index]
    order = np.argsort(np.linalg.norm(offsets, axis=1))
    axis = offsets[order[0]]
    if order.size > 1 and float(np.dot(offsets[order[0]], offsets[order[1]])) < 0.0:
        axis = offsets[order[0]] - offsets[order[1]]
    norm = float(np.linalg.norm(axis))
    return axis / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _line_structure(
    axis: np.ndarray, half_length_mm: float, spacing: tuple[float, float, float]
) -> np.ndarray:
    """Boolean structuring element: the voxels of a segment of ``2 * half_length_mm``
    along ``axis`` (unit, mm space) through the centre, on a grid of ``spacing``."""
    # Samples every half of the smallest voxel size: no voxel along the line is skipped.
    step = 0.5 * min(spacing)
    t = np.arange(-half_length_mm, half_length_mm + 0.5 * step, step)
    voxels = np.round(t[:, None] * axis[None, :] / np.asarray(spacing)).astype(int)
    offsets = np.unique(voxels, axis=0)
    half = np.abs(offsets).max(axis=0)
    structure = np.zeros(tuple(2 * half + 1), dtype=bool)
    structure[tuple((offsets + half).T)] = True
    return structure


def _enclosed(background: np.ndarray, in_plane: bool) -> tuple[np.ndarray, np.ndarray]:
    """Components of ``background`` (within each axial slice, or in 3-D; face-connected)
    and, per component, whether it is enclosed: touches no side of the box. One
    labelling pass instead of the iterated dilation of ``binary_fill_holes``."""
    lab, n = ndimage.label(background, structure=_IN_PLANE if in_plane else None)
    open_ = np.zeros(n + 1, dtype=bool)
    open_[0] = True
    for face in (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1]):
        open_[np.unique(face)] = True
    return lab, ~open_


def _cupped_filled(mask: np.ndarray, opened: np.ndarray,
                   spacing: tuple[float, float, float]) -> np.ndarray | None:
    """``mask`` with the holes of its axial slices filled where a hole is a cup's disc:
    open onto the outside, wholly over the opened body (the canal lies behind it) and
    :data:`MIN_CUP_RADIUS_MM` deep from its edge; None without such a hole."""
    background = ~mask
    lab, enclosed = _enclosed(background, in_plane=True)
    if not enclosed.any():
        return None
    holes = enclosed[lab]
    ids = lab[holes]
    depth = np.zeros(enclosed.size)
    np.maximum.at(depth, ids, inplane_distance_mm(holes, spacing)[holes])
    footprint = opened.any(axis=2)
    outside = np.zeros(enclosed.size, dtype=bool)
    outside[lab[holes & ~footprint[:, :, None]]] = True
    cup = enclosed & ~outside & (depth >= MIN_CUP_RADIUS_MM)
    if not cup.any():
        return None
    # A hollow the mask closes on every side (an osteoporotic body's cancellous bone
    # left out of a mask drawn on its cortex) is no cup.
    lab3, cavity = _enclosed(background, in_plane=False)
    filled = cup[lab] & ~cavity[lab3]
    return mask | filled if filled.any() else None


def _one_body(
    mask_seed: np.ndarray, spacing: tuple[float, float, float], axis: np.ndarray | None
) -> np.ndarray | None:
    """The body of one vertebra's mask (in its padded box), or None when the opening
    leaves nothing; ``axis`` is the column's direction at thick slices, else None."""
    # The radius scales with the vertebra: large lumbar pedicles need a wide disc,
    # small thoracic bodies would lose their rim to one.
    half_width = float(inplane_distance_mm(mask_seed, spacing).max())
    radius = min(BODY_OPENING_RADIUS_MM, _RADIUS_FRACTION * half_width)
    body = _inplane_opening(mask_seed, spacing, radius)
    if not body.any():
        return None
    # A deep biconcave fracture is solid only in its collapsed middle: above and below,
    # its axial slices are rings around the disc in each cup, and the opening removes
    # them, rims taller than the reach below included (independent phantom ind-1-0008,
    # grade 3 biconcave L2: posterior corners 4 mm short, Hp read 19.1 mm for 26.7).
    # Opened with its cups filled, a ring is a body's section again.
    cupped = _cupped_filled(mask_seed, body, spacing)
    if cupped is not None:
        body |= _inplane_opening(cupped, spacing, radius) & mask_seed
    body = largest_region(body)
    # Near a depressed (biconcave) or wedged endplate an axial slice cuts the body
    # as a thin rim that the opening removes; the rim lies straight above or below
    # the opened body, while the pedicles and processes lie behind it. Where the
    # column is tilted (kyphosis, scoliosis) and the slices are thick, the few
    # slices within reach straight above hold little of it: the rim is also taken
    # back along the column's own axis.
    reach = max(1, round(ENDPLATE_RIM_MM / spacing[2]))
    column = ndimage.binary_dilation(body, structure=np.ones((1, 1, 2 * reach + 1), dtype=bool))
    if axis is not None:
        tilted = ndimage.binary_dilation(
            body, structure=_line_structure(axis, ENDPLATE_RIM_MM, spacing)
        )
        # Only within the opened body's own extent along the column: the rims are
        # part of its height, what lies beyond its endplates is disc or a neighbour.
        ii, jj, kk = (
            (np.arange(n, dtype=np.float32) * float(s * a))
            for n, s, a in zip(body.shape, spacing, axis, strict=True)
        )
        along = ii[:, None, None] + jj[None, :, None] + kk[None, None, :]
        lo, hi = float(along[body].min()), float(along[body].max())
        column |= tilted & (along >= lo) & (along <= hi)
    return body | (column & mask_seed)


def body_from_vertebra(
    labels: np.ndarray, affine: npt.ArrayLike, hu: np.ndarray | None = None
) -> np.ndarray:
    """Body-only labels from whole-vertebra labels (same VerSe numbers).

    Each vertebra is opened in its axial planes with a disc of
    :data:`BODY_OPENING_RADIUS_MM` (scaled down for small vertebrae) and the largest
    remaining piece is kept: pedicles, laminae and processes are thinner than the disc
    and fall away at the pedicle base. The sacrum (26) gets no body.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of integer
        Whole-vertebra labels (VerSe numbering), canonical orientation.
    affine : (4, 4) array_like
        Voxel -> world RAS mm; only the spacing is used.
    hu : (X, Y, Z) ndarray of float, optional
        The CT. When given, voxels of the mask that read as air (< -500 HU, e.g. a
        vacuum cleft drawn into an imported mask) are left out of the body.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
        Body-only labels; 0 elsewhere.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3-D, got shape {labels.shape}")
    if hu is not None and np.shape(hu) != labels.shape:
        raise ValueError(f"hu shape {np.shape(hu)} differs from labels shape {labels.shape}")
    spacing = affine_spacing(affine)
    out = np.zeros(labels.shape, dtype=np.uint8)
    if not labels.any():
        return out
    pad = [int(np.ceil(2.0 * BODY_OPENING_RADIUS_MM / s)) + 1 for s in spacing]
    thick = is_thick_slice(spacing)
    stats = cc3d.statistics(np.ascontiguousarray(labels.astype(np.uint8)))
    boxes = stats["bounding_boxes"]
    # Neighbours that define the column's direction: vertebrae with a body (the
    # sacrum's centroid lies far behind and below the column's line).
    present = np.asarray(stats["voxel_counts"]) > 0
    present[[0, *(v for v in _NO_BODY_LABELS if v < present.size)]] = False
    centroids_mm = np.nan_to_num(np.asarray(stats["centroids"], dtype=float)) * np.asarray(spacing)
    jobs = []
    for lab_value, box in enumerate(boxes):
        if lab_value == 0 or box is None or lab_value in _NO_BODY_LABELS:
            continue
        sl = tuple(
            slice(max(0, b.start - p), min(n, b.stop + p))
            for b, p, n in zip(box, pad, labels.shape, strict=True)
        )
        mask = labels[sl] == lab_value
        if not mask.any():
            continue
        mask_seed = mask & (np.asarray(hu[sl]) > AIR_BODY_HU) if hu is not None else mask
        axis = _column_axis(centroids_mm, present, lab_value) if thick else None
        jobs.append((lab_value, sl, mask_seed, axis))
    # Each body lies inside its own label, so the vertebrae are cut independently.
    found = map_in_threads(lambda job: _one_body(job[2], spacing, job[3]), jobs)
    for (lab_value, sl, _, _), body in zip(jobs, found, strict=True):
        if body is not None:
            out[sl][body] = lab_value
    return out
