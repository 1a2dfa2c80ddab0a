"""generate(config) -> Phantom: a synthetic spine CT with exact ground truth (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import affine_spacing
from kypho.imaging.volume import LabelMap, Volume
from kypho.phantom.body_outline import make_trunk
from kypho.phantom.config import PhantomConfig
from kypho.phantom.geometry import Column, build_column
from kypho.phantom.pelvis_ribs import sacrum_bounds, sacrum_sdf
from kypho.phantom.raster import Grid, make_grid
from kypho.phantom.render import render
from kypho.phantom.truth import PhantomTruth, _sample, spine_angles, vertebra_truth

if TYPE_CHECKING:
    from kypho.phantom.variation import Variation

__all__ = ["Phantom", "generate"]


@dataclass(eq=False)
class Phantom:
    """A generated phantom.

    ``volume``, ``vertebrae`` and ``bodies`` are canonical (RAS-closest) like every kypho
    image; ``stored_affine`` is the affine of the grid in ``config.orientation`` (what
    :func:`kypho.phantom.write_case` writes).
    """

    volume: Volume
    vertebrae: LabelMap
    bodies: LabelMap
    truth: PhantomTruth
    config: PhantomConfig
    stored_affine: np.ndarray


def _field_of_view(
    cfg: PhantomConfig, column: Column, pad_mm: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """World box [lo, hi] of the scan: trunk width, rendered levels plus margins.

    `pad_mm` ((3, 2): low and high side per axis) widens it before any crop, for what a
    family phantom adds outside the trunk (arms, table); family phantoms (`pad_mm` given)
    have a straight trunk (:func:`make_trunk`).
    """
    rendered = [column.get(lv) for lv in cfg.levels]
    top, bottom = rendered[0], rendered[-1]
    # Up to the tips of the top vertebra's superior articular processes.
    z_hi = top.pose.to_world(np.array([0.0, 0.0, 0.6 * top.hp_mm + 0.5 * top.disc_below_mm + 6.0]))[
        2
    ]
    if cfg.cut_top_half:
        z_hi = top.pose.origin[2]
    if cfg.has_sacrum:
        z_lo = column.sacrum.poses[2].origin[2] - 10.0
    else:
        z_lo = bottom.pose.to_world(np.array([0.0, 0.0, -0.5 * bottom.hp_mm - 4.0]))[2]
    trunk = make_trunk(column, straight=pad_mm is not None)
    zs = np.linspace(z_lo, z_hi, 50)
    _, _, cx, cy, a, b = trunk.at(zs)
    lo = np.array([float(np.min(cx - a)) - 6.0, float(np.min(cy - b)) - 6.0, z_lo])
    hi = np.array([float(np.max(cx + a)) + 6.0, float(np.max(cy + b)) + 6.0, z_hi])
    if pad_mm is not None:
        lo, hi = lo - pad_mm[:, 0], hi + pad_mm[:, 1]
    if cfg.fov_crop_mm is not None:
        box = np.asarray(cfg.fov_crop_mm, float)
        lo, hi = np.maximum(lo, box[:, 0]), np.minimum(hi, box[:, 1])
        if np.any(hi - lo < 5.0):
            from kypho.phantom.config import PhantomConfigError

            raise PhantomConfigError(
                f"fov_crop_mm {cfg.fov_crop_mm} leaves no field of view around the spine "
                f"(default field {lo.round(1).tolist()} .. {hi.round(1).tolist()})"
            )
    return lo, hi


def _in_fov(grid: Grid):  # type: ignore[no-untyped-def]
    inv = np.linalg.inv(grid.affine)
    n = np.asarray(grid.shape)

    def inside(pts: np.ndarray) -> np.ndarray:
        ijk = pts @ inv[:3, :3].T + inv[:3, 3]
        return np.all((ijk >= -0.5) & (ijk <= n - 0.5), axis=-1)

    return inside


def _sacrum_volume_ml(column: Column) -> float:
    """Exact volume (mL) of the sacrum's shape, sampled at 1 mm."""
    sac = column.sacrum
    blo, bhi = sacrum_bounds(sac)

    def sac_fn(x, y, z):  # type: ignore[no-untyped-def]
        return sacrum_sdf(sac, x, y, z)

    vol, _, _ = _sample(blo, bhi, 1.0, sac_fn)
    return vol / 1000.0


def generate(config: PhantomConfig, variation: Variation | None = None) -> Phantom:
    """Generate the phantom described by `config` (deterministic for ``config.seed``).

    Parameters
    ----------
    config : PhantomConfig
        What to build.
    variation : Variation, optional
        Patient variation of a family phantom (:mod:`kypho.phantom.family`); None, the
        default, renders exactly the fixed phantom of `config`.

    Returns
    -------
    Phantom
        Image (float32 HU), whole-vertebra and body label maps (uint8, VerSe labels;
        sacrum = 26 in ``vertebrae`` only) and the truth.

    Examples
    --------
    >>> from kypho.phantom import PhantomConfig, generate
    >>> ph = generate(PhantomConfig(top="L1", bottom="L2", spacing_mm=(2, 2, 2)))
    >>> [v.level.display for v in ph.truth.vertebrae]
    ['L1', 'L2']
    """
    rng = np.random.default_rng(config.seed)
    column = build_column(config, variation)
    pad = None if variation is None else np.asarray(variation.fov_pad_mm, float)
    lo, hi = _field_of_view(config, column, pad)
    grid = make_grid(lo, hi, config.spacing_mm, config.orientation, config.oblique_deg)
    out = render(config, column, grid, rng, variation)
    volume = Volume.from_array(out.hu, grid.affine, source="phantom", phantom_seed=config.seed)
    vert = LabelMap.from_array(out.vertebrae, grid.affine)
    bodies = LabelMap.from_array(out.bodies, grid.affine)
    voxel_ml = float(np.prod(affine_spacing(grid.affine))) / 1000.0
    counts = np.bincount(out.bodies.ravel(), minlength=256)
    in_fov = _in_fov(grid)
    truths = [
        vertebra_truth(
            column.get(lv),
            out.trabecular_hu[lv],
            out.cortical_hu,
            int(counts[int(lv)]),
            voxel_ml,
            in_fov,
        )
        for lv in config.levels
    ]
    kyph, lord, seg, coronal = spine_angles(config, column)
    sac_ml = _sacrum_volume_ml(column) if config.has_sacrum else None
    rib_levels = []
    if config.ribs:
        rib_levels = [
            Level(v).display
            for v in range(Level.T1, int(config.rib_count_lowest) + 1)
            if Level(v) in config.levels
        ]
    notes = [
        "heights: DESIGN.md definition (10/50/90 % of AP depth from the anterior cortex, "
        "median over +/-3 mm about the mid-sagittal plane), analytic",
        "angles: kyphotic positive except cobb_lumbar_deg (lordosis positive)",
        "sacrum is label 26 in vertebrae only; bodies holds presacral bodies",
    ]
    truth = PhantomTruth(
        vertebrae=truths,
        cobb_thoracic_deg=kyph,
        cobb_lumbar_deg=lord,
        segmental_kyphosis_deg=seg,
        cobb_coronal_deg=coronal,
        config=config,
        sacrum_present=config.has_sacrum,
        sacrum_volume_exact_ml=sac_ml,
        rib_levels=rib_levels,
        notes=notes,
    )
    return Phantom(volume, vert, bodies, truth, config, grid.affine)
