"""The body of a vertebra the count lost: found as bone alone in the room it left.

A body crushed to a third of its height has no voxel deep enough inside bone to be a
core (:data:`~kypho.anatomy.engine.column.CORE_DEPTH_3D_MM` in 3-D: a 9 mm body has
none), so the column steps over it. The naming counts the lost vertebra when its two
neighbours stand a vertebra's room apart and the anchors in view agree
(:mod:`~kypho.anatomy.engine.missing_levels`), but it is never delineated, measured or
graded, though a grade 3 crush is what kyphoplasty treats (family s1-0053 T9, s2-0034
T9, s2-0043 T7: 8-12 mm tall, lost).

The room of each step that lost a vertebra is searched once, before the count
(:func:`lost_steps`): bone that touches neither neighbour's core, lies farther from both
than their own bodies reach beyond their cores, spans half a core's section and sits
near the room's middle. Beside a body that is not whole-sized, that bone is what makes
the step a lost vertebra at all. It becomes a core only once the count has settled the
lost level (:func:`lost_bodies`), so the names cannot move: bone found in a long step the
anchors refused as a gap never becomes a vertebra (an earlier version that made cores of
such bone before naming put bogus bodies into family s2-0037's curved step and renamed
s2-0009 and ind-1-0016).
"""

from __future__ import annotations

from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import CORE_DEPTH_3D_MM, Node
from kypho.anatomy.engine.missing_levels import missing_after, uneven_steps
from kypho.anatomy.levels import Level

__all__ = [
    "BODY_BEYOND_CORE_MM",
    "LostBody",
    "lost_bodies",
    "lost_steps",
    "with_lost_bodies",
]

#: Least share of the neighbours' median core section (mm^2) the slab must cover in its
#: widest slice: a body's whole section is larger than its core's (cores stop ~5 mm
#: inside the cortex), a calcified nucleus or an osteophyte covers far less.
MIN_SECTION_SHARE = 0.5
#: Least height (mm) of the slab: a body crushed to Genant grade 3 keeps ~40 % of its
#: ~20-30 mm (DOMAIN.md §1.1); thinner is a plate or a calcified disc.
MIN_SLAB_MM = 4.0
#: How far (mm) a neighbour's body reaches beyond its core: the core's 3-D depth and a
#: voxel of slack.
BODY_BEYOND_CORE_MM = CORE_DEPTH_3D_MM + 1.0
#: The slab's centroid lies within this share of the room's length from its middle.
MID_ROOM_SHARE = 0.3


@dataclass(frozen=True)
class LostBody:
    """The body found for a lost level: its coarse-grid mask and its height (mm)."""

    level: Level
    after: Level
    mask: np.ndarray
    height_mm: float


def _room(
    shape: tuple[int, ...], upper: np.ndarray, lower: np.ndarray, sp: np.ndarray
) -> np.ndarray:
    """Voxels between two cores along axis 2, within their joint in-plane footprint
    grown to the bodies' section (cores stop a core depth inside the cortex)."""
    zs_u = np.flatnonzero(upper.any(axis=(0, 1)))
    zs_l = np.flatnonzero(lower.any(axis=(0, 1)))
    lo, hi = sorted([(zs_u.min(), zs_u.max()), (zs_l.min(), zs_l.max())])
    room = np.zeros(shape, dtype=bool)
    if hi[0] - lo[1] < 2:
        return room
    footprint = upper.any(axis=2) | lower.any(axis=2)
    grow = int(np.ceil(BODY_BEYOND_CORE_MM / float(min(sp[0], sp[1]))))
    footprint = ndimage.binary_dilation(footprint, iterations=grow)
    room[:, :, lo[1] + 1 : hi[0]] = footprint[:, :, None]
    return room


def _slab(
    filled: np.ndarray, cores: np.ndarray, upper: Node, lower: Node, sp: np.ndarray
) -> np.ndarray | None:
    """The lost body's bone between cores ``upper`` and ``lower``, or None."""
    a, b = cores == upper.label, cores == lower.label
    room = _room(cores.shape, a, b, sp)
    if not room.any():
        return None
    section = float(np.median([np.bincount(np.nonzero(m)[2]).max() for m in (a, b)]))
    section *= float(sp[0] * sp[1])
    # Everything else is read in the room's box (with a margin for the distances): the
    # room is a few centimetres of a grid that spans the whole field of view.
    box = ndimage.find_objects(room.astype(np.uint8))[0]
    box = tuple(slice(max(0, s.start - 8), s.stop + 8) for s in box)
    cores_ab, room = a[box] | b[box], room[box]
    # The neighbours' bodies end about a core depth beyond their cores: what lies
    # farther from both is neither's (a partial-volume bridge across a thin disc joins
    # a crushed body to its neighbour's rim, family s2-0034).
    far = ndimage.distance_transform_edt(~cores_ab, sampling=sp) > BODY_BEYOND_CORE_MM
    bone = filled[box] & room & (cores[box] == 0) & far
    comps = cc3d.connected_components(bone, connectivity=26)
    near = ndimage.binary_dilation(cores_ab, structure=np.ones((3, 3, 3), bool))
    touching = set(np.unique(comps[near]).tolist())
    zs = np.flatnonzero(room.any(axis=(0, 1)))
    mid, length = 0.5 * (zs.min() + zs.max()), float(zs.max() - zs.min() + 1)
    best, best_n = None, 0
    for lab in np.unique(comps):
        if lab == 0 or lab in touching:
            continue
        comp = comps == lab
        per_slice = np.bincount(np.nonzero(comp)[2])
        z = np.flatnonzero(per_slice)
        tall = (z.max() - z.min() + 1) * float(sp[2]) >= MIN_SLAB_MM
        wide = per_slice.max() * float(sp[0] * sp[1]) >= MIN_SECTION_SHARE * section
        centre = float(np.average(np.arange(per_slice.size), weights=per_slice))
        centred = abs(centre - mid) <= MID_ROOM_SHARE * length
        if tall and wide and centred and comp.sum() > best_n:
            best, best_n = comp, int(comp.sum())
    if best is None:
        return None
    out = np.zeros(cores.shape, dtype=bool)
    out[box] = best
    return out


def _lost_level(above: Level | None, below: Level | None) -> Level | None:
    """The one standard level between two named ones, if exactly one lies between."""
    if above is None or below is None:
        return None
    nxt = above.below()
    return nxt if nxt is not None and nxt.below() is below else None


def lost_steps(
    vertebrae: list[Node],
    cores: np.ndarray,
    filled: np.ndarray,
    spacing_mm: tuple[float, float, float],
) -> tuple[list[int], dict[int, np.ndarray]]:
    """The steps that lost a vertebra, and the body found in the room of each step that
    lost one.

    A step long enough to have lost a vertebra between whole-sized bodies has lost one
    (:func:`~kypho.anatomy.engine.missing_levels.missing_after`); one beside a body that
    is not whole-sized only when a body is found in its room
    (:func:`~kypho.anatomy.engine.missing_levels.uneven_steps`). Each room is searched
    once, here, before the count; :func:`lost_bodies` takes the bodies of the levels the
    count then skips.

    Parameters
    ----------
    vertebrae : list of Node
        The column's presacral cores, cranial to caudal.
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid.
    filled : (X, Y, Z) ndarray of bool
        Filled bone, discs found removed.
    spacing_mm : tuple of 3 float
        Coarse voxel size.

    Returns
    -------
    missing : list of int
        Ascending; ``k`` once per vertebra lost after core ``k``.
    rooms : dict of int to (X, Y, Z) ndarray of bool
        The body in the room of step ``k``, for the steps that lost one vertebra and hold
        one.
    """
    sp = np.asarray(spacing_mm, dtype=float)
    by_length = missing_after(vertebrae)
    uneven = uneven_steps(vertebrae)
    rooms = {}
    for k in sorted({k for k in by_length if by_length.count(k) == 1} | set(uneven)):
        slab = _slab(filled, cores, vertebrae[k], vertebrae[k + 1], sp)
        if slab is not None:
            rooms[k] = slab
    return sorted(by_length + [k for k in uneven if k in rooms]), rooms


def lost_bodies(
    levels: list[Level | None],
    missing: list[int],
    rooms: dict[int, np.ndarray],
    spacing_mm: tuple[float, float, float],
) -> list[LostBody]:
    """The bodies of the vertebrae the count lost, where one was lost in a step.

    Parameters
    ----------
    levels : list of Level or None
        The cores' names, as the count gave them (a lost vertebra's level is skipped).
    missing : list of int
        Steps with a lost vertebra (:func:`lost_steps`): ``k`` for each vertebra lost
        after core ``k``.
    rooms : dict of int to ndarray of bool
        The body found in the room of each step (:func:`lost_steps`).
    spacing_mm : tuple of 3 float
        Coarse voxel size.

    Returns
    -------
    list of LostBody
        Cranial to caudal; only for steps where the count skipped exactly one level.
    """
    out = []
    for k in sorted(set(missing)):
        lost = _lost_level(levels[k], levels[k + 1])
        if missing.count(k) != 1 or lost is None or k not in rooms:
            continue
        z = np.flatnonzero(rooms[k].any(axis=(0, 1)))
        height = float((z.max() - z.min() + 1) * spacing_mm[2])
        out.append(LostBody(lost, levels[k], rooms[k], height))  # type: ignore[arg-type]
    return out


def with_lost_bodies(
    cores: np.ndarray,
    found: list[LostBody],
    names: list[Level],
    evidence: list[str],
    core_to_id: dict[int, int],
) -> tuple[np.ndarray, list[str]]:
    """The core labels with each lost level's body as its core, and a warning for each.

    ``names`` and ``evidence`` (cranial to caudal) get the lost level after the one it
    was lost below, ``core_to_id`` its core's label; they are extended in place.
    """
    cores = cores.copy()
    warnings = []
    for body in found:
        if body.level in names or body.after not in names:
            continue  # a count that names the level already keeps its own core
        label = int(cores.max()) + 1
        cores[body.mask] = label
        core_to_id[label] = int(body.level)
        at = names.index(body.after) + 1
        said = (
            f"bone {body.height_mm:.0f} mm tall with no core of its own lies in the room "
            f"of the vertebra counted as lost below {body.after.display}, and was taken "
            f"as {body.level.display}'s body (crushed, or too thin-walled for a core?)"
        )
        names.insert(at, body.level)
        evidence.insert(at, said)
        warnings.append(said)
    return cores, warnings
