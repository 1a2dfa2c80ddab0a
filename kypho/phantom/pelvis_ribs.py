"""Sacrum, iliac wings and ribs as world-space SDFs / tube centre lines.

The sacrum is five fused segments curving posteriorly with alae (lateral masses) and a
dorsal plate, around the sacral canal; each iliac wing is a curved plate (a shell of an
ellipsoid) beside the alae with a sacroiliac joint gap. Ribs are tubes from the
costovertebral joint past the transverse process, around the rib cage, sloping down
anteriorly; the lowest pair sits on ``rib_count_lowest`` (T12 normally).
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.levels import Level
from kypho.phantom.body_outline import Trunk
from kypho.phantom.geometry import Column, SacrumModel
from kypho.phantom.shapes import ellipse2, ellipsoid, elliptic_capsule, slab

__all__ = ["ilium_sdf", "rib_centrelines", "sacrum_bounds", "sacrum_sdf"]

Array = np.ndarray
_EX = np.array([1.0, 0.0, 0.0])


def _ala(sac: SacrumModel, x: Array, y: Array, z: Array, inset: float) -> Array:
    out = None
    for i, (cx, cy, cz, a, b, c) in enumerate(
        ((30.0, -3.0, -5.0, 27.0, 15.0, 20.0), (24.0, -5.0, -2.0, 20.0, 12.0, 14.0))
    ):
        lx, ly, lz = sac.poses[i].to_local_xyz(x, y, z)
        for s in (-1.0, 1.0):
            e = ellipsoid(lx - s * cx, ly - cy, lz - cz, a - inset, b - inset, c - inset)
            out = e if out is None else np.minimum(out, e)
    return out  # type: ignore[return-value]


def sacrum_sdf(sac: SacrumModel, x: Array, y: Array, z: Array, inset: float = 0.0) -> Array:
    """The sacrum (label 26): segment bodies, alae and dorsal plate minus the canal."""
    segs = sac.segments()
    out = _ala(sac, x, y, z, inset)
    for pose, (w, d, h) in zip(sac.poses, segs, strict=True):
        lx, ly, lz = pose.to_local_xyz(x, y, z)
        # Fused segments overlap by 2 mm so the sacrum is one bone.
        top = 0.5 * h if pose is sac.poses[0] else 0.5 * h + 2.0
        seg = np.maximum(
            ellipse2(lx, ly, 0.5 * w - inset, 0.5 * d - inset),
            slab(lz, -0.5 * h - 2.0 + inset, top - inset),
        )
        out = np.minimum(out, seg)
    p0 = sac.poses[0].to_world(np.array([0.0, -26.0, 4.0]))
    p1 = sac.poses[3].to_world(np.array([0.0, -14.0, 0.0]))
    dorsal = elliptic_capsule(
        x,
        y,
        z,
        p0,
        p1,
        (24.0 - inset, 7.0 - inset),
        (9.0 - inset, 5.0 - inset),
        sac.poses[0].rot @ _EX,
    )
    out = np.minimum(out, dorsal)
    c0 = sac.poses[0].to_world(np.array([0.0, -25.0, 14.0]))
    c1 = sac.poses[3].to_world(np.array([0.0, -13.0, 0.0]))
    canal = elliptic_capsule(
        x,
        y,
        z,
        c0,
        c1,
        (11.0 + inset, 6.0 + inset),
        (4.0 + inset, 3.0 + inset),
        sac.poses[0].rot @ _EX,
    )
    return np.maximum(out, -canal).astype(np.float32)


def sacrum_bounds(sac: SacrumModel) -> tuple[Array, Array]:
    pts = []
    for pose in sac.poses[:4]:
        for c in np.array(np.meshgrid([-62, 62], [-40, 25], [-22, 22])).reshape(3, -1).T:
            pts.append(pose.to_world(c))
    pts_a = np.array(pts)
    return pts_a.min(axis=0), pts_a.max(axis=0)


def ilium_sdf(sac: SacrumModel, x: Array, y: Array, z: Array, inset: float = 0.0) -> Array:
    """Both iliac wings: 7 mm curved plates, kept 2.5 mm from the sacral alae (SI joint)."""
    s1 = sac.poses[0]
    lx, ly, lz = s1.to_local_xyz(x, y, z)
    shell = np.abs(ellipsoid(lx, ly - 70.0, lz + 10.0, 110.0, 90.0, 85.0)) - (3.5 - inset)
    out = np.maximum(shell, -(np.abs(lx) - 40.0))
    out = np.maximum(out, ly - 55.0)
    out = np.maximum(out, slab(lz, -70.0, 38.0))
    out = np.maximum(out, 2.5 + inset - _ala(sac, x, y, z, 0.0))
    return out.astype(np.float32)


def ilium_bounds(sac: SacrumModel) -> tuple[Array, Array]:
    c = np.array(np.meshgrid([-116, 116], [-40, 60], [-72, 40])).reshape(3, -1).T
    pts = sac.poses[0].to_world(c)
    return pts.min(axis=0), pts.max(axis=0)


def rib_centrelines(
    column: Column, trunk: Trunk, lowest: Level
) -> list[tuple[Level, int, Array, Array]]:
    """Ribs as (level, side, points (n, 3) world mm, radii (n,) mm), side -1 = left."""
    ribs = []
    for v in column.vertebrae:
        if v.level > lowest or v.level > Level.L1:
            continue
        d = v.dims
        yc = v.canal_centre_y
        n_index = int(v.level) - int(Level.T1)
        radius = 4.0 if n_index < 6 else 4.6
        # Anterior end angle (rad from the posterior midline): true ribs reach the
        # front, false ribs less, floating ribs (T11, T12 or a lumbar rib) stop short.
        rel = int(lowest) - int(v.level)
        phi_end = 2.75 if n_index < 7 else 2.3
        if rel == 1:
            phi_end = 1.75
        elif rel == 0:
            phi_end = 1.25
        drop = 30.0 + 3.0 * min(n_index, 6)
        for s in (-1, 1):
            bx = 0.87 * 0.5 * v.width + radius + 1.5
            head = v.pose.to_world(np.array([s * bx, -0.4 * v.depth, 0.35 * v.hp_mm]))
            j = np.array(
                [
                    s * (0.5 * d.canal_width_mm + 0.8 * v.pedicle_width_mm),
                    yc - 0.1 * d.canal_ap_mm,
                    0.15 * v.hp_mm,
                ]
            )
            tdir = np.array([s * 0.8, -0.55, 0.2])
            tip = j + 20.0 * tdir / np.linalg.norm(tdir)
            tub = v.pose.to_world(tip + np.array([s * 2.0, 5.5 + radius, -1.5]))
            cx, cy, ca, cb = (float(t) for t in trunk.cage(np.array(tub[2])))
            sin0 = np.clip((abs(tub[0] - cx) + 14.0) / ca, 0.05, 0.95)
            phi0 = float(np.arcsin(sin0))
            phis = np.linspace(phi0, phi_end, 14)
            frac = (phis - phi0) / max(np.pi - phi0, 1e-6)
            shaft = np.stack(
                [cx + s * ca * np.sin(phis), cy - cb * np.cos(phis), tub[2] - drop * frac**1.2],
                axis=1,
            )
            pts = np.vstack([head, tub, shaft])
            radii = np.full(len(pts), radius)
            radii[0] = radius + 0.8  # the rib head is broader
            ribs.append((v.level, s, pts, radii))
    return ribs
