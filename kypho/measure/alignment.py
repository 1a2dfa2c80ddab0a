"""Sagittal alignment: thoracic kyphosis (Cobb), lumbar lordosis, segmental kyphosis, SDI.

Angles are measured in the patient's sagittal plane (spanned by world SI and AP): each
endplate normal (pointing superiorly) is projected onto it and its tilt is
``atan2(n_A, n_S)``, positive when the normal leans anteriorly. The angle between an upper
and a lower endplate is ``tilt(upper) - tilt(lower)``: positive is kyphosis (the spine
convex posteriorly), negative lordosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level
from kypho.measure.endplate_planes import plane_normal
from kypho.measure.endplates import column_edges
from kypho.measure.sampling import sample_on_grid
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import GenantGrade, VertebraFrame

__all__ = [
    "COBB_RANGE",
    "LINE_OUTLIER_SD",
    "RIM_TILT_SD_DEG",
    "EndplateNormals",
    "cobb_angle",
    "combine_endplate_normals",
    "consistent_line_sd_deg",
    "endplate_line_normal",
    "line_tilt_sd_deg",
    "lumbar_lordosis",
    "sacral_endplate_normal",
    "sagittal_tilt_deg",
    "segmental_kyphosis",
    "spinal_deformity_index",
]

#: Levels between which thoracic kyphosis is measured (the usual T4-T12 Cobb range).
COBB_RANGE = (Level.T4, Level.T12)
#: Standard deviation (degrees) of an endplate tilt read from the plane through the whole
#: rim (:data:`kypho.measure.endplate_planes.RIM_RING_MM`): its ring reaches into the endplate's
#: concavity. Set from the benchmark phantoms at <= 1 mm voxels, where the slice grid
#: adds nothing: rim-plane tilts alone are off by 0.4 deg on average there (0.1 deg for
#: the two-point lines, which therefore keep ~90 % of the weight at fine voxels).
RIM_TILT_SD_DEG = 0.5
#: Disagreement (in combined standard deviations) between a rim line and an independent
#: rim plane beyond which the line is taken to be wrong (3 SD: 0.3 % false alarms).
LINE_OUTLIER_SD = 3.0


@dataclass(frozen=True)
class EndplateNormals:
    """Superior and inferior endplate normals of one vertebra (world RAS, unit)."""

    level: Level
    superior: np.ndarray
    inferior: np.ndarray


def endplate_line_normal(
    frame: VertebraFrame,
    ap_mm: tuple[float, float],
    si_mm: tuple[float, float],
    plane_normal: np.ndarray,
) -> np.ndarray:
    """Endplate normal whose sagittal tilt follows the line through two endplate points.

    A Cobb line is drawn along an endplate from its anterior to its posterior rim, not
    through a concave (or depressed) centre. Here the two points are the endplate at the
    Ha and Hp lines of the mid-sagittal slab (local AP ``ap_mm``, SI ``si_mm``), where
    the heights placed it to a few tenths of a mm even at thick slices; the lateral
    (coronal) lean is kept from the fitted endplate plane.

    Parameters
    ----------
    frame : VertebraFrame
    ap_mm, si_mm : (2,) float
        Local AP and SI coordinates of the anterior and posterior endplate points.
    plane_normal : (3,) ndarray
        World normal of the fitted endplate plane (pointing superiorly).

    Returns
    -------
    (3,) ndarray
        Unit world normal pointing superiorly.
    """
    rot = frame.rotation()
    n_plane = rot @ np.asarray(plane_normal, float)
    d_ap = float(ap_mm[0] - ap_mm[1])
    if abs(d_ap) < 1e-6 or n_plane[2] <= 0:
        return np.asarray(plane_normal, float)
    slope_ap = float(si_mm[0] - si_mm[1]) / d_ap  # d(si)/d(ap) along the endplate line
    slope_lr = -n_plane[0] / n_plane[2]
    n_local = np.array([-slope_lr, -slope_ap, 1.0])
    n = n_local @ rot
    return n / np.linalg.norm(n)


def combine_endplate_normals(
    line_normal: np.ndarray,
    line_sd_deg: float,
    rim_normal: np.ndarray | None,
    rim_sd_deg: float = RIM_TILT_SD_DEG,
) -> np.ndarray:
    """Inverse-variance mean of the rim-line normal and the rim-plane normal.

    The line through two rim points (:func:`endplate_line_normal`) is exact at fine
    voxels, but at thick slices each point is off by up to a fraction of a slice, the
    same for all its columns (they meet the slice grid at one phase), which a 24 mm
    baseline turns into degrees. A plane through the whole rim meets the slice grid at
    every phase, so that averages out, but it carries a shape error of its own
    (``rim_sd_deg``). Weighting each by its variance keeps the line at fine voxels and
    leans on the plane at thick slices.

    Parameters
    ----------
    line_normal, rim_normal : (3,) ndarray
        Unit world normals (pointing superiorly); ``rim_normal`` may be None.
    line_sd_deg, rim_sd_deg : float
        Their standard deviations (degrees).

    Returns
    -------
    (3,) ndarray
        Unit world normal.
    """
    line = np.asarray(line_normal, float)
    if rim_normal is None:
        return line
    rim = np.asarray(rim_normal, float)
    if np.dot(rim, line) < 0:
        rim = -rim
    w_line = 1.0 / max(line_sd_deg, 1e-3) ** 2  # 0 for an infinite SD: the rim alone
    w_rim = 1.0 / max(rim_sd_deg, 1e-3) ** 2
    n = w_line * line + w_rim * rim
    return n / np.linalg.norm(n)


def consistent_line_sd_deg(
    line_normal: np.ndarray,
    line_sd_deg: float,
    rim_normal: np.ndarray | None,
    rim_sd_deg: float = RIM_TILT_SD_DEG,
    n_sd: float = LINE_OUTLIER_SD,
) -> float:
    """The rim line's SD, or infinity when the line and an independent rim plane disagree
    by more than ``n_sd`` combined standard deviations.

    At thick slices the rim plane is fitted on CT edges found from the body's interior
    (:mod:`kypho.measure.thick_endplates`), independent of the mask, while the line's two
    points are read near the mask's endplate. A disagreement beyond their joint noise
    means the mask is wrong at a rim (the disc, or a corner, misassigned), which no
    weighting of the line can repair: the plane is then used alone.

    Parameters
    ----------
    line_normal, rim_normal : (3,) ndarray
        Unit world normals; ``rim_normal`` may be None (the line's SD is returned).
    line_sd_deg, rim_sd_deg : float
        Their standard deviations (degrees).
    n_sd : float
        Disagreement (in combined SDs) beyond which the line is dropped.

    Returns
    -------
    float
        ``line_sd_deg`` or ``inf``.
    """
    if rim_normal is None:
        return line_sd_deg
    d = abs(sagittal_tilt_deg(line_normal) - sagittal_tilt_deg(rim_normal))
    return float("inf") if d > n_sd * np.hypot(line_sd_deg, rim_sd_deg) else line_sd_deg


def line_tilt_sd_deg(point_sd_mm: float, baseline_mm: float) -> float:
    """SD (degrees) of the tilt of a line through two points each known to ``point_sd_mm``
    and ``baseline_mm`` apart."""
    return float(np.degrees(np.sqrt(2.0) * point_sd_mm / max(baseline_mm, 1.0)))


def sagittal_tilt_deg(normal: np.ndarray) -> float:
    """Tilt (degrees) of an endplate normal in the sagittal plane; anterior lean positive."""
    n = np.asarray(normal, float)
    if n[2] < 0:
        n = -n
    return float(np.degrees(np.arctan2(n[1], n[2])))


def _kyphosis(upper: np.ndarray, lower: np.ndarray) -> float:
    return sagittal_tilt_deg(upper) - sagittal_tilt_deg(lower)


def cobb_angle(
    normals: list[EndplateNormals],
) -> tuple[float | None, tuple[str, str] | None, str]:
    """Thoracic kyphosis: largest Cobb angle between endplates within T4-T12.

    The upper vertebra's superior endplate and the lower vertebra's inferior endplate are
    chosen among the measured thoracic levels so that the angle is largest (the most
    tilted vertebrae). When part of T4-T12 is outside the field of view, the angle is
    measured over what is visible and the note says so.

    Returns
    -------
    angle_deg : float or None
    levels : (str, str) or None
        Upper and lower vertebra.
    note : str
    """
    lo, hi = COBB_RANGE
    thor = sorted((n for n in normals if lo <= n.level <= hi), key=lambda n: int(n.level))
    if len(thor) < 2:
        return None, None, (
            "thoracic kyphosis not measured: fewer than two measurable T4-T12 vertebrae"
        )
    best, pair = -np.inf, (thor[0], thor[-1])
    for i, u in enumerate(thor):
        for low in thor[i + 1 :]:
            a = _kyphosis(u.superior, low.inferior)
            if a > best:
                best, pair = a, (u, low)
    span = f"{thor[0].level.display}-{thor[-1].level.display}"
    full = thor[0].level is lo and thor[-1].level is hi
    note = (
        f"Cobb angle between the most tilted endplates within T4-T12 "
        f"({pair[0].level.display} superior to {pair[1].level.display} inferior)"
    )
    if not full:
        note += f"; only {span} is measurable in the field of view, so it may underestimate"
    return float(best), (pair[0].level.display, pair[1].level.display), note


def lumbar_lordosis(
    normals: list[EndplateNormals], s1_normal: np.ndarray | None
) -> float | None:
    """Lumbar lordosis (degrees, positive = lordosis) from L1 superior to S1 superior."""
    l1 = next((n for n in normals if n.level is Level.L1), None)
    if l1 is None or s1_normal is None:
        return None
    return float(-_kyphosis(l1.superior, s1_normal))


def segmental_kyphosis(
    normals: list[EndplateNormals], fractured: list[Level]
) -> dict[str, float]:
    """Segmental kyphotic angle at each fractured level.

    Between the superior endplate of the level above and the inferior endplate of the
    level below; when a neighbour is not measured, that side uses the fractured
    vertebra's own endplate (the vertebral kyphotic angle, a smaller span).
    """
    by = {n.level: n for n in normals}
    out: dict[str, float] = {}
    for lv in fractured:
        if lv not in by:
            continue
        above = by.get(lv.above()) if lv.above() else None
        below = by.get(lv.below()) if lv.below() else None
        upper = above.superior if above is not None else by[lv].superior
        lower = below.inferior if below is not None else by[lv].inferior
        out[lv.display] = float(_kyphosis(upper, lower))
    return out


def spinal_deformity_index(grades: list[GenantGrade | None]) -> int:
    """Sum of Genant grades over the measured vertebrae (Genant's SDI)."""
    return int(sum(int(g) for g in grades if g is not None))


def sacral_endplate_normal(
    sacrum: VertebraCrop, l5_frame: VertebraFrame, l5_depth_mm: float
) -> np.ndarray | None:
    """Normal of the S1 superior endplate (world, unit), from the sacrum mask.

    The top surface of the sacrum is read on columns under the L5 body (within 12 mm of
    its mid-sagittal plane and the central 60 % of its depth, which excludes the alae and
    the sacral canal), then a plane is fitted robustly.
    """
    half = 0.3 * l5_depth_mm
    lr = np.arange(-12.0, 12.0 + 1e-9, 1.0)
    ap = np.arange(-half, half + 1e-9, 1.0)
    si = np.arange(-80.0, 0.0 + 1e-9, 0.5)
    m = sample_on_grid(sacrum.vertebra.astype(np.float32), sacrum.affine, l5_frame, lr, ap, si)
    _, top = column_edges(m.reshape(-1, len(si)), si)
    X, Y = np.meshgrid(lr, ap, indexing="ij")
    ok = np.isfinite(top)
    if ok.sum() < 20:
        return None
    local, _, _ = plane_normal(np.c_[X.ravel()[ok], Y.ravel()[ok], top[ok]])
    n = local @ l5_frame.rotation()
    return n / np.linalg.norm(n)
