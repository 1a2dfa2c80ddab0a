"""`segment_spine`: the built-in CPU vertebra segmentation, from a CT Volume to labels.

Coarse (~2 mm) steps find the column, its bodies, the sacrum, the ribs and the levels;
the labels are then refined on the CT's own grid inside a crop around the spine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.bodies import body_from_vertebra
from kypho.anatomy.engine.column import Node, chain_nodes, core_components, filled_bone
from kypho.anatomy.engine.cut_arches import resplit_cut_arches
from kypho.anatomy.engine.discs import disc_space
from kypho.anatomy.engine.endplate_pairs import separate_at_endplates
from kypho.anatomy.engine.endplate_slices import is_thick_slice, trim_endplate_slices
from kypho.anatomy.engine.levels import LevelAssignment, assign_levels
from kypho.anatomy.engine.ribs_sacrum import axis_distance_mm, is_sacrum, rib_bearing
from kypho.anatomy.engine.sacrum import fill_sacrum, sacrum_from_pelvis
from kypho.anatomy.engine.split import split_merged, split_sacrum_top
from kypho.anatomy.engine.threshold import (
    CoarseGrid,
    TissueStats,
    body_mask,
    bone_mask,
    coarse_grid,
    cortex_hu,
    low_bone_hu,
    tissue_stats,
)
from kypho.anatomy.engine.tilted_discs import tilted_disc_space
from kypho.anatomy.engine.whole import assign_whole
from kypho.anatomy.levels import Level
from kypho.anatomy.records import LevelInfo, Segmentation
from kypho.errors import NoSpineFoundError, SegmentationOptionError
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import LabelMap, Volume

__all__ = ["segment_spine"]


Progress = Callable[[float, str], None]

#: Half-width (mm) of the vertebral arch region behind the bodies (lumbar transverse
#: processes reach ~45 mm from the midline).
ARCH_HALF_WIDTH_MM = 45.0
#: Half-width (mm) of the sacrum at its alae (S1 ~100-110 mm wide); the ilia lie beyond.
SACRUM_HALF_WIDTH_MM = 55.0
#: A spine needs at least one body core of this volume (mm^3): a small thoracic body.
MIN_SPINE_CORE_MM3 = 2000.0
#: Largest gap (mm) closed in the cortex outline of a body cut by the image's top or
#: bottom slice: a thin osteoporotic cortex in a noisy CT breaks up over a few mm.
CUT_RING_GAP_MM = 6.0


def _tell(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _coarse_to_full_index(grid: CoarseGrid, coarse_mm: np.ndarray) -> np.ndarray:
    f = np.asarray(grid.factors, dtype=float)
    return coarse_mm / np.asarray(grid.spacing_mm) * f + 0.5 * (f - 1.0)


def _anchor_indices(
    anchors: dict[str, float] | None,
    vertebrae: list[Node],
    grid: CoarseGrid,
    affine: np.ndarray,
) -> dict[Level, int]:
    if not anchors:
        return {}
    z_world = np.array(
        [voxel_to_world(affine, _coarse_to_full_index(grid, n.centroid_mm))[2] for n in vertebrae]
    )
    out: dict[Level, int] = {}
    for name, z in anchors.items():
        lv = _parse_hint(name, "anchor")
        try:
            z_mm = float(z)
        except (TypeError, ValueError):
            raise SegmentationOptionError(
                f"anchor {name}={z!r} is not a z position in mm"
            ) from None
        if not np.isfinite(z_mm):
            raise SegmentationOptionError(f"anchor {name}={z!r} is not a finite z position in mm")
        out[lv] = int(np.argmin(np.abs(z_world - z_mm)))
    return out


def _parse_hint(value: str, what: str) -> Level:
    try:
        lv = Level.parse(value)
    except ValueError:
        raise SegmentationOptionError(
            f"{what} {value!r} is not a vertebral level such as 'L5'"
        ) from None
    if lv is Level.S:
        raise SegmentationOptionError(f"{what} {value!r} must name a vertebra, not the sacrum")
    return lv



def _cut_interior(
    filled_c: np.ndarray,
    inner: np.ndarray,
    erode: int,
    bone: np.ndarray,
    spacing_mm: tuple[float, float, float],
    grid: CoarseGrid,
    full_shape: tuple[int, int, int],
    sl: tuple[slice, slice, slice],
) -> np.ndarray:
    """Coarse interior kept at the image's top and bottom where a body is cut there.

    The top and bottom of the image are not bone surfaces: a vertebra cut by the field
    of view goes on beyond them, and eroding from there drops its last slices. The
    coarse fill is continued past those borders (as its end slices) before the
    erosion, and the extra interior is kept only inside the outline of the bone in the
    CT's own border slice (a cut body shows its cortex there, a disc that block maxima
    made look like bone shows none). The outline is closed over gaps of up to
    :data:`CUT_RING_GAP_MM`, as a thin noisy cortex leaves them.
    """
    ext = np.pad(filled_c, ((0, 0), (0, 0), (erode, erode)), mode="edge")
    kept = ndimage.binary_erosion(ext, iterations=erode)[:, :, erode:-erode] & ~inner
    shape = bone.shape
    if not kept.any():
        return np.zeros(shape, dtype=bool)
    ends = []
    if sl[2].start == 0:
        ends.append(bone[:, :, 0])
    if sl[2].stop == full_shape[2]:
        ends.append(bone[:, :, -1])
    if not ends:
        return np.zeros(shape, dtype=bool)
    r = [max(1, round(0.5 * CUT_RING_GAP_MM / s)) for s in spacing_mm[:2]]
    outline = np.zeros(shape[:2], dtype=bool)
    for end in ends:
        closed = ndimage.binary_dilation(end, structure=np.ones((2 * r[0] + 1, 2 * r[1] + 1)))
        outline |= ndimage.binary_fill_holes(closed)
    return grid.upsample(kept, full_shape, sl) & outline[:, :, None]


def _refine(
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    grid: CoarseGrid,
    whole_c: np.ndarray,
    filled_c: np.ndarray,
    bone_c: np.ndarray,
    stats: TissueStats,
) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    """Coarse vertebra ids -> ids on the CT grid, boundaries from the full-resolution bone.

    Returns the labels and the crop (slices of the CT grid) outside which they are 0;
    each side of the crop is either the image's border or at least a voxel clear of
    every label.
    """
    full = np.zeros(hu.shape, dtype=np.uint8)
    nz = np.argwhere(whole_c > 0)
    lo = np.maximum((nz.min(axis=0) - 1) * np.asarray(grid.factors), 0)
    hi = np.minimum((nz.max(axis=0) + 2) * np.asarray(grid.factors), hu.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    # The bone surface sits half-way between soft tissue and the bone next to it: the
    # local peak (3 mm neighbourhood) is ~800 HU at thin sharp cortex but only 300-400 HU
    # where thick slices blur it, so one global level would be too tight or too loose.
    crop = hu[sl]
    size = [max(3, 2 * round(1.5 / s) + 1) for s in spacing_mm]
    peak = ndimage.maximum_filter(crop, size=size)
    half = stats.soft_tissue_hu + 0.5 * (peak - stats.soft_tissue_hu)
    bone = (crop > np.maximum(half, low_bone_hu(stats))) & grid.upsample(bone_c, hu.shape, sl)
    filled = filled_bone(bone, spacing_mm)
    # The coarse fill (thin cortex kept by block maxima) is trusted in the interior,
    # where a full-resolution cortex with gaps may have left a cavity open; the surface
    # is the full-resolution one. Block maxima inflate the coarse bone by up to a block,
    # so two blocks are left to the full resolution on a pooled grid, one otherwise.
    erode = 2 if max(grid.factors) > 1 else 1
    inner = ndimage.binary_erosion(filled_c, iterations=erode)
    filled |= grid.upsample(inner, hu.shape, sl) | _cut_interior(
        filled_c, inner, erode, bone, spacing_mm, grid, hu.shape, sl
    )
    ids = grid.upsample(whole_c, hu.shape, sl)
    # Both fills can close a thin disc between two endplates whose rims nearly touch;
    # the disc is the non-bone space between the endplates of two different vertebrae.
    filled &= ~disc_space(filled, bone, ids, spacing_mm[2])
    if is_thick_slice(spacing_mm):
        # A strongly tilted disc crossed by a coarse boundary nearly along z keeps one
        # id, the change falling in the endplate beside it (see tilted_discs).
        filled &= ~tilted_disc_space(filled, bone, ids, spacing_mm)
    # At thick slices the end slices are decided from the CT instead (the half-way
    # rule keeps a slice holding part of a thin endplate, and one-slice discs).
    full[sl] = trim_endplate_slices(
        np.where(filled, ids, 0).astype(np.uint8),
        crop,
        spacing_mm,
        min_contrast_hu=low_bone_hu(stats) - stats.soft_tissue_hu,
    )
    return full, sl  # type: ignore[return-value]


def _behind_column(nodes: list[Node], chain: list[Node]) -> set[int]:
    """Cores behind the bodies and near the midline: thick parts of vertebral arches.

    Sternum, aorta and pelvis lie in front of or beside the column; an arch that came out
    thick (a closed ring around the canal, dense laminae) must not compete as "not spine".
    """
    members = {n.label for n in chain}
    pts = np.array([n.centroid_mm for n in sorted(chain, key=lambda n: n.centroid_mm[2])])
    out: set[int] = set()
    for n in nodes:
        if n.label in members:
            continue
        c = n.centroid_mm
        ax = np.interp(c[2], pts[:, 2], pts[:, 0])
        ay = np.interp(c[2], pts[:, 2], pts[:, 1])
        # Canonical axis 1 runs posterior -> anterior: behind means a smaller y.
        if c[1] < ay and abs(c[0] - ax) < ARCH_HALF_WIDTH_MM:
            out.add(n.label)
    return out


def _touches_border(mask: np.ndarray, box: tuple[slice, ...], shape: tuple[int, ...]) -> bool:
    """Whether ``mask`` (one label inside its bounding ``box``) reaches the image border."""
    for axis, (sl, n) in enumerate(zip(box, shape, strict=True)):
        if sl.start == 0 and np.take(mask, 0, axis=axis).any():
            return True
        if sl.stop == n and np.take(mask, -1, axis=axis).any():
            return True
    return False


def _level_infos(
    vertebrae: LabelMap,
    bodies: LabelMap,
    names: list[Level],
    assignment: LevelAssignment,
    evidence: list[str],
) -> list[LevelInfo]:
    out: list[LevelInfo] = []
    affine = vertebrae.affine
    for i, lv in enumerate(names):
        lab = int(lv)
        box = vertebrae.box(lab)
        if box is None:
            continue
        mask = vertebrae.labels[box] == lab
        count = int(mask.sum())
        offset = np.array([s.start for s in box], dtype=float)
        centroid = voxel_to_world(affine, np.argwhere(mask).mean(axis=0) + offset)
        body_centroid = None
        bmask = bodies.labels[box] == lab
        if lv is not Level.S and bmask.any():
            body_centroid = voxel_to_world(affine, np.argwhere(bmask).mean(axis=0) + offset)
        out.append(
            LevelInfo(
                level=lv,
                centroid_ras_mm=tuple(float(v) for v in centroid),  # type: ignore[arg-type]
                body_centroid_ras_mm=None
                if body_centroid is None
                else tuple(float(v) for v in body_centroid),  # type: ignore[arg-type]
                voxel_count=count,
                confidence=assignment.confidence if lv is not Level.S else 0.95,
                evidence=(evidence[i],) if evidence[i] else (),
                cut_by_fov=_touches_border(mask, box, vertebrae.labels.shape),
            )
        )
    return out


def segment_spine(
    volume: Volume,
    *,
    lowest: str | None = None,
    anchors: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Find, delineate and name every vertebra (and the sacrum) in a CT.

    Parameters
    ----------
    volume : Volume
        The CT (canonical RAS arrays, any spacing, possibly oblique).
    lowest : str, optional
        User-declared level of the lowest presacral vertebra ("L5", or "L6").
    anchors : dict of str to float, optional
        User anchors, level name -> world z (mm) of that vertebra, e.g. {"T12": 41.0}.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Segmentation
        Whole-vertebra and body-only labels (VerSe numbering), levels cranial to caudal,
        method "builtin".

    Raises
    ------
    NoSpineFoundError
        When no vertebral column is found in the image.
    SegmentationOptionError
        When ``lowest`` or an anchor is not a vertebral level / z position.
    """
    lowest_level = _parse_hint(lowest, "lowest level") if lowest is not None else None
    spacing = volume.spacing_mm
    _tell(progress, 0.0, "finding bone")
    grid = coarse_grid(volume.shape, spacing)
    hu = volume.hu
    # Noise is measured on the CT's own voxels (a strided sample), where thresholds apply.
    stride = np.s_[:: grid.factors[0], :: grid.factors[1], :: grid.factors[2]]
    stats = tissue_stats(hu[stride])
    hu_c = grid.pool_mean(hu)
    peak_c = grid.pool_max(hu)
    inside = ndimage.binary_dilation(body_mask(hu_c), iterations=2)
    bone_c = bone_mask(hu, grid, stats, inside, peak_c)
    if not bone_c.any():
        raise NoSpineFoundError(
            f"no bone (nothing above {stats.bone_hu:.0f} HU inside the body) in "
            f"{volume.source or 'the CT'}"
        )
    filled_c = filled_bone(bone_c, grid.spacing_mm)
    _tell(progress, 0.25, "finding vertebral bodies")
    cores, nodes = core_components(filled_c, grid.spacing_mm, grid.inflation_mm)
    chain = chain_nodes(nodes, filled_c.shape[2] * grid.spacing_mm[2])
    if not chain or max(n.volume_mm3 for n in chain) < MIN_SPINE_CORE_MM3:
        raise NoSpineFoundError(
            f"no vertebral column found in {volume.source or 'the CT'}: "
            f"no chain of vertebral bodies (bone threshold {stats.bone_hu:.0f} HU)"
        )
    sacrum = is_sacrum(chain)
    verts = chain[:-1] if sacrum else list(chain)
    # Cores that ran through discs (noisy osteoporotic bone darker than the discs) are
    # cut between endplate pairs, the discs found leave the filled bone, and a body cut
    # by the field of view beyond the column's last disc is added with its interior.
    sep = separate_at_endplates(
        verts,
        cores,
        filled_c,
        hu_c,
        grid.spacing_mm,
        stats,
        voxels_per_cell=int(np.prod(grid.factors)),
        open_below=not sacrum,
    )
    verts, cores = sep.vertebrae, sep.cores
    filled_c = (filled_c & ~sep.discs) | sep.solid
    bone_c &= ~sep.discs
    verts, cores, split_notes = split_merged(verts, cores, grid.spacing_mm)
    split_notes = sep.notes + split_notes
    chain = [*verts, chain[-1]] if sacrum else verts
    if not verts:
        raise NoSpineFoundError(f"only a sacrum was found in {volume.source or 'the CT'}")
    axis = axis_distance_mm(filled_c.shape, grid.spacing_mm, chain)
    _tell(progress, 0.45, "naming levels")
    floor = chain[-1].z_hi_mm if sacrum else None
    rib_search = rib_bearing(
        filled_c, cores, axis, grid.spacing_mm, verts, floor, peak_c > cortex_hu(stats)
    )
    ribs, rib_mask = rib_search.indices, rib_search.ribs
    if sacrum and ribs and max(ribs) == len(verts) - 5:
        # Four free vertebrae between the last rib and the sacrum: L5 may be hidden in
        # the sacral core (narrow lumbosacral disc). Only then is it looked for, since
        # the fused sacral segments show similar dips.
        joined, cores = split_sacrum_top(verts, chain[-1], cores, grid.spacing_mm)
        if joined is not None:
            verts.append(joined)
            chain = [*verts, chain[-1]]
            axis = axis_distance_mm(filled_c.shape, grid.spacing_mm, chain)
            split_notes.append(
                "the lowest lumbar body was joined to the sacrum (narrow lumbosacral disc) "
                "and was separated at the disc"
            )
    assignment = assign_levels(
        len(verts),
        on_sacrum=sacrum,
        rib_indices=ribs,
        anchor_indices=_anchor_indices(anchors, verts, grid, volume.affine),
        lowest=lowest_level,
        rib_doubt_indices=rib_search.doubtful,
    )
    names: list[Level] = []
    core_to_id: dict[int, int] = {}
    evidence: list[str] = []
    warnings = list(assignment.warnings) + split_notes
    for node, lv, ev in zip(verts, assignment.levels, assignment.evidence, strict=True):
        if lv is None:
            warnings.append("a vertebra above C1 by the count was left unlabelled")
            continue
        names.append(lv)
        evidence.append(ev)
        core_to_id[node.label] = int(lv)
    sacral_core = None
    if sacrum:
        sacral_core = cores == chain[-1].label
        names.append(Level.S)
        evidence.append("wide bone below the lowest disc, joined to the iliac wings = sacrum")
        core_to_id[chain[-1].label] = int(Level.S)
        # The sacral core often runs on into the ilia through the sacroiliac joints;
        # beyond the alae it is pelvis and seeds "not spine" instead.
        cores[(cores == chain[-1].label) & (axis > SACRUM_HALF_WIDTH_MM)] = cores.max() + 1
    _tell(progress, 0.6, "delineating vertebrae")
    whole_c = assign_whole(
        filled_c, cores, core_to_id, axis, _behind_column(nodes, chain), rib_mask
    )
    if sacral_core is not None:
        whole_c = sacrum_from_pelvis(
            whole_c, filled_c, sacral_core, axis, grid.spacing_mm, int(Level.S)
        )
    _tell(progress, 0.75, "refining at full resolution")
    labels, sl = _refine(hu, volume.spacing_mm, grid, whole_c, filled_c, bone_c, stats)
    # The last steps work inside the labels' crop: passes over the whole grid cost
    # ~0.1-0.4 s each on a 512 x 512 x 400 CT. The crop's sides are image borders or
    # clear of labels, so the border rules see the same borders.
    labels[sl] = resplit_cut_arches(labels[sl], hu[sl], volume.spacing_mm, skip={int(Level.S)})
    if sacral_core is not None:
        fill_sacrum(labels[sl], int(Level.S))
    _tell(progress, 0.9, "cutting bodies at the pedicle base")
    bodies = np.zeros_like(labels)
    bodies[sl] = body_from_vertebra(labels[sl], volume.affine)
    vertebrae_map, bodies_map = LabelMap(labels, volume.affine), LabelMap(bodies, volume.affine)
    infos = _level_infos(vertebrae_map, bodies_map, names, assignment, evidence)
    if not any(i.level is not Level.S for i in infos):
        raise NoSpineFoundError(f"no vertebra could be delineated in {volume.source or 'the CT'}")
    for info in infos:
        if info.cut_by_fov and info.level is not Level.S:
            warnings.append(f"{info.level.display} is cut by the field of view")
    _tell(progress, 1.0, "segmentation done")
    return Segmentation(
        vertebrae=vertebrae_map,
        bodies=bodies_map,
        levels=infos,
        method="builtin",
        warnings=warnings,
    )
