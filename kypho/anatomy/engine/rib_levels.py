"""Which vertebra a rib belongs to, and which vertebrae show whether they bear one.

A rib's medial end (where it passes the transverse process, 35-50 mm to the side of
and behind the body axis) lies at the level of its own vertebra: its tubercle
articulates with that vertebra's transverse process, its head with that vertebra's body
(and, for ribs 2-9, the one above's; Gray's Anatomy, 42nd ed., thoracic wall). Where the
column is tilted in the image (a patient lying rolled, an oblique reconstruction,
thoracic kyphosis), that level is not the image's z: 12 degrees of roll put the two ribs
of one vertebra 17 mm apart in z (family s2-0036, whose right 12th rib went to L1 and
every level was named one too high). Ribs are therefore placed along the column's axis
in the coronal plane, fitted through the body centres. A front-back tilt (thoracic
kyphosis) also lifts a rib above its body, out of view at the image's top edge: a
vertebra cut by that edge shows its rib only when the rib's highest possible point
along the column's local tilt, in any direction, is inside the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kypho.anatomy.engine.column import Node, beside_in_sequence

__all__ = ["AXIS_HALF_SPAN", "RIB_OFFSET_MM", "SEEN_WHOLE_SHARE", "level_along_axis", "seen_whole"]

#: The column's local axis at a vertebra is the median direction of the steps between
#: consecutive centres this many levels either side.
AXIS_HALF_SPAN = 2
#: How far (mm) a rib's medial end lies from the body axis at most: it is searched within
#: RIB_MEDIAL_MM of it (:mod:`~kypho.anatomy.engine.ribs_sacrum`).
RIB_OFFSET_MM = 50.0
#: A body cut by the field of view is seen whole enough to lack a rib when its core
#: holds this share of its neighbours' core volume.
SEEN_WHOLE_SHARE = 0.7


def column_axes(vertebrae: Sequence[Node]) -> tuple[np.ndarray, np.ndarray]:
    """Each vertebra's centre and the column's local axis there (unit, pointing up z).

    The centre is the core's centroid across and the middle of its extent along z (the
    centre the rib search used in z before), so on an upright column the nearest centre
    along the axis is the nearest in z.

    Returns
    -------
    centres, axes : (N, 3) ndarray of float
        Coarse-array mm.
    """
    centres = _centres(vertebrae)
    if len(centres) < 2:
        return centres, np.tile([0.0, 0.0, 1.0], (len(centres), 1))
    steps = _unit(np.diff(centres, axis=0))
    # The same way up whichever order the centres come in.
    steps *= np.where(steps[:, 2:3] < 0, -1.0, 1.0)
    axes = np.empty_like(centres)
    span = 2 * AXIS_HALF_SPAN
    for i in range(len(centres)):  # vertebrae, tens
        # As many steps at the column's ends, taken inwards: a piece cut by the field of
        # view there (its centre not its body's) is one step of four, not one of two
        # (family s1-0019: a 2 mL stub below T12 made a 28 degree step).
        lo = min(max(i - AXIS_HALF_SPAN, 0), max(len(steps) - span, 0))
        # The median direction: a piece off the line turns one step, not the axis.
        axes[i] = np.median(steps[lo : lo + span], axis=0)
    return centres, _unit(axes)


def _centres(vertebrae: Sequence[Node]) -> np.ndarray:
    """(N, 3) core centroids across, the middle of each core's extent along z."""
    return np.array(
        [[n.centroid_mm[0], n.centroid_mm[1], 0.5 * (n.z_lo_mm + n.z_hi_mm)] for n in vertebrae],
        dtype=float,
    ).reshape(-1, 3)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def level_along_axis(vertebrae: Sequence[Node]) -> Callable[[np.ndarray], int]:
    """A function giving the vertebra a point beside the column belongs to: the one
    whose centre is nearest along the column's axis in the coronal plane.

    The axis is the line fitted through all body centres: a rolled patient or an oblique
    reconstruction tilts the whole column, ribs and all, by one angle. A scoliotic
    curve bends only the column: its ribs follow the trunk, and counting them along the
    curve's local axis moved ribs of scoliotic family chests by a level (s1-0019, T12's
    rib given to the stub of L1 below it; session 8's per-vertebra version lost s1-0019
    and s1-0052 the same way). Only the left-right tilt is undone: a rib's offset in
    front of or behind its body is no measure of its level (on the real chest CT, upper
    thoracic column 29 degrees from the image axis, undoing that tilt sent the first rib
    to T2 and rib pieces near the sternum to C6 and C7: 14 -> 0 of 14 named).
    """
    centres = _centres(vertebrae)
    axis = np.array([0.0, 0.0, 1.0])
    if len(centres) >= 3:
        xz = centres[:, [0, 2]] - centres[:, [0, 2]].mean(axis=0)
        direction = np.linalg.svd(xz, full_matrices=False)[2][0]
        axis = np.array([direction[0], 0.0, direction[1]]) * np.sign(direction[1] or 1.0)

    def level_of(point: np.ndarray) -> int:
        along = (np.asarray(point, dtype=float)[None, :] - centres) @ axis
        return int(np.argmin(np.abs(along)))

    return level_of


def seen_whole(vertebrae: Sequence[Node], z_extent_mm: float) -> list[bool]:
    """Per vertebra, whether enough of it is in view to tell that it bears no rib.

    A rib articulates with the upper part of its vertebra and runs down and out from
    there. A vertebra cut by the image's lower edge may keep its rib below the image,
    so it does not count as seen. One cut by the upper edge counts when its core holds
    at least SEEN_WHOLE_SHARE of its neighbours' (most of it, upper part included) and
    the column's tilt there cannot lift its rib out of view: RIB_OFFSET_MM from the
    axis, a rib rises by that times the sine of the tilt above the body's centre.
    """
    centres, axes = column_axes(vertebrae)
    vols = [n.volume_mm3 for n in vertebrae]
    out: list[bool] = []
    for i, n in enumerate(vertebrae):
        cut_below = n.z_lo_mm <= 0.0
        cut_above = n.z_hi_mm >= z_extent_mm - 1e-6
        near = beside_in_sequence(vols, i, 2)
        big = bool(near) and n.volume_mm3 >= SEEN_WHOLE_SHARE * float(np.median(near))
        rise = RIB_OFFSET_MM * float(np.sqrt(max(0.0, 1.0 - axes[i, 2] ** 2)))
        in_view = centres[i, 2] + rise <= z_extent_mm
        out.append(not cut_below and (not cut_above or (big and in_view)))
    return out
