"""The trunk around the spine: outline, soft tissues, lungs, vessels, organs (world SDFs).

The trunk is an elliptic cylinder whose cross-section follows the spine: its centre
keeps the vertebral bodies a fixed distance from the back skin, its size changes from
chest to abdomen to pelvis. HU values are typical CT attenuations of each tissue
(fat about -100, muscle 40-60, lung about -850, blood about 40, contrast 250-350).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level
from kypho.phantom.geometry import Column
from kypho.phantom.shapes import ellipse2, ellipsoid, slab

__all__ = ["Trunk", "lungs_sdf", "make_trunk"]

Array = np.ndarray

#: Typical attenuation (HU) of the soft tissues painted.
HU = {
    "air": -1000.0,
    "fat": -100.0,
    "soft": 38.0,
    "muscle": 52.0,
    "lung": -850.0,
    "blood": 42.0,
    "liver": 58.0,
    "kidney": 32.0,
    "spleen": 46.0,
    "csf": 12.0,
    "cord": 34.0,
    "epidural_fat": -70.0,
    "disc": 85.0,
}
CONTRAST_HU = {"blood": 310.0, "ivc": 160.0, "liver": 110.0, "kidney": 190.0, "spleen": 120.0}


@dataclass
class Trunk:
    """Per-height trunk geometry, interpolated along world z."""

    z: Array  # anchor heights (ascending)
    spine_x: Array
    spine_y: Array
    a: Array  # lateral semi-axis
    b: Array  # AP semi-axis
    back: Array  # body-centre to posterior skin distance
    #: Lateral trunk centre when it does not follow the spine (scoliosis: the spine
    #: curves inside a straight trunk); None: centred on the spine.
    centre_x: Array | None = None

    def at(self, z: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
        """(spine_x, spine_y, centre_x, centre_y, a, b) at heights `z`."""
        # A 0.5 mm lookup table: np.interp on every voxel of a volume is slow.
        if not hasattr(self, "_table"):
            zt = np.arange(self.z[0] - 1.0, self.z[-1] + 1.0, 0.5)
            cols = [self.spine_x, self.spine_y, self.a, self.b, self.back]
            if self.centre_x is not None:
                cols.append(self.centre_x)
            self._table = (float(zt[0]), np.stack([np.interp(zt, self.z, c) for c in cols], 1))
        z0, tab = self._table
        idx = np.clip(((np.asarray(z) - z0) * 2.0 + 0.5).astype(np.int32), 0, len(tab) - 1)
        sx, sy, a, b, back = (tab[:, k].astype(np.float32)[idx] for k in range(5))
        cx = sx if self.centre_x is None else tab[:, 5].astype(np.float32)[idx]
        return sx, sy, cx, sy - back + b, a, b

    def sdf(self, x: Array, y: Array, z: Array, inset: float = 0.0) -> Array:
        _, _, cx, cy, a, b = self.at(z)
        r = np.sqrt(((x - cx) / (a - inset)) ** 2 + ((y - cy) / (b - inset)) ** 2)
        return ((r - 1.0) * (b - inset)).astype(np.float32)

    def cage(self, z: Array) -> tuple[Array, Array, Array, Array]:
        """Rib-cage ellipse (centre x, centre y, a, b): 40 mm behind the body centre."""
        _, sy, cx, cy, a, b = self.at(z)
        post = sy - 40.0
        ant = cy + b - 16.0
        return cx, 0.5 * (post + ant), a - 16.0, 0.5 * (ant - post)


def make_trunk(column: Column, straight: bool = False) -> Trunk:
    """Trunk anchored on every vertebra and sacral segment of the column.

    `straight` keeps the trunk's lateral centre on a straight line fitted to the spine
    (family phantoms: a scoliotic spine curves inside the trunk, not the trunk with it).
    """
    rows = []
    for v in column.vertebrae:
        o = v.pose.origin
        if v.level <= Level.T12:
            t = (v.level - Level.T1) / 11.0
            a, b, back = 118.0 + 22.0 * t, 92.0 + 18.0 * t, 70.0 + 5.0 * t
        else:
            t = (v.level - Level.L1) / 4.0
            a, b, back = 140.0 + 6.0 * t, 108.0 - 4.0 * t, 78.0 + 6.0 * t
        rows.append((o[2], o[0], o[1], a, b, back))
    s1 = column.sacrum.poses[0].origin
    # Below S1 the pelvis keeps the S1 trunk centre (the sacrum curves back inside it).
    for dz, a in ((0.0, 148.0), (-60.0, 150.0), (-200.0, 150.0)):
        rows.append((s1[2] + dz, s1[0], s1[1], a, 106.0, 86.0))
    top = column.vertebrae[0].pose.origin
    rows.append((top[2] + 80.0, top[0], top[1], 110.0, 88.0, 70.0))
    arr = np.array(sorted(rows))
    _, keep = np.unique(arr[:, 0], return_index=True)
    arr = arr[keep]
    centre_x = None
    if straight:
        centre_x = np.polyval(np.polyfit(arr[:, 0], arr[:, 1], 1), arr[:, 0])
    return Trunk(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5], centre_x)


def lungs_sdf(trunk: Trunk, column: Column, x: Array, y: Array, z: Array) -> Array:
    """Both lungs: inside the rib cage, outside mediastinum and heart, above the diaphragm."""
    cx, cy, ca, cb = trunk.cage(z)
    sx, sy, _, _, _, _ = trunk.at(z)
    inside = (
        (np.sqrt(((x - cx) / (ca - 10.0)) ** 2 + ((y - cy) / (cb - 8.0)) ** 2) - 1.0) * (cb - 8.0)
    ).astype(np.float32)
    # Mediastinum: narrow beside the spine, wider in front of it (vessels, heart).
    half = (30.0 + 10.0 * np.clip((y - sy - 10.0) / 30.0, 0.0, 1.0)).astype(np.float32)
    medi = half - np.abs(x - sx)
    t8 = column.get(Level.T8).pose.origin
    heart = ellipsoid(x - (t8[0] - 25.0), y - (t8[1] + 70.0), z - (t8[2] - 25.0), 62.0, 48.0, 60.0)
    z10, z12 = column.get(Level.T10).pose.origin[2], column.get(Level.T12).pose.origin[2]
    # Diaphragm: one dome per side, highest in front of centre (right dome higher),
    # lowest in the posterolateral recesses, which reach the T12 level.
    side = np.where(x > sx, 1.0, -1.0).astype(np.float32)
    rx = (x - (cx + side * 0.45 * ca)) / (0.75 * ca)
    ry = (y - (cy + 0.25 * cb)) / (1.05 * cb)
    dome = np.clip(1.0 - rx**2 - ry**2, 0.0, 1.0)
    z_dia = z12 - 12.0 + (z10 - z12 + 32.0) * dome + np.where(side > 0, 10.0, 0.0) * dome
    z_apex = column.get(Level.T1).pose.origin[2] + 25.0
    out = np.maximum(inside, medi)
    out = np.maximum(out, -heart)
    out = np.maximum(out, slab(z, z_dia, z_apex))
    return out.astype(np.float32)


Organ = tuple[str, Callable[[Array, Array, Array], Array], Array, Array]


def _ellipsoid_organ(name: str, c: Array, r: Array) -> Organ:
    c, r = np.asarray(c, float), np.asarray(r, float)
    return (
        name,
        lambda x, y, z: ellipsoid(x - c[0], y - c[1], z - c[2], *r),
        c - r,
        c + r,
    )


def organs(column: Column, trunk: Trunk, rng: np.random.Generator) -> list[Organ]:
    """Abdominal organs, fat and bowel gas as (tissue, sdf, world lo, world hi), in order.

    Bowel gas and mesenteric fat are random (from `rng`) in the anterior abdomen: real
    scans hold air and fat next to soft tissue, and methods must not mistake them.
    """
    l1, l2 = column.get(Level.L1), column.get(Level.L2)
    tz = column.get(Level.T12).pose.origin
    _, _, cx, cy, a, b = (float(v) for v in trunk.at(np.array(tz[2])))
    out: list[Organ] = []
    liver_c = np.array([cx + 0.42 * a, cy + 0.15 * b, tz[2] + 10.0])
    liver_r = np.array([0.5 * a, 0.7 * b, 85.0])
    spine = (tz[0], tz[1])
    out.append(
        (
            "liver",
            lambda x, y, z: np.maximum(
                ellipsoid(x - liver_c[0], y - liver_c[1], z - liver_c[2], *liver_r),
                -ellipse2(x - spine[0], y - spine[1], 45.0, 40.0),
            ),
            liver_c - liver_r,
            liver_c + liver_r,
        )
    )
    out.append(
        _ellipsoid_organ(
            "spleen",
            np.array([cx - 0.6 * a, cy - 0.15 * b, tz[2] + 15.0]),
            np.array([22.0, 45.0, 50.0]),
        )
    )
    kz = 0.5 * (l1.pose.origin + l2.pose.origin)
    for s in (-1.0, 1.0):
        kc = np.array(
            [kz[0] + s * (0.5 * l1.width + 48.0), kz[1] + 8.0, kz[2] + (10.0 if s < 0 else 0.0)]
        )
        out.append(_ellipsoid_organ("fat", kc, np.array([40.0, 33.0, 68.0])))  # perirenal fat
        out.append(_ellipsoid_organ("kidney", kc, np.array([27.0, 22.0, 52.0])))
    # Bowel: fat and gas pockets in front of the lumbar spine, below the liver.
    l3 = column.get(Level.L3).pose.origin
    _, _, bx, by, ba, bb = (float(v) for v in trunk.at(np.array(l3[2])))
    z_lo, z_hi = column.get(Level.L5).pose.origin[2], l1.pose.origin[2] + 10.0
    for name, n, rmin, rmax in (("fat", 10, 14.0, 28.0), ("air", 14, 5.0, 16.0)):
        for _ in range(n):
            ang = rng.uniform(0.15 * np.pi, 0.85 * np.pi)
            rad = rng.uniform(0.3, 0.8)
            c = np.array(
                [
                    bx + rad * 0.8 * ba * np.cos(ang),
                    by + rad * 0.85 * bb * np.sin(ang),
                    rng.uniform(z_lo, z_hi),
                ]
            )
            r = rng.uniform(rmin, rmax, 3)
            out.append(_ellipsoid_organ(name, c, r))
    return out
