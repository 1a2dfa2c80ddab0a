"""Patient variation of a family phantom: tissue HU, body sizes, degeneration, metal, table.

A :class:`Variation` is drawn by :mod:`kypho.phantom.family` and handed to
:func:`kypho.phantom.generate`; without one the fixed suite phantoms render unchanged.
Shape changes (body size, concavity, disc height) act on the column, so the truth
follows them exactly. What this module paints itself is unlabelled in the truth maps
(osteophytes, DISH bridges, table, arms, screws outside the vertebra), as a reference
annotation of the vertebral body would leave it; Schmorl's nodes and screws inside a
vertebra keep that vertebra's label.

HU values: contrast phases and tissue ranges are typical CT attenuations (DOMAIN.md
gives none; arterial aorta 250-450 HU and portal venous organ enhancement as in the
issue); osteophytes, DISH bone and calcified plaques are cortical-like; pedicle screws
(titanium) are beyond 3000 HU; PMMA cement 1000-2500 HU after kyphoplasty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kypho.anatomy.levels import Level
from kypho.phantom.body_outline import Trunk
from kypho.phantom.config import PhantomConfig
from kypho.phantom.geometry import Column
from kypho.phantom.raster import Grid, paint
from kypho.phantom.shapes import ellipsoid, elliptic_capsule, slab
from kypho.phantom.vertebra import VertebraModel

__all__ = ["Variation"]

Array = np.ndarray
_EX = np.array([1.0, 0.0, 0.0])
Sdf = Callable[[Array, Array, Array], Array]


def _paint_world(grid: Grid, img: Array, fn: Sdf, lo: Array, hi: Array, hu: float) -> int:
    """Paint a world-space SDF within its box; returns the voxels whose centre is inside."""
    box = grid.box(np.asarray(lo, float), np.asarray(hi, float))
    if box is None:
        return 0
    n = 0
    for ch in grid.chunks(box):
        x, y, z = grid.world(ch)
        shape = img[ch].shape
        sdf = np.broadcast_to(fn(x, y, z), shape).astype(np.float32)
        paint(img, ch, sdf, hu, grid.margin)
        n += int((sdf < 0).sum())
    return n


def _paint_local(
    grid: Grid, img: Array, v: VertebraModel, fn: Sdf, lo: Array, hi: Array, hu: float
) -> int:
    """Paint an SDF given in vertebra `v`'s local frame over its local box [lo, hi]."""
    corners = np.array(np.meshgrid(*zip(lo, hi, strict=True))).reshape(3, -1).T
    pts = v.pose.to_world(corners)

    def world_fn(x: Array, y: Array, z: Array) -> Array:
        return fn(*v.pose.to_local_xyz(x, y, z))

    return _paint_world(grid, img, world_fn, pts.min(axis=0) - 1.0, pts.max(axis=0) + 1.0, hu)


@dataclass(frozen=True)
class Variation:
    """What makes one family phantom a different patient (mm, HU, degrees).

    Disc entries name the level *above* the disc (``"L4"`` is the L4/L5 disc).
    """

    tissue_hu: dict[str, float] = field(default_factory=dict)
    cortex_hu_offset: float = 0.0
    cortex_mm: float = 1.0
    endplate_mm: float = 1.3
    cement_hu: float = 2300.0
    body_scale: dict[Level, tuple[float, float, float]] = field(default_factory=dict)
    concavity_scale: float = 1.0
    disc_scale: dict[Level, float] = field(default_factory=dict)
    fov_pad_mm: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0))
    heart: bool = True
    aorta_plaques: int = 0
    plaque_hu: float = 900.0
    vacuum_discs: tuple[Level, ...] = ()
    calcified_discs: tuple[Level, ...] = ()
    calcified_disc_hu: float = 500.0
    osteophytes: tuple[Level, ...] = ()
    bridges: tuple[Level, ...] = ()
    schmorl: tuple[tuple[Level, int], ...] = ()  # (level, +1 superior / -1 inferior)
    screws: tuple[Level, ...] = ()
    screw_hu: float = 3500.0
    table: bool = False
    arms: bool = False
    sacralised_l5: bool = False
    seed: int = 0

    # -- soft tissue ------------------------------------------------------------------
    def paint_soft(
        self,
        cfg: PhantomConfig,
        column: Column,
        trunk: Trunk,
        grid: Grid,
        img: Array,
        hu: dict[str, float],
    ) -> None:
        """Heart blood pool, aortic plaques, arms and table (before the bones)."""
        rng = np.random.default_rng(self.seed)
        t8 = column.get(Level.T8).pose.origin
        if self.heart:
            c = np.array([t8[0] - 25.0, t8[1] + 72.0, t8[2] - 25.0])
            r = np.array([44.0, 34.0, 44.0])
            _paint_world(
                grid,
                img,
                lambda x, y, z: ellipsoid(x - c[0], y - c[1], z - c[2], *r),
                c - r,
                c + r,
                hu.get("heart", hu["blood"]),
            )
        if self.aorta_plaques:
            self._paint_plaques(column, grid, img, rng)
        zs = np.array([float(grid.affine[2, 3]), float((grid.affine @ [*grid.shape, 1])[2])])
        zlo, zhi = float(zs.min()) - 10.0, float(zs.max()) + 10.0
        zz = np.linspace(zlo, zhi, 40)
        sx, _, cx, cy, a, b = trunk.at(zz)
        if self.arms:
            self._paint_arms(
                grid, img, hu, float(np.median(cx)), float(np.median(cy)), float(a.max()), zlo, zhi
            )
        if self.table:
            y_top = float(np.min(cy - b)) - 2.0
            self._paint_table(grid, img, float(np.median(sx)), y_top, zlo, zhi)

    def _paint_plaques(
        self, column: Column, grid: Grid, img: Array, rng: np.random.Generator
    ) -> None:
        # The aorta path and radius as render._paint_soft_tissue draws it.
        thor = [Level(v) for v in range(Level.T4, Level.L4 + 1)]
        pts = np.array(
            [
                column.get(lv).pose.to_world(
                    np.array([-0.32 * column.get(lv).width, 0.5 * column.get(lv).depth + 14.0, 0.0])
                )
                for lv in thor
            ]
        )
        rad = np.linspace(12.5, 10.0, len(pts))
        for _ in range(self.aorta_plaques):
            i = int(rng.integers(len(pts) - 1))
            t = float(rng.random())
            p = (1 - t) * pts[i] + t * pts[i + 1]
            ang = float(rng.uniform(0, 2 * np.pi))
            r = (1 - t) * rad[i] + t * rad[i + 1] - 0.8
            c = p + r * np.array([np.cos(ang), np.sin(ang), 0.0])
            ax = rng.uniform([1.0, 1.0, 2.0], [2.2, 2.2, 6.0])
            _paint_world(
                grid,
                img,
                lambda x, y, z, c=c, ax=ax: ellipsoid(x - c[0], y - c[1], z - c[2], *ax),
                c - ax,
                c + ax,
                self.plaque_hu,
            )

    def _paint_arms(
        self,
        grid: Grid,
        img: Array,
        hu: dict[str, float],
        cx: float,
        cy: float,
        a_max: float,
        zlo: float,
        zhi: float,
    ) -> None:
        for s in (-1.0, 1.0):
            ax = cx + s * (a_max + 48.0)
            for r, tissue in ((42.0, hu["fat"]), (37.0, hu["muscle"])):
                _paint_world(
                    grid,
                    img,
                    lambda x, y, z, ax=ax, r=r: np.maximum(
                        np.hypot(x - ax, y - cy) - r, slab(z, zlo, zhi)
                    ),
                    np.array([ax - r, cy - r, zlo]),
                    np.array([ax + r, cy + r, zhi]),
                    tissue,
                )
            for r, bone in ((11.0, 1100.0 + self.cortex_hu_offset), (8.0, 60.0)):
                _paint_world(
                    grid,
                    img,
                    lambda x, y, z, ax=ax, r=r: np.maximum(
                        np.hypot(x - ax, y - cy + 4.0) - r, slab(z, zlo, zhi)
                    ),
                    np.array([ax - r, cy - r - 4, zlo]),
                    np.array([ax + r, cy + r, zhi]),
                    bone,
                )

    def _paint_table(
        self, grid: Grid, img: Array, cx: float, y_top: float, zlo: float, zhi: float
    ) -> None:
        # A curved carbon-fibre shell with a foam core under a thin mattress.
        def layer(d0: float, d1: float) -> Sdf:
            def fn(x: Array, y: Array, z: Array) -> Array:
                depth = y_top - y + 3e-4 * (x - cx) ** 2  # mm below the table top
                return np.maximum(
                    np.maximum(slab(depth, d0, d1), np.abs(x - cx) - 230.0), slab(z, zlo, zhi)
                )

            return fn

        for d0, d1, h in (
            (0.0, 8.0, -300.0),
            (8.0, 10.0, 350.0),
            (10.0, 26.0, -880.0),
            (26.0, 28.0, 350.0),
        ):
            _paint_world(
                grid,
                img,
                layer(d0, d1),
                np.array([cx - 232, y_top - 40, zlo]),
                np.array([cx + 232, y_top + 1, zhi]),
                h,
            )

    # -- discs --------------------------------------------------------------------------
    def paint_discs(self, cfg: PhantomConfig, column: Column, grid: Grid, img: Array) -> None:
        """Vacuum (gas) and calcified discs, inside the disc painted just before."""
        for lv, hu, scale in [(lv, -900.0, (0.3, 0.22, 0.3)) for lv in self.vacuum_discs] + [
            (lv, self.calcified_disc_hu, (0.22, 0.2, 0.3)) for lv in self.calcified_discs
        ]:
            if lv not in cfg.levels:
                continue
            v = column.get(lv)
            zc = -0.5 * v.h_centre - 0.5 * v.disc_below_mm
            r = np.array(
                [scale[0] * v.width, scale[1] * v.depth, max(scale[2] * v.disc_below_mm, 0.8)]
            )
            c = np.array([0.0, 0.05 * v.depth, zc])
            _paint_local(
                grid,
                img,
                v,
                lambda x, y, z, c=c, r=r: ellipsoid(x - c[0], y - c[1], z - c[2], *r),
                c - r - 1,
                c + r + 1,
                hu,
            )

    # -- bone ---------------------------------------------------------------------------
    def paint_bone(
        self,
        cfg: PhantomConfig,
        column: Column,
        grid: Grid,
        img: Array,
        trab: float,
        cortex: float,
    ) -> None:
        """Osteophytes, DISH bridges, Schmorl's nodes, screws, sacralisation (after bone)."""
        levels = list(cfg.levels)
        nxt = dict(itertools.pairwise(levels))
        for lv in (lv for lv in self.osteophytes if lv in nxt):
            for v, side in ((column.get(lv), -1.0), (column.get(nxt[lv]), 1.0)):
                self._lip(grid, img, v, side, cortex)
        for lv in self.bridges:
            if lv in nxt:
                self._bridge(grid, img, column.get(lv), column.get(nxt[lv]), 0.85 * cortex)
        for lv, side in self.schmorl:
            if lv in levels:
                self._schmorl(grid, img, column.get(lv), side, cortex)
        self._screws(cfg, column, grid, img)
        if self.sacralised_l5 and cfg.has_sacrum and Level.L5 in levels:
            self._sacralise(column, grid, img, trab, cortex)

    def _lip(self, grid: Grid, img: Array, v: VertebraModel, side: float, hu: float) -> None:
        """A marginal osteophyte: an anterolateral lip at one endplate rim, outside the body."""
        z0 = side * 0.5 * v.h_centre
        r = np.array([0.42 * v.width, 4.5, 2.6])
        c = np.array([0.0, 0.5 * v.depth - 2.0, z0 + side * 0.8])

        def fn(x: Array, y: Array, z: Array) -> Array:
            return np.maximum(ellipsoid(x - c[0], y - c[1], z - c[2], *r), -v.body_sdf(x, y, z))

        _paint_local(grid, img, v, fn, c - r - 1, c + r + 1, hu)

    def _bridge(
        self, grid: Grid, img: Array, up: VertebraModel, low: VertebraModel, hu: float
    ) -> None:
        """A DISH-like flowing anterior (right-anterolateral) bony bridge over one disc."""
        p0 = up.pose.to_world(np.array([0.18 * up.width, 0.5 * up.depth + 2.5, 0.0]))
        p1 = low.pose.to_world(np.array([0.18 * low.width, 0.5 * low.depth + 2.5, 0.0]))
        ex = up.pose.rot @ _EX

        def fn(x: Array, y: Array, z: Array) -> Array:
            tube = elliptic_capsule(x, y, z, p0, p1, (6.0, 3.2), (6.0, 3.2), ex)
            out = np.maximum(tube, -up.body_sdf(*up.pose.to_local_xyz(x, y, z)))
            return np.maximum(out, -low.body_sdf(*low.pose.to_local_xyz(x, y, z)))

        lo = np.minimum(p0, p1) - 8.0
        hi = np.maximum(p0, p1) + 8.0
        _paint_world(grid, img, fn, lo, hi, hu)

    def _schmorl(self, grid: Grid, img: Array, v: VertebraModel, side: int, hu: float) -> None:
        """An endplate herniation: disc tissue in a sclerotic-rimmed pit of the endplate."""
        y0 = -0.05 * v.depth
        ze = side * float(v.z_sup(np.array(0.0), np.array(y0)))
        r = np.array([5.0, 5.0, 4.0])
        c = np.array([0.0, y0, ze - side * 2.0])
        disc_hu = 85.0
        for grow, h in ((1.3, hu), (0.0, disc_hu)):
            rr = r + grow

            def fn(x: Array, y: Array, z: Array, rr: Array = rr, grow: float = grow) -> Array:
                e = ellipsoid(x - c[0], y - c[1], z - c[2], *rr)
                # Inside the body only; the core opens onto the disc.
                return np.maximum(e, v.body_sdf(x, y, z)) if grow else e

            _paint_local(grid, img, v, fn, c - rr - 1, c + rr + 1, h)

    def _screws(self, cfg: PhantomConfig, column: Column, grid: Grid, img: Array) -> None:
        """Bilateral pedicle screws with tulip heads, joined by a rod on each side."""
        levels = [lv for lv in self.screws if lv in cfg.levels]
        for s in (-1, 1):
            heads = []
            for lv in levels:
                v = column.get(lv)
                c, u, back, front = v.pedicle_axis(s)
                p0 = v.pose.to_world(c - (back + 6.0) * u)
                p1 = v.pose.to_world(c + 0.85 * front * u)
                heads.append(v.pose.to_world(c - (back + 10.0) * u))
                ex = v.pose.rot @ _EX

                def fn(x: Array, y: Array, z: Array, p0=p0, p1=p1, ex=ex) -> Array:
                    return elliptic_capsule(x, y, z, p0, p1, (3.0, 3.0), (2.6, 2.6), ex)

                _paint_world(
                    grid, img, fn, np.minimum(p0, p1) - 4, np.maximum(p0, p1) + 4, self.screw_hu
                )
            for i, h in enumerate(heads):
                _paint_world(
                    grid,
                    img,
                    lambda x, y, z, h=h: ellipsoid(x - h[0], y - h[1], z - h[2], 6.0, 6.0, 6.0),
                    h - 7,
                    h + 7,
                    self.screw_hu,
                )
                if i:
                    a, b = heads[i - 1], h

                    def rod(x: Array, y: Array, z: Array, a=a, b=b) -> Array:
                        return elliptic_capsule(x, y, z, a, b, (2.75, 2.75), (2.75, 2.75), _EX)

                    _paint_world(
                        grid, img, rod, np.minimum(a, b) - 4, np.maximum(a, b) + 4, self.screw_hu
                    )

    def _sacralise(
        self, column: Column, grid: Grid, img: Array, trab: float, cortex: float
    ) -> None:
        """Sacralised L5: broad transverse processes fused to the sacral alae."""
        v = column.get(Level.L5)
        s1 = column.sacrum.s1
        for s in (-1.0, 1.0):
            p0 = v.pose.to_world(np.array([s * 0.5 * v.width + s * 2.0, -0.5 * v.depth, 0.0]))
            p1 = s1.to_world(np.array([s * 34.0, -4.0, 4.0]))
            ex = v.pose.rot @ _EX
            for inset, h in ((0.0, cortex), (1.3, trab + 40.0)):

                def fn(x: Array, y: Array, z: Array, p0=p0, p1=p1, ex=ex, i=inset) -> Array:
                    return elliptic_capsule(
                        x, y, z, p0, p1, (9.0 - i, 7.0 - i), (14.0 - i, 10.0 - i), ex
                    )

                _paint_world(grid, img, fn, np.minimum(p0, p1) - 15, np.maximum(p0, p1) + 15, h)
