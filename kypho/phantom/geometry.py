"""The spinal column as a kinematic chain from the sacrum upwards.

Each vertebra sits on the one below: half its own rim height, the disc, half the next
rim height, with sagittal rotations of half body wedge + disc angle + half body wedge
between them. Normal body wedging is level-specific (see ``anatomy``); the disc angles
are chosen so that the implied Cobb angles equal the configured kyphosis (T4 superior
to T12 inferior endplate) and lordosis (L1 superior to S1 superior endplate) before
fractures. A wedge fracture then adds its extra wedge to the chain: the column stays
continuous and the kyphosis increases, as in a patient. The truth is computed from the
resulting endplate normals, never from the intended angles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from kypho.anatomy.levels import Level
from kypho.model import Heights, Morphotype
from kypho.phantom.anatomy import disc_height_mm, level_dims
from kypho.phantom.config import PHANTOM_LEVELS, PhantomConfig
from kypho.phantom.shapes import Pose, rot_x, rot_y, rot_z
from kypho.phantom.vertebra import SLAB_SAMPLES_MM, VertebraModel

if TYPE_CHECKING:
    from kypho.phantom.variation import Variation

__all__ = ["Column", "SacrumModel", "build_column"]

#: Narrow pedicle isthmus for planning tests: below a ~3 mm kyphoplasty cannula.
NARROW_PEDICLE_MM = 2.8
#: Sacral segments S1..S5: (width, depth, height) in mm and kyphotic angle below each.
_SACRAL_SEGMENTS = [
    (50.0, 33.0, 24.0),
    (40.0, 27.0, 20.0),
    (32.0, 22.0, 17.0),
    (24.0, 17.0, 14.0),
    (18.0, 13.0, 11.0),
]
_SACRAL_CURVE_DEG = 12.0


@dataclass
class SacrumModel:
    """The sacrum as fused segments; `poses[i]` is the centre of segment S(i+1)."""

    poses: list[Pose]

    @property
    def s1(self) -> Pose:
        return self.poses[0]

    @staticmethod
    def segments() -> list[tuple[float, float, float]]:
        return list(_SACRAL_SEGMENTS)


@dataclass
class Column:
    """All vertebrae T1..L5 (cranial -> caudal), posed in world RAS, plus the sacrum."""

    vertebrae: list[VertebraModel]
    sacrum: SacrumModel

    def get(self, level: Level) -> VertebraModel:
        for v in self.vertebrae:
            if v.level is level:
                return v
        raise KeyError(level)


def _make_vertebra(cfg: PhantomConfig, level: Level, var: Variation | None = None) -> VertebraModel:
    d = level_dims(level)
    conc0 = 1.0 if d.is_lumbar else 0.7  # normal endplate concavity per side (mm)
    disc = disc_height_mm(level)
    if var is not None:
        # Family phantoms: this patient's own body size and disc state (variation.py).
        sw, sd, sh = var.body_scale.get(level, (1.0, 1.0, 1.0))
        d = replace(
            d,
            width_mm=sw * d.width_mm,
            depth_mm=sd * d.depth_mm,
            hp_mm=sh * d.hp_mm,
            ha_mm=sh * d.ha_mm,
        )
        conc0 *= var.concavity_scale
        disc *= var.disc_scale.get(level, 1.0)
    ha, hp, conc = d.ha_mm, d.hp_mm, conc0
    normal = VertebraModel(
        level,
        d,
        ha,
        hp,
        conc0,
        Heights(1.0, 1.0, 1.0),
        Morphotype.NONE,
        d.pedicle_width_mm,
        d.pedicle_height_mm,
        0.0,
        False,
        disc,
    )
    expected = normal.heights()
    morph = Morphotype.NONE
    frac = cfg.fracture(level)
    if frac is not None:
        loss = float(frac.height_loss)
        morph = Morphotype(frac.morphotype)
        if morph is Morphotype.WEDGE:
            ha = (1.0 - loss) * d.ha_mm
        elif morph is Morphotype.CRUSH:
            ha, hp, conc = (1.0 - loss) * ha, (1.0 - loss) * hp, (1.0 - loss) * conc0
        else:
            # Hm = h0 - 2 * conc * median(bowl on the slab): solve for the depression.
            bowl_med = float(np.median(normal.bowl(SLAB_SAMPLES_MM, 0.0)))
            conc = conc0 + loss * expected.middle / (2.0 * bowl_med)
    pw = NARROW_PEDICLE_MM if level in cfg.narrow_pedicles else d.pedicle_width_mm
    return VertebraModel(
        level,
        d,
        ha,
        hp,
        conc,
        expected,
        morph,
        pw,
        d.pedicle_height_mm,
        float(cfg.retropulsion_mm.get(level, 0.0)),
        level in cfg.cement_levels,
        disc,
    )


def _disc_angles(cfg: PhantomConfig, verts: dict[Level, VertebraModel]) -> dict[Level, float]:
    """Kyphotic angle (deg) of the disc below each level, from the *normal* wedges."""
    normal_wedge = {}
    for lv, v in verts.items():
        d = v.dims
        normal_wedge[lv] = float(
            np.degrees(2 * np.arctan((d.hp_mm - d.ha_mm) / (1.6 * d.depth_mm)))
        )
    angles = {lv: 3.0 for lv in PHANTOM_LEVELS}  # T1/T2..T3/T4: mild kyphosis
    thor = [Level(v) for v in range(Level.T4, Level.T12 + 1)]
    rest = cfg.kyphosis_deg - sum(normal_wedge[lv] for lv in thor)
    for lv in thor[:-1]:  # discs T4/T5 .. T11/T12
        angles[lv] = rest / (len(thor) - 1)
    angles[Level.T12] = 0.0  # thoracolumbar junction: straight
    lum = [Level(v) for v in range(Level.L1, Level.L5 + 1)]
    lordosis_rest = cfg.lordosis_deg + sum(normal_wedge[lv] for lv in lum)
    for lv, w in zip(lum, (0.1, 0.15, 0.2, 0.25, 0.3), strict=True):  # discs L1/L2 .. L5/S1
        angles[lv] = -lordosis_rest * w
    return angles


def _coronal_angles(cfg: PhantomConfig) -> dict[Level, float]:
    """Coronal tilt (deg) of the disc below each level: one C curve over the span."""
    levels = list(cfg.levels)
    out = {lv: 0.0 for lv in PHANTOM_LEVELS}
    if cfg.scoliosis_deg == 0.0 or len(levels) < 2:
        return out
    discs = levels[:-1]
    w = np.sin(np.linspace(0.15, np.pi - 0.15, len(discs)))
    w /= w.sum()
    for lv, wi in zip(discs, w, strict=True):
        out[lv] = cfg.scoliosis_deg * float(wi)
    return out


def build_column(cfg: PhantomConfig, variation: Variation | None = None) -> Column:
    """Pose T1..L5 and the sacrum; the rendered span is upright and centred on the trunk.

    `variation` (family phantoms only) changes body sizes, concavity and disc heights.
    """
    verts = {lv: _make_vertebra(cfg, lv, variation) for lv in PHANTOM_LEVELS}
    kyph = _disc_angles(cfg, verts)
    coronal = _coronal_angles(cfg)
    # Sacrum: S1 segment frame at the origin, then S2..S5 curving posteriorly/caudally.
    segs = _SACRAL_SEGMENTS
    sac = [Pose(np.eye(3), np.zeros(3))]
    for i in range(1, len(segs)):
        prev = sac[-1]
        mid = prev.compose(rot_x(_SACRAL_CURVE_DEG / 2), np.array([0, 0, -segs[i - 1][2] / 2]))
        sac.append(mid.compose(rot_x(_SACRAL_CURVE_DEG / 2), np.array([0, 0, -segs[i][2] / 2])))
    # Walk upward: S1 top -> L5 -> ... -> T1.
    below_top = sac[0].compose(None, np.array([0.0, 0.0, segs[0][2] / 2]))
    below_half_wedge = 0.0
    for lv in reversed(PHANTOM_LEVELS):
        v = verts[lv]
        k = kyph[lv]
        r = rot_x(-(below_half_wedge + k / 2)) @ rot_y(coronal[lv] / 2)
        mid = below_top.compose(r, None)
        r2 = rot_y(coronal[lv] / 2) @ rot_x(-(k / 2 + v.wedge_deg() / 2))
        centre = mid.compose(None, np.array([0.0, 0.0, v.disc_below_mm])).compose(r2, None)
        centre = centre.compose(None, np.array([0.0, 0.0, v.h_centre / 2]))
        v.pose = centre
        below_top = centre.compose(None, np.array([0.0, 0.0, v.h_centre / 2]))
        below_half_wedge = v.wedge_deg() / 2
    # Rigid placement: rendered span upright (lowest to highest body centre along +z),
    # centred at offset_mm; axial rotation applied per vertebra about its own z.
    rendered = [verts[lv] for lv in cfg.levels]
    lo, hi = rendered[-1].pose.origin, rendered[0].pose.origin
    if len(rendered) == 1:
        lo, hi = rendered[0].pose.to_world([0, 0, -1.0]), rendered[0].pose.to_world([0, 0, 1.0])
    g = _align(hi - lo)
    centre = np.mean([v.pose.origin for v in rendered], axis=0)
    shift = np.asarray(cfg.offset_mm) - g @ centre
    all_poses = [*sac, *(v.pose for v in verts.values())]
    for p in all_poses:
        p.origin = g @ p.origin + shift
        p.rot = g @ p.rot
    if cfg.axial_rotation_deg:
        n = len(rendered)
        prof = np.sin(np.linspace(0.0, np.pi, n + 2)[1:-1]) if n > 1 else np.ones(1)
        for v, a in zip(rendered, prof, strict=True):
            v.pose.rot = v.pose.rot @ rot_z(cfg.axial_rotation_deg * float(a))
    return Column([verts[lv] for lv in PHANTOM_LEVELS], SacrumModel(sac))


def _align(direction: np.ndarray) -> np.ndarray:
    """Rotation taking `direction` onto +z by a sagittal then a coronal tilt."""
    d = direction / np.linalg.norm(direction)
    ax = np.degrees(np.arctan2(d[1], d[2]))  # lean anterior: rotate back about x
    r1 = rot_x(ax)
    d1 = r1 @ d
    ay = np.degrees(np.arctan2(d1[0], d1[2]))
    return rot_y(-ay) @ r1
