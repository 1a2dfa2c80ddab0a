"""Ground truth of a phantom, computed from the same shape functions the renderer uses.

Heights come analytically from the endplate functions (DESIGN.md definition: 10/50/90 %
of AP depth, median over the ±3 mm mid-sagittal slab); volumes and centroids by dense
sampling of the SDFs in each vertebra's own frame (0.35 mm for bodies and cement, 0.7 mm
for whole vertebrae), so they do not depend on the output grid or its orientation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kypho.anatomy.levels import Level
from kypho.model import GenantGrade, Heights, Morphotype, VertebraFrame
from kypho.model.layout import FRAME
from kypho.phantom.config import PhantomConfig
from kypho.phantom.geometry import Column
from kypho.phantom.vertebra import VertebraModel

__all__ = ["PhantomTruth", "VertebraTruth", "genant_grade_from_loss"]

_BODY_STEP_MM = 0.35
_WHOLE_STEP_MM = 0.7


def genant_grade_from_loss(reduction: float) -> GenantGrade:
    """Genant grade from the largest fractional height reduction (DOMAIN.md §1.1)."""
    if reduction < 0.20:
        return GenantGrade.NORMAL
    if reduction < 0.25:
        return GenantGrade.MILD
    if reduction <= 0.40:
        return GenantGrade.MODERATE
    return GenantGrade.SEVERE


def _heights(h: Heights) -> dict[str, float]:
    return {k: round(v, 4) for k, v in h.as_dict().items()}


def _r(v: Any, nd: int = 3) -> Any:
    if isinstance(v, dict):
        return {k: _r(x, nd) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [_r(x, nd) for x in v]
    if isinstance(v, float | np.floating):
        return round(float(v), nd)
    return v


@dataclass
class VertebraTruth:
    """Exact truth for one rendered vertebra (lengths mm, volumes mL, angles deg)."""

    level: Level
    label: int
    body_centroid_ras_mm: tuple[float, float, float]
    centroid_ras_mm: tuple[float, float, float]
    frame: VertebraFrame
    heights_mm: Heights
    expected_heights_mm: Heights
    height_loss: Heights
    genant_grade: GenantGrade
    morphotype: Morphotype
    trabecular_hu: float
    cortical_hu: float
    body_volume_ml: float  # of the body label on the output grid (voxel count x volume)
    body_volume_exact_ml: float  # of the continuous body
    vertebra_volume_exact_ml: float
    cement_volume_ml: float
    ap_depth_mm: float
    width_mm: float
    pedicle_isthmus_width_mm: dict[str, float]
    pedicle_isthmus_height_mm: dict[str, float]
    pedicle_axis: dict[str, dict[str, tuple[float, float, float]]]
    superior_endplate_normal: tuple[float, float, float]
    inferior_endplate_normal: tuple[float, float, float]
    wedge_angle_deg: float
    retropulsion_mm: float
    canal_ap_mm: float
    canal_width_mm: float
    fraction_in_fov: float

    @property
    def is_fractured(self) -> bool:
        return self.genant_grade >= GenantGrade.MILD

    def to_json(self) -> dict[str, Any]:
        return _r(
            {
                "level": self.level.display,
                "label": self.label,
                "body_centroid_ras_mm": list(self.body_centroid_ras_mm),
                "centroid_ras_mm": list(self.centroid_ras_mm),
                "frame": FRAME.encode(self.frame),
                "heights_mm": _heights(self.heights_mm),
                "expected_heights_mm": _heights(self.expected_heights_mm),
                "height_loss": _heights(self.height_loss),
                "genant_grade": int(self.genant_grade),
                "morphotype": self.morphotype.value,
                "trabecular_hu": self.trabecular_hu,
                "cortical_hu": self.cortical_hu,
                "body_volume_ml": self.body_volume_ml,
                "body_volume_exact_ml": self.body_volume_exact_ml,
                "vertebra_volume_exact_ml": self.vertebra_volume_exact_ml,
                "cement_volume_ml": self.cement_volume_ml,
                "ap_depth_mm": self.ap_depth_mm,
                "width_mm": self.width_mm,
                "pedicle_isthmus_width_mm": self.pedicle_isthmus_width_mm,
                "pedicle_isthmus_height_mm": self.pedicle_isthmus_height_mm,
                "pedicle_axis": self.pedicle_axis,
                "superior_endplate_normal": list(self.superior_endplate_normal),
                "inferior_endplate_normal": list(self.inferior_endplate_normal),
                "wedge_angle_deg": self.wedge_angle_deg,
                "retropulsion_mm": self.retropulsion_mm,
                "canal_ap_mm": self.canal_ap_mm,
                "canal_width_mm": self.canal_width_mm,
                "fraction_in_fov": self.fraction_in_fov,
            },
            4,
        )


@dataclass
class PhantomTruth:
    """Truth of a whole phantom; angles are kyphotic-positive sagittal Cobb angles."""

    vertebrae: list[VertebraTruth]
    cobb_thoracic_deg: float  # T4 superior to T12 inferior endplate (kyphosis)
    cobb_lumbar_deg: float  # L1 superior to S1 superior endplate (lordosis, positive)
    segmental_kyphosis_deg: dict[str, float]  # level -> above-superior to below-inferior
    cobb_coronal_deg: float
    config: PhantomConfig
    sacrum_present: bool
    sacrum_volume_exact_ml: float | None
    rib_levels: list[str]
    notes: list[str] = field(default_factory=list)

    def get(self, level: Level | str | int) -> VertebraTruth:
        lv = Level.parse(level)
        for v in self.vertebrae:
            if v.level is lv:
                return v
        raise KeyError(f"{lv.display} is not in this phantom")

    @property
    def levels(self) -> list[Level]:
        return [v.level for v in self.vertebrae]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "kypho.phantom.truth/1",
            "levels": [lv.display for lv in self.levels],
            "vertebrae": [v.to_json() for v in self.vertebrae],
            "cobb_thoracic_deg": round(self.cobb_thoracic_deg, 3),
            "cobb_lumbar_deg": round(self.cobb_lumbar_deg, 3),
            "segmental_kyphosis_deg": _r(self.segmental_kyphosis_deg, 3),
            "cobb_coronal_deg": round(self.cobb_coronal_deg, 3),
            "sacrum_present": self.sacrum_present,
            "sacrum_volume_exact_ml": None
            if self.sacrum_volume_exact_ml is None
            else round(self.sacrum_volume_exact_ml, 3),
            "rib_levels": list(self.rib_levels),
            "config": self.config.to_json(),
            "notes": list(self.notes),
        }


def _sample(lo: np.ndarray, hi: np.ndarray, step: float, fn) -> tuple[float, np.ndarray, int]:  # type: ignore[no-untyped-def]
    """Volume (mm3), centroid (local) and count of points where fn(x, y, z) < 0."""
    axes = [np.arange(a + step / 2, b, step, dtype=np.float32) for a, b in zip(lo, hi, strict=True)]
    total, moment = 0, np.zeros(3)
    x = axes[0][:, None, None]
    y = axes[1][None, :, None]
    per = max(1, 3_000_000 // (len(axes[0]) * len(axes[1])))
    for k0 in range(0, len(axes[2]), per):
        z = axes[2][None, None, k0 : k0 + per]
        inside = fn(x, y, z) < 0
        n = int(inside.sum())
        if n:
            idx = np.nonzero(inside)
            total += n
            moment += [axes[0][idx[0]].sum(), axes[1][idx[1]].sum(), axes[2][k0 + idx[2]].sum()]
    centroid = moment / max(total, 1)
    return total * step**3, centroid, total


def _sample_union(
    prims: list, lo: np.ndarray, hi: np.ndarray, step: float
) -> tuple[float, np.ndarray]:  # type: ignore[type-arg]
    """Volume (mm3) and centroid of a union of primitives, each sampled in its own box."""
    axes = [np.arange(a + step / 2, b, step, dtype=np.float32) for a, b in zip(lo, hi, strict=True)]
    inside = np.zeros([len(a) for a in axes], bool)
    for fn, plo, phi in prims:
        sl = []
        for ax, a, b in zip(axes, plo, phi, strict=True):
            i0, i1 = np.searchsorted(ax, a - step), np.searchsorted(ax, b + step)
            sl.append(slice(int(i0), int(i1)))
        if any(t.stop <= t.start for t in sl):
            continue
        x = axes[0][sl[0], None, None]
        y = axes[1][None, sl[1], None]
        z = axes[2][None, None, sl[2]]
        sub = inside[tuple(sl)]
        sub |= fn(x, y, z) < 0
    n = int(inside.sum())
    cen = np.array(
        [
            float((inside.sum(axis=(1, 2)) * axes[0]).sum()),
            float((inside.sum(axis=(0, 2)) * axes[1]).sum()),
            float((inside.sum(axis=(0, 1)) * axes[2]).sum()),
        ]
    ) / max(n, 1)
    return n * step**3, cen


def _normal(v: VertebraModel, superior: bool) -> np.ndarray:
    slope = (v.ha_mm - v.hp_mm) / (1.6 * v.depth)
    n = np.array([0.0, -slope if superior else slope, 1.0])
    return v.pose.rot @ (n / np.linalg.norm(n))


def _sagittal_deg(n: np.ndarray) -> float:
    """Tilt of an upward normal towards anterior in the world sagittal plane."""
    return float(np.degrees(np.arctan2(n[1], n[2])))


def vertebra_truth(
    v: VertebraModel,
    trab: float,
    cortex: float,
    body_voxels: int,
    voxel_ml: float,
    in_fov,  # type: ignore[no-untyped-def]
) -> VertebraTruth:
    """Truth for one vertebra; `in_fov(points (n, 3) world) -> bool (n,)`."""
    heights = v.heights()
    exp = v.expected
    loss = Heights(
        *(max(0.0, 1.0 - h / e) for h, e in zip(heights.as_array(), exp.as_array(), strict=True))
    )
    grade = genant_grade_from_loss(float(loss.as_array().max()))
    blo, bhi = v.body_bounds()
    bvol, bcen, _ = _sample(blo, bhi, _BODY_STEP_MM, v.body_sdf)
    cvol = 0.0
    if v.cement:
        cvol, _, _ = _sample(blo, bhi, _BODY_STEP_MM, v.cement_sdf)
    lo, hi = v.local_bounds()

    prims = [(v.body_sdf, blo, bhi), *v.posterior_primitives()]
    wvol, wcen = _sample_union(prims, lo, hi, _WHOLE_STEP_MM)
    # Fraction of the body inside the field of view (a cut vertebra cannot be measured).
    g = np.stack(np.meshgrid(*[np.linspace(a, b, 9) for a, b in zip(blo, bhi, strict=True)]), -1)
    g = g.reshape(-1, 3)
    g = g[v.body_sdf(g[:, 0], g[:, 1], g[:, 2]) < 0]
    frac = float(np.mean(in_fov(v.pose.to_world(g)))) if len(g) else 0.0
    axes = {}
    for name, side in (("left", -1), ("right", 1)):
        c, u, back, front = v.pedicle_axis(side)
        axes[name] = {
            "entry_ras_mm": tuple(v.pose.to_world(c - back * u)),
            "isthmus_ras_mm": tuple(v.pose.to_world(c)),
            "target_ras_mm": tuple(v.pose.to_world(c + front * u)),
            "direction": tuple(v.pose.rot @ u),
        }
    frame = VertebraFrame(tuple(v.pose.origin), tuple(v.pose.rot[:, 2]), tuple(v.pose.rot[:, 1]))
    d = v.dims
    return VertebraTruth(
        level=v.level,
        label=int(v.level),
        body_centroid_ras_mm=tuple(float(t) for t in v.pose.to_world(bcen)),  # type: ignore[arg-type]
        centroid_ras_mm=tuple(float(t) for t in v.pose.to_world(wcen)),  # type: ignore[arg-type]
        frame=frame,
        heights_mm=heights,
        expected_heights_mm=exp,
        height_loss=loss,
        genant_grade=grade,
        morphotype=v.morphotype if grade > 0 else Morphotype.NONE,
        trabecular_hu=float(trab),
        cortical_hu=float(cortex),
        body_volume_ml=body_voxels * voxel_ml,
        body_volume_exact_ml=bvol / 1000.0,
        vertebra_volume_exact_ml=wvol / 1000.0,
        cement_volume_ml=cvol / 1000.0,
        ap_depth_mm=float(v.depth),
        width_mm=float(v.width),
        pedicle_isthmus_width_mm={"left": v.pedicle_width_mm, "right": v.pedicle_width_mm},
        pedicle_isthmus_height_mm={"left": v.pedicle_height_mm, "right": v.pedicle_height_mm},
        pedicle_axis=axes,  # type: ignore[arg-type]
        superior_endplate_normal=tuple(_normal(v, True)),  # type: ignore[arg-type]
        inferior_endplate_normal=tuple(_normal(v, False)),  # type: ignore[arg-type]
        wedge_angle_deg=v.wedge_deg(),
        retropulsion_mm=v.retropulsion_mm,
        canal_ap_mm=float(d.canal_ap_mm - v.retropulsion_mm),
        canal_width_mm=float(d.canal_width_mm),
        fraction_in_fov=frac,
    )


def spine_angles(
    cfg: PhantomConfig, column: Column
) -> tuple[float, float, dict[str, float], float]:
    """(thoracic kyphosis T4-T12, lumbar lordosis L1-S1, segmental, coronal Cobb)."""
    sup = {v.level: _normal(v, True) for v in column.vertebrae}
    inf = {v.level: _normal(v, False) for v in column.vertebrae}
    s1 = column.sacrum.s1.rot[:, 2]
    kyph = _sagittal_deg(sup[Level.T4]) - _sagittal_deg(inf[Level.T12])
    lord = -(_sagittal_deg(sup[Level.L1]) - _sagittal_deg(s1))
    seg: dict[str, float] = {}
    for lv in cfg.levels:
        above, below = lv.above(), lv.below()
        if above is None or above not in sup:
            continue
        n_below = s1 if below is Level.S else inf[below]  # type: ignore[index]
        seg[lv.display] = _sagittal_deg(sup[above]) - _sagittal_deg(n_below)
    cor = [
        float(np.degrees(np.arctan2(n[0], n[2]))) for lv in cfg.levels for n in (sup[lv], inf[lv])
    ]
    coronal = float(max(cor) - min(cor)) if cor else 0.0
    return float(kyph), float(lord), seg, coronal
