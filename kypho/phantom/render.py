"""Paint a posed column and its trunk onto a voxel grid: HU image and label maps.

Structures are painted in order (outside in, soft tissue before bone), each in its own
bounding box, blended by anti-aliased occupancy (see :mod:`kypho.phantom.raster`).
Labels take the voxel centre: a voxel is a vertebra's when its centre is inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.phantom.body_outline import CONTRAST_HU, HU, Trunk, lungs_sdf, make_trunk, organs
from kypho.phantom.config import PhantomConfig
from kypho.phantom.geometry import Column
from kypho.phantom.pelvis_ribs import (
    ilium_bounds,
    ilium_sdf,
    rib_centrelines,
    sacrum_bounds,
    sacrum_sdf,
)
from kypho.phantom.raster import Grid, paint, union_on_grid
from kypho.phantom.shapes import elliptic_capsule
from kypho.phantom.vertebra import VertebraModel

if TYPE_CHECKING:
    from kypho.phantom.variation import Variation

__all__ = ["Rendered", "render"]

Array = np.ndarray
#: PMMA bone cement attenuation (HU): radiopaque cement is ~2000-3000 HU on CT.
CEMENT_HU = 2300.0
CORTEX_MM = 1.0
ENDPLATE_MM = 1.3  # endplates are a little thicker than the lateral cortex
_EREF = np.array([0.3, 0.5, 0.8])


@dataclass
class Rendered:
    hu: Array  # stored-order float32
    vertebrae: Array  # stored-order uint8
    bodies: Array
    trabecular_hu: dict[Level, float] = field(default_factory=dict)
    cortical_hu: float = 0.0


def _cortex_hu(trab: float) -> float:
    # Thin cortex is denser in dense bone; ~700 HU osteoporotic to ~1000 HU normal.
    return 450.0 + 2.5 * max(trab, 0.0)


def _texture(shape: tuple[int, ...], spacing: Array, rng: np.random.Generator, std: float) -> Array:
    """Zero-mean smooth random field (trabecular texture), std `std` HU."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    sig = np.maximum(0.7 / spacing, 0.3)
    noise = ndimage.gaussian_filter(noise, sig, mode="nearest")
    sd = float(noise.std())
    return noise * np.float32(std / sd) if sd > 0 else noise


def _tube(
    grid: Grid, image: Array, pts: Array, radii: Array, hu: float, inset: float = 0.0
) -> None:
    """Paint a polyline tube (circular, radius per vertex), segment by segment."""
    lo = pts.min(axis=0) - radii.max() - 2.0
    hi = pts.max(axis=0) + radii.max() + 2.0
    box = grid.box(lo, hi)
    if box is None:
        return
    prims = []
    for i in range(len(pts) - 1):
        r0, r1 = float(radii[i] - inset), float(radii[i + 1] - inset)
        p0, p1 = pts[i], pts[i + 1]
        prims.append(
            (
                lambda x, y, z, p0=p0, p1=p1, r0=r0, r1=r1: elliptic_capsule(
                    x, y, z, p0, p1, (r0, r0), (r1, r1), _EREF
                ),
                np.minimum(p0, p1) - max(r0, r1),
                np.maximum(p0, p1) + max(r0, r1),
            )
        )
    for ch in grid.chunks(box):
        sdf = union_on_grid(grid, ch, grid.world(ch), prims)
        paint(image, ch, sdf, hu, grid.margin)


def _chain_points(column: Column, levels: list[Level], local: Array) -> Array:
    return np.array([column.get(lv).pose.to_world(local(column.get(lv))) for lv in levels])


def render(
    cfg: PhantomConfig,
    column: Column,
    grid: Grid,
    rng: np.random.Generator,
    variation: Variation | None = None,
) -> Rendered:
    """Render `column` (rendered levels only) and its surroundings on `grid`.

    `variation` (family phantoms) changes tissue HU and cortex and adds what
    :mod:`kypho.phantom.variation` paints; None renders the fixed phantom unchanged.
    """
    var = variation
    img = np.full(grid.shape, HU["air"], np.float32)
    vert = np.zeros(grid.shape, np.uint8)
    body = np.zeros(grid.shape, np.uint8)
    trunk = make_trunk(column, straight=var is not None)
    hu = dict(HU)
    if cfg.contrast:
        hu.update(CONTRAST_HU)
    if var is not None:
        hu.update(var.tissue_hu)
    full = tuple(slice(0, n) for n in grid.shape)
    for ch in grid.chunks(full):
        x, y, z = grid.world(ch)
        paint(img, ch, trunk.sdf(x, y, z), hu["fat"])
        paint(img, ch, trunk.sdf(x, y, z, inset=14.0), hu["soft"])
    _paint_soft_tissue(cfg, column, trunk, grid, img, hu, rng)
    if var is not None:
        var.paint_soft(cfg, column, trunk, grid, img, hu)
    trab = {}
    base = float(cfg.trabecular_hu)
    for v in column.vertebrae:
        jitter = float(rng.uniform(-4.0, 4.0))  # per-level variation, recorded in truth
        if v.level not in cfg.levels:
            continue
        loss = 0.0 if cfg.fracture(v.level) is None else float(cfg.fracture(v.level).height_loss)
        # A compressed body is denser: impacted trabeculae (recorded in truth).
        trab[v.level] = (base + jitter) * (1.0 + 0.3 * loss)
    levels = list(cfg.levels)
    _paint_discs(cfg, column, grid, img, hu["disc"])
    cortex = _cortex_hu(base)
    shell = (CORTEX_MM, ENDPLATE_MM, CEMENT_HU)
    if var is not None:
        var.paint_discs(cfg, column, grid, img)
        cortex += var.cortex_hu_offset
        shell = (var.cortex_mm, var.endplate_mm, var.cement_hu)
    for v in column.vertebrae:
        if v.level in trab:
            _paint_vertebra(v, grid, img, vert, body, trab[v.level], cortex, rng, shell)
    if cfg.has_sacrum:
        _paint_pelvis(column, grid, img, vert, base, cortex)
    if cfg.ribs:
        for _lv, _s, pts, radii in rib_centrelines(column, trunk, cfg.rib_count_lowest):
            _tube(grid, img, pts, radii, cortex)
            _tube(grid, img, pts, radii, base + 30.0, inset=1.2)
    if var is not None:
        var.paint_bone(cfg, column, grid, img, base, cortex)
    del levels
    if cfg.blur_mm > 0:
        img = ndimage.gaussian_filter(img, cfg.blur_mm / grid.spacing, mode="nearest")
    if cfg.noise_hu > 0:
        noise = rng.standard_normal(grid.shape, dtype=np.float32)
        # CT noise is spatially correlated: smooth white noise, then restore its std.
        sig = np.maximum(0.5 / grid.spacing, 0.25)
        noise = ndimage.gaussian_filter(noise, sig, mode="wrap")
        noise *= np.float32(cfg.noise_hu / max(float(noise.std()), 1e-6))
        img += noise
    return Rendered(img, vert, body, trab, cortex)


def _paint_soft_tissue(
    cfg: PhantomConfig,
    column: Column,
    trunk: Trunk,
    grid: Grid,
    img: Array,
    hu: dict,
    rng: np.random.Generator,
) -> None:
    allv = [v.level for v in column.vertebrae]
    # Paraspinal muscles (with a fat plane) and psoas.
    for s in (-1.0, 1.0):

        def local(v: VertebraModel, s: float = s) -> Array:
            return np.array([s * 24.0, v.canal_centre_y - 24.0, 0.0])

        pts = _chain_points(column, allv, local)
        _tube(grid, img, pts, np.full(len(pts), 24.0), hu["fat"])
        _tube(grid, img, pts, np.full(len(pts), 21.0), hu["muscle"])
        lum = [Level.L1, Level.L2, Level.L3, Level.L4, Level.L5]

        def plocal(v: VertebraModel, s: float = s) -> Array:
            return np.array(
                [s * (0.5 * v.width + 4.0 + 3.0 * (v.level - Level.L1)), -0.1 * v.depth, 0.0]
            )

        pts = _chain_points(column, lum, plocal)
        _tube(grid, img, pts, np.linspace(8.0, 22.0, len(pts)), hu["muscle"])
    zlo = column.get(Level.T12).pose.origin[2] - 40.0
    zhi = column.get(Level.T1).pose.origin[2] + 40.0
    cx, cy, ca, cb = (float(t) for t in trunk.cage(np.array(column.get(Level.T8).pose.origin[2])))
    box = grid.box(
        np.array([cx - ca - 40, cy - cb - 40, zlo]), np.array([cx + ca + 40, cy + cb + 40, zhi])
    )
    if box is not None:
        for ch in grid.chunks(box):
            x, y, z = grid.world(ch)
            paint(img, ch, lungs_sdf(trunk, column, x, y, z), hu["lung"])
    for name, fn, lo, hi in organs(column, trunk, rng):
        box = grid.box(lo, hi)
        if box is None:
            continue
        for ch in grid.chunks(box):
            x, y, z = grid.world(ch)
            # Organs stay inside the abdominal wall.
            sdf = np.maximum(fn(x, y, z), trunk.sdf(x, y, z, inset=16.0))
            paint(img, ch, sdf, hu[name], grid.margin)
    # Aorta left-anterior of the bodies, bifurcating at L4; IVC right-anterior (lumbar).
    thor = [Level(v) for v in range(Level.T4, Level.L4 + 1)]
    pts = _chain_points(
        column, thor, lambda v: np.array([-0.32 * v.width, 0.5 * v.depth + 14.0, 0.0])
    )
    _tube(grid, img, pts, np.linspace(12.5, 10.0, len(pts)), hu["blood"])
    l4 = column.get(Level.L4).pose
    for s in (-1.0, 1.0):
        il = np.array(
            [
                l4.to_world(np.array([-8.0, 30.0, 0.0])),
                l4.to_world(np.array([s * 45.0, 35.0, -70.0])),
            ]
        )
        _tube(grid, img, il, np.array([7.0, 6.0]), hu["blood"])
    ivc = [Level(v) for v in range(Level.T12, Level.L5 + 1)]
    pts = _chain_points(
        column, ivc, lambda v: np.array([0.36 * v.width, 0.5 * v.depth + 13.0, 0.0])
    )
    _tube(grid, img, pts, np.full(len(pts), 10.0), hu.get("ivc", hu["blood"]))
    # Spinal canal: epidural fat, thecal sac (cord in the thoracic canal).
    pts = _chain_points(column, allv, lambda v: np.array([0.0, v.canal_centre_y, 0.0]))
    rad = np.array([0.5 * min(v.dims.canal_width_mm, v.dims.canal_ap_mm) for v in column.vertebrae])
    _tube(grid, img, pts, rad, hu["epidural_fat"])
    _tube(grid, img, pts, 0.78 * rad, hu["csf"])
    cord = [Level(v) for v in range(Level.T1, Level.L1 + 1)]
    pts = _chain_points(column, cord, lambda v: np.array([0.0, v.canal_centre_y, 0.0]))
    _tube(grid, img, pts, np.full(len(pts), 4.5), hu["cord"])


def _paint_discs(
    cfg: PhantomConfig, column: Column, grid: Grid, img: Array, disc_hu: float
) -> None:
    verts = column.vertebrae
    for i, up in enumerate(verts):
        if up.level not in cfg.levels:
            continue
        low = verts[i + 1] if i + 1 < len(verts) else None
        if low is not None and low.level not in cfg.levels:
            continue
        if low is None and not cfg.has_sacrum:
            continue
        lo_pose = column.sacrum.s1 if low is None else low.pose
        corners = (
            np.array(
                np.meshgrid(
                    [-0.6 * up.width, 0.6 * up.width],
                    [-0.7 * up.depth, 0.6 * up.depth],
                    [-0.5 * up.hp_mm - up.disc_below_mm - 12.0, -0.2 * up.hp_mm],
                )
            )
            .reshape(3, -1)
            .T
        )
        pts = up.pose.to_world(corners)
        box = grid.box(pts.min(axis=0), pts.max(axis=0))
        if box is None:
            continue
        for ch in grid.chunks(box):
            x, y, z = grid.world(ch)
            ux, uy, uz = up.pose.to_local_xyz(x, y, z)
            lx, ly, lz = lo_pose.to_local_xyz(x, y, z)
            zl_sup = 12.0 if low is None else low.z_sup(lx, ly)
            cross = up.body_sdf(ux, uy, np.zeros_like(uz), inset=-0.8)
            sdf = np.maximum(np.maximum(zl_sup - lz, uz + up.z_sup(ux, uy)), cross)
            paint(img, ch, sdf, disc_hu)


def _paint_vertebra(
    v: VertebraModel,
    grid: Grid,
    img: Array,
    vert: Array,
    body: Array,
    trab: float,
    cortex: float,
    rng: np.random.Generator,
    shell: tuple[float, float, float] = (CORTEX_MM, ENDPLATE_MM, CEMENT_HU),
) -> None:
    cortex_mm, endplate_mm, cement_hu = shell
    lo, hi = v.local_bounds()
    corners = np.array(np.meshgrid(*zip(lo, hi, strict=True))).reshape(3, -1).T
    pts = v.pose.to_world(corners)
    box = grid.box(pts.min(axis=0), pts.max(axis=0))
    if box is None:
        return
    lab = np.uint8(int(v.level))
    blo, bhi = v.body_bounds()
    fpm = grid.margin
    for ch in grid.chunks(box):
        x, y, z = grid.world(ch)
        loc = v.pose.to_local_xyz(x, y, z)

        def union(prims: list, loc=loc, ch=ch) -> Array:  # type: ignore[type-arg]
            return union_on_grid(grid, ch, loc, prims, v.pose.to_world)

        b_out = union([(v.body_sdf, blo, bhi)])
        outer = np.minimum(b_out, union(v.posterior_primitives()))
        paint(img, ch, outer, cortex, fpm)
        paint(img, ch, union(v.posterior_primitives(inset=1.3)), trab + 50.0, fpm)
        b_in = union(
            [(lambda a, b, c: v.body_sdf(a, b, c, inset=cortex_mm, inset_z=endplate_mm), blo, bhi)]
        )
        inside = b_in < grid.margin
        tex = (
            _texture(b_out.shape, grid.spacing, rng, std=max(8.0, 0.12 * trab))
            if inside.any()
            else 0.0
        )
        paint(img, ch, b_in, trab + tex, fpm)
        if v.cement:
            paint(img, ch, union([(v.cement_sdf, blo, bhi)]), cement_hu, fpm)
        vsub, bsub = vert[ch], body[ch]
        vsub[(outer < 0) & (vsub == 0)] = lab
        bsub[(b_out < 0) & (bsub == 0)] = lab


def _paint_pelvis(
    column: Column, grid: Grid, img: Array, vert: Array, trab: float, cortex: float
) -> None:
    sac = column.sacrum
    for fn, bounds, inner_hu, label in (
        (ilium_sdf, ilium_bounds(sac), trab + 40.0, 0),
        (sacrum_sdf, sacrum_bounds(sac), trab + 20.0, int(Level.S)),
    ):
        box = grid.box(*bounds)
        if box is None:
            continue
        for ch in grid.chunks(box):
            x, y, z = grid.world(ch)
            outer = fn(sac, x, y, z)
            paint(img, ch, outer, cortex)
            paint(img, ch, fn(sac, x, y, z, inset=1.3), inner_hu)
            if label:
                vsub = vert[ch]
                vsub[(outer < 0) & (vsub == 0)] = label
