"""One phantom vertebra in its own frame: shape functions shared by renderer and truth.

Local frame (mm): x = patient right, y = anterior, z = superior; the origin is the body
centre (mid-height, middle of the mid-sagittal AP depth). The body occupies
``-D/2 <= y <= D/2`` in the mid-sagittal plane and ``z_inf(x, y) <= z <= z_sup(x, y)``
with ``z_sup = h(y)/2 - dep(x, y) = -z_inf``: the endplates are mirror images about the
local mid-plane, so the mean endplate normal is exactly the local z axis (DESIGN.md
"Vertebral body heights"). ``h(y)`` is linear in y (wedging) and ``dep`` is a central
endplate depression (normal concavity plus a biconcave fracture), zero at 10 % and
90 % of the AP depth, so Ha and Hp are exactly ``h`` there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level
from kypho.model import Heights, Morphotype
from kypho.phantom.anatomy import LevelDims
from kypho.phantom.shapes import Pose, ellipse2, ellipsoid, elliptic_capsule, slab

__all__ = ["SLAB_SAMPLES_MM", "Primitive", "VertebraModel"]

Array = np.ndarray
#: A shape part: (sdf function of local x, y, z; local box lo (3,); local box hi (3,)).
Primitive = tuple[Callable[[Array, Array, Array], Array], Array, Array]
_EX = np.array([1.0, 0.0, 0.0])

#: x positions of the ±3 mm mid-sagittal slab over which heights are a median (DESIGN.md).
SLAB_SAMPLES_MM = np.linspace(-3.0, 3.0, 61)


@dataclass
class VertebraModel:
    """Shape of one vertebra (mm) plus its pose in world RAS."""

    level: Level
    dims: LevelDims
    ha_mm: float  # actual anterior height (at 10 % depth)
    hp_mm: float  # actual posterior height (at 90 % depth)
    concavity_mm: float  # depth of each endplate's central depression at its centre
    expected: Heights  # pre-fracture Ha, Hm, Hp
    morphotype: Morphotype
    pedicle_width_mm: float
    pedicle_height_mm: float
    retropulsion_mm: float
    cement: bool
    disc_below_mm: float
    pose: Pose = None  # type: ignore[assignment]  # set by the column builder

    # -- body ---------------------------------------------------------------------------
    @property
    def width(self) -> float:
        return self.dims.width_mm

    @property
    def depth(self) -> float:
        return self.dims.depth_mm

    @property
    def h_centre(self) -> float:
        """h(0): the rim height at mid-depth, used to stack the column."""
        return 0.5 * (self.ha_mm + self.hp_mm)

    def h(self, y: Array) -> Array:
        """Height profile without the depression: Ha at y = 0.4 D, Hp at y = -0.4 D."""
        return self.h_centre + (self.ha_mm - self.hp_mm) * y / (0.8 * self.depth)

    def bowl(self, x: Array, y: Array) -> Array:
        """Unit central depression, 0 outside |x| < 0.35 W, |y| < 0.4 D."""
        rx, ry = 0.35 * self.width, 0.4 * self.depth
        return np.clip(1.0 - (x / rx) ** 2 - (y / ry) ** 2, 0.0, None)

    def z_sup(self, x: Array, y: Array) -> Array:
        return 0.5 * self.h(y) - self.concavity_mm * self.bowl(x, y)

    def height_at(self, x: Array, y: Array) -> Array:
        """Endplate-to-endplate distance along local z at (x, y)."""
        return 2.0 * self.z_sup(x, y)

    def heights(self) -> Heights:
        """Ha, Hm, Hp by the DESIGN.md definition (median over the ±3 mm slab)."""
        ys = (0.4 * self.depth, 0.0, -0.4 * self.depth)
        vals = [float(np.median(self.height_at(SLAB_SAMPLES_MM, y))) for y in ys]
        return Heights(anterior=vals[0], middle=vals[1], posterior=vals[2])

    def wedge_deg(self) -> float:
        """Kyphotic angle between the two endplate planes (positive: Ha < Hp)."""
        slope = (self.hp_mm - self.ha_mm) / (1.6 * self.depth)
        return float(np.degrees(2.0 * np.arctan(slope)))

    def body_sdf(
        self, x: Array, y: Array, z: Array, inset: float = 0.0, inset_z: float | None = None
    ) -> Array:
        """The vertebral body; `inset` shrinks it (cortex), `inset_z` the endplates only."""
        inset_z = inset if inset_z is None else inset_z
        d = self.depth
        # Lateral walls are waisted (narrowest at mid-height) like a real body; the
        # mid-sagittal AP outline, which the heights use, is unaffected.
        t = np.clip(z * (2.0 / self.h_centre), -1.0, 1.0)
        w2 = (0.5 * self.width) * (1.0 - 0.06 * (1.0 - t * t)) - inset
        b = 0.6 * d - inset
        yc = 0.5 * d - 0.6 * d  # ellipse centre: anterior apex at +D/2
        cross = np.maximum(ellipse2(x, y - yc, w2, b), -(y + 0.5 * d - inset))
        zs = self.z_sup(x, y) - inset_z
        body = np.maximum(cross, np.maximum(z - zs, -zs - z))
        if self.retropulsion_mm > 0:
            # A posterior wall fragment bulging into the canal (planning tests).
            bulge = ellipsoid(
                x,
                y + 0.5 * d,
                z,
                0.25 * self.width - inset,
                self.retropulsion_mm - inset,
                0.35 * self.h_centre - inset,
            )
            body = np.minimum(body, bulge)
        return body.astype(np.float32, copy=False)

    # -- posterior elements ---------------------------------------------------------------
    @property
    def canal_centre_y(self) -> float:
        return -0.5 * self.depth - 0.5 * self.dims.canal_ap_mm

    def pedicle_axis(self, side: int) -> tuple[Array, Array, float, float]:
        """Pedicle axis: (isthmus centre, unit direction towards anterior, back, front).

        `side` is +1 (right) or -1 (left); back/front are the distances (mm) from the
        isthmus centre to the posterior and anterior ends along the axis.
        """
        d = self.dims
        ang = np.deg2rad(d.pedicle_angle_deg)
        u = np.array([-side * np.sin(ang), np.cos(ang), 0.0])
        y0 = -0.5 * self.depth - 0.3 * d.canal_ap_mm
        x0 = side * (0.5 * d.canal_width_mm + 0.5 * self.pedicle_width_mm)
        z0 = 0.12 * self.hp_mm
        centre = np.array([x0, y0, z0])
        front = (y0 - (-0.5 * self.depth + 6.0)) / -np.cos(ang)
        back = 0.6 * d.canal_ap_mm + 2.0
        return centre, u, back, abs(front)

    def posterior_primitives(self, inset: float = 0.0) -> list[Primitive]:
        """Pedicles, laminae, spinous, transverse and articular processes.

        Each is ``(sdf(x, y, z), lo, hi)`` with its local bounding box, so callers
        evaluate it only where it can be inside.
        """
        d = self.dims
        cw, cap = d.canal_width_mm, d.canal_ap_mm
        yc = self.canal_centre_y
        hp = self.hp_mm
        prims: list[Primitive] = []

        def capsule(p0: Array, p1: Array, r0: tuple[float, float], r1: tuple[float, float]) -> None:
            r0 = (r0[0] - inset, r0[1] - inset)
            r1 = (r1[0] - inset, r1[1] - inset)
            rmax = max(*r0, *r1)
            lo = np.minimum(p0, p1) - rmax
            hi = np.maximum(p0, p1) + rmax
            prims.append((lambda x, y, z: elliptic_capsule(x, y, z, p0, p1, r0, r1, _EX), lo, hi))

        for s in (-1, 1):
            c, u, back, front = self.pedicle_axis(s)
            r = (0.5 * self.pedicle_width_mm, 0.5 * self.pedicle_height_mm)
            capsule(c - back * u, c + front * u, r, r)
        # Lamina: the posterior half of a ring around the canal.
        tl = 5.5 if d.is_lumbar else 4.5
        z_top, z_bot = 0.3 * hp, -0.45 * hp

        def lamina(x: Array, y: Array, z: Array) -> Array:
            ring = np.maximum(
                ellipse2(x, y - yc, 0.5 * cw + tl - inset, 0.5 * cap + tl - inset),
                -ellipse2(x, y - yc, 0.5 * cw + inset, 0.5 * cap + inset),
            )
            cut = np.maximum(y - (yc + 0.15 * cap) + inset, slab(z, z_bot + inset, z_top - inset))
            return np.maximum(ring, cut)

        prims.append(
            (
                lamina,
                np.array([-0.5 * cw - tl, yc - 0.5 * cap - tl, z_bot]),
                np.array([0.5 * cw + tl, yc + 0.15 * cap, z_top]),
            )
        )
        # Spinous process: horizontal in the lumbar spine, steeply caudal in the thorax.
        beta = 8.0 if d.is_lumbar else (28.0 if self.level >= Level.T11 else 40.0)
        length = 30.0 if d.is_lumbar else 34.0
        base = np.array([0.0, yc - 0.5 * cap - 0.5 * tl, -0.1 * hp])
        tip = base + length * np.array([0.0, -np.cos(np.deg2rad(beta)), -np.sin(np.deg2rad(beta))])
        rz0 = 0.32 * hp if d.is_lumbar else 0.25 * hp
        capsule(base, tip, (3.5, rz0), (3.0, 0.7 * rz0))
        for s in (-1, 1):
            # Transverse process from the pedicle-lamina junction.
            j = np.array([s * (0.5 * cw + 0.8 * self.pedicle_width_mm), yc - 0.1 * cap, 0.15 * hp])
            if d.is_lumbar:
                tp_len = {20: 18.0, 21: 22.0, 22: 26.0, 23: 22.0, 24: 19.0}[int(self.level)]
                tip_dir = np.array([s * 1.0, -0.1, 0.0])
                rad = (4.0, 3.0)
            else:
                tp_len = 20.0
                tip_dir = np.array([s * 0.8, -0.55, 0.2])
                rad = (5.0, 4.0)
            tip_dir = tip_dir / np.linalg.norm(tip_dir)
            capsule(j, j + tp_len * tip_dir, (rad[0], rad[0]), (rad[1], rad[1]))
            # Superior (lateral) and inferior (medial) articular processes: the gap
            # between them is the facet joint with the neighbouring vertebra.
            xs = s * (0.5 * cw + 0.5 * self.pedicle_width_mm + 3.5)
            xi = s * (0.5 * cw + 0.5 * self.pedicle_width_mm - 6.0)
            sap0 = np.array([xs, yc - 0.2 * cap, 0.3 * hp])
            sap1 = sap0 + np.array([0.0, -2.0, 0.2 * hp + 0.35 * self.disc_below_mm])
            iap0 = np.array([xi, yc - 0.45 * cap, -0.2 * hp])
            iap1 = iap0 + np.array([0.0, -2.0, -0.22 * hp - 0.3 * self.disc_below_mm])
            capsule(sap0, sap1, (3.0, 4.0), (3.0, 4.0))
            capsule(iap0, iap1, (3.0, 4.0), (3.0, 4.0))
        return prims

    def posterior_parts(self, x: Array, y: Array, z: Array, inset: float = 0.0) -> Array:
        """Union of the posterior primitives (simple reference evaluation)."""
        out = None
        for fn, _, _ in self.posterior_primitives(inset):
            v = fn(x, y, z)
            out = v if out is None else np.minimum(out, v)
        return out  # type: ignore[return-value]

    def cement_sdf(self, x: Array, y: Array, z: Array) -> Array:
        """Bilateral PMMA deposits (kyphoplasty cavities), inside the trabecular core."""
        w, d, hc = self.width, self.depth, self.h_centre
        blobs = np.minimum(
            ellipsoid(x - 0.2 * w, y - 0.05 * d, z, 0.2 * w, 0.28 * d, 0.3 * hc),
            ellipsoid(x + 0.2 * w, y - 0.05 * d, z, 0.2 * w, 0.28 * d, 0.3 * hc),
        )
        return np.maximum(blobs, self.body_sdf(x, y, z, inset=1.5))

    def local_bounds(self) -> tuple[Array, Array]:
        """(lo, hi) local box holding every part, with a 2 mm margin."""
        d = self.dims
        half_x = 0.5 * d.canal_width_mm + self.pedicle_width_mm + 32.0
        y_lo = self.canal_centre_y - 0.5 * d.canal_ap_mm - 45.0
        z_hi = 0.55 * self.hp_mm + 0.5 * self.disc_below_mm + 8.0
        z_lo = -0.8 * self.hp_mm - 0.8 * self.disc_below_mm - 25.0
        return (
            np.array([-half_x, y_lo, min(z_lo, -0.6 * self.hp_mm - 30.0)]),
            np.array([half_x, 0.5 * self.depth + 3.0, z_hi + 4.0]),
        )

    def body_bounds(self) -> tuple[Array, Array]:
        hmax = max(self.ha_mm, self.hp_mm) * 0.5 + 1.0
        return (
            np.array(
                [-0.5 * self.width - 1.0, -0.5 * self.depth - self.retropulsion_mm - 1.0, -hmax]
            ),
            np.array([0.5 * self.width + 1.0, 0.5 * self.depth + 1.0, hmax]),
        )
