"""Scan planning: the scanned z range and the image grid.

Named fields of view (end levels and where they are cut), slice spacing, and the in-plane
pixel size, matrix and grid origin (whole body or targeted to the spine).
"""

from __future__ import annotations

import numpy as np

from .rendering import Grid
from .vertebra import Vert

SLICE_CHOICES = (0.8, 1.0, 1.25, 2.0, 2.5, 3.0)

_FOVS = {"lumbar": ("T12", "S"), "thoracolumbar": ("T8", "S"), "thoracolumbar-mid": ("T6", "L3"),
         "chest": ("C7", "L1"), "chest-thoracic": ("T2", "T12"), "whole": ("C6", "S")}


def draw_fov(rng: np.random.Generator) -> dict:
    """Draw the z field of view (named end levels and where they are cut)."""
    kind = str(rng.choice(list(_FOVS), p=[0.3, 0.15, 0.1, 0.15, 0.1, 0.2]))
    top, bot = _FOVS[kind]
    return {"kind": kind, "top": top, "bot": bot, "ct": rng.uniform(-0.3, 0.4),
            "cb": rng.uniform(-0.3, 0.4), "sac": rng.uniform(30, 100),
            "dz": float(rng.choice(SLICE_CHOICES)) if rng.random() > 0.05 else 5.0}


def fov_z(fov: dict, verts: list[Vert], sp: dict) -> tuple[float, float]:
    """Scanner z range (bottom, top) of the field of view."""
    zc = {v.name: (float(v.t[2]), v.p["h0"]) for v in verts}
    z_top = zc[fov["top"]][0] + fov["ct"] * zc[fov["top"]][1]
    if fov["bot"] == "S":
        z_bot = float(sp["sac_t"][2]) - fov["sac"]
    else:
        z_bot = zc[fov["bot"]][0] - fov["cb"] * zc[fov["bot"]][1]
    return z_bot, z_top


def make_grid(rng: np.random.Generator, g: dict, fov: dict, zr: tuple[float, float],
               tm: dict, sp: dict) -> tuple[Grid, str]:
    """Choose pixel size, matrix, slice spacing and the grid origin."""
    ext = zr[1] - zr[0]
    dz = fov["dz"]
    if ext / dz > 400:
        dz = min(c for c in (*SLICE_CHOICES, 5.0) if ext / c <= 400)
    nz = int(np.floor(ext / dz)) + 1
    targeted = rng.random() < 0.25
    zmid = 0.5 * (zr[0] + zr[1])
    xo, yo, a, _ = tm["outline"](zmid)
    if targeted:
        px = np.ceil(rng.uniform(0.6, 0.8) * 128) / 128
        n = int(rng.choice([256, 320, 384, 512]))
        xs, ys, _, _ = tm["spine"](zmid)
        c = sp["to_scan"](np.array([xs, ys - 20.0, zmid]))
    else:
        px = np.ceil(min(1.0, max(rng.uniform(0.6, 1.0), (2 * a + 40) / 512)) * 128) / 128
        n = 512
        c = sp["to_scan"](np.array([xo, yo - rng.uniform(0, 25), zmid]))
        c[0] += rng.uniform(-10, 10)
    x0 = np.round((c[0] - (n - 1) / 2 * px) * 64) / 64
    y0 = np.round((c[1] - (n - 1) / 2 * px) * 64) / 64
    K = int(np.clip(np.ceil(dz / 0.6), 3, 9)) | 1
    gr = Grid(x0=float(x0), y0=float(y0), z0=float(np.round(zr[0] * 64) / 64), dx=float(px),
               dz=float(dz), nx=n, ny=n, nz=nz, K=K)
    return gr, "targeted" if targeted else "body"
