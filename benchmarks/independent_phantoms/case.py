"""Case assembly: draw every parameter of one phantom and render it.

:func:`draw_case` draws from the case's own generator in a fixed order; that order is
what makes a case reproducible from ``(seed, index)``, so reordering draws changes every
case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from .field_of_view import draw_fov, fov_z, make_grid
from .fractures import apply_fracture, pick_fractures
from .ground_truth import _truth
from .imaging import image_formation, storage
from .pelvis import draw_sacrum, ilium_layers, sacrum_layers
from .rendering import Q3, Canvas, box_range, render_local
from .ribs import render_rib, rib_paths
from .shapes import F32
from .soft_tissue import setup_canvas
from .spine import build_spine
from .trunk import trunk_model
from .vertebra import DISC_KINDS, LEVELS, SACRUM_LABEL, Vert, draw_vertebra
from .vertebra_fields import vertebra_layers


@dataclass(frozen=True)
class IndependentCase:
    """One rendered phantom and its ground truth.

    Attributes
    ----------
    name : str
        Case name, e.g. ``"ind-1-0007"``.
    ct_hu : numpy.ndarray
        int16 CT in HU, in storage orientation.
    affine : numpy.ndarray
        4x4 voxel-index to RAS+ mm affine of the stored arrays.
    vertebrae : numpy.ndarray
        uint8 whole-vertebra labels (VerSe numbering; sacrum 26).
    bodies : numpy.ndarray
        uint8 vertebral-body-only labels (sacrum: the S1 body).
    truth : dict
        Ground truth (levels, heights, grades, fractions in view, ...).
    tags : dict of str to str
        What was drawn for this case.
    """

    name: str
    ct_hu: np.ndarray
    affine: np.ndarray
    vertebrae: np.ndarray
    bodies: np.ndarray
    truth: dict
    tags: dict[str, str]


def _draw_globals(rng: np.random.Generator) -> dict:
    """Draw the case-level parameters (anatomy, density, contrast, habitus).

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's random generator.

    Returns
    -------
    dict
        Case-level parameters.
    """
    osteo = bool(rng.random() < 0.35)
    g: dict = {
        "sW": rng.uniform(0.9, 1.1), "sH": rng.uniform(0.9, 1.1),
        "SS": rng.uniform(32, 45), "LL": rng.uniform(30, 60), "K": rng.uniform(20, 60),
        "CL": rng.uniform(10, 30),
        "cobb": rng.uniform(5, 20) if rng.random() < 0.3 else 0.0,
        "cobb_mid": rng.uniform(100, 380), "cobb_len": rng.uniform(180, 320),
        "cobb_dir": float(rng.choice([-1.0, 1.0])),
        "roll": rng.uniform(-10, 10) if rng.random() < 0.5 else rng.uniform(-3, 3),
        "shift": rng.uniform(-25, 25),
        "osteo": osteo,
        "trab": rng.uniform(40, 110) if osteo else rng.uniform(150, 250),
        "cort": rng.uniform(400, 750) if osteo else rng.uniform(550, 1100),
        "tc": rng.uniform(0.6, 1.2), "te": rng.uniform(0.6, 1.2),
        "disc_hu": rng.uniform(70, 110),
        "contrast": str(rng.choice(["native", "arterial", "venous"], p=[0.5, 0.2, 0.3])),
        "width": rng.uniform(300, 380), "ap": rng.uniform(200, 260),
        "fat": rng.uniform(5, 35), "rib_pairs": int(rng.choice([11, 12, 13], p=[0.1, 0.8, 0.1])),
        "table": bool(rng.random() < 0.85),
        "pad": rng.uniform(15, 45) if rng.random() < 0.5 else 0.0,
    }
    g["old"] = bool(osteo or rng.random() < 0.3)
    return g


def _texture(rng: np.random.Generator) -> Callable[[Q3], np.ndarray]:
    """Return a cheap pseudo-trabecular multiplicative texture of local coordinates."""
    dirs = rng.normal(size=(3, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ph = rng.uniform(0, 2 * np.pi, 3)
    k = 2 * np.pi / rng.uniform(2.0, 3.5)

    def tex(q: Q3) -> np.ndarray:
        s = [np.sin(F32(k) * (q[0] * F32(d[0]) + q[1] * F32(d[1]) + q[2] * F32(d[2]))
                    + F32(p)) for d, p in zip(dirs, ph, strict=True)]
        return F32(1.0) + F32(0.12) * s[0] * s[1] + F32(0.06) * s[2]

    return tex


def _vert_box(cv: Canvas, v: Vert) -> tuple[slice, slice, slice]:
    """Index box enclosing a vertebra with its disc halves (scanner grid)."""
    p = v.p
    ext_u = p["cw"] / 2 + p["lt"] + p["Lt"] + p["rp"] + 2 * p["rt"] + 3
    v_lo = -p["B"] - p["ca"] - p["lt"] - p["Ls"] - 6
    w_lo, w_hi = -(p["h0"] / 2 + p["disc"] + 22), p["h0"] / 2 + p["disc_up"] + 10
    corners = np.array([[a, b, c] for a in (-ext_u, ext_u) for b in (v_lo, p["B"] + 6)
                        for c in (w_lo, w_hi)])
    return box_range(cv.grid, corners @ v.R.T + v.t, 1.0)


def _render_bones(cv: Canvas, g: dict, verts: list[Vert], sac: dict, sp: dict, tm: dict,
                  zr: tuple[float, float]) -> dict[str, tuple[float, np.ndarray | None]]:
    """Render ilium, sacrum, vertebrae and ribs; return fraction/centroid per level."""
    out: dict[str, tuple[float, np.ndarray | None]] = {}
    if zr[0] < sp["sac_t"][2] + 80:
        il = {"a": 125 * g["sW"], "b": 90 * g["sW"], "yc": 10.0, "zc": 45.0 * g["sH"],
              "t0": 22.0, "t1": 112.0, "cort": g["cort"] * 0.85, "trab": g["trab"] * 0.9}
        corners = np.array([[a, b, c] for a in (-150, 150) for b in (-95, 110)
                            for c in (-135, 60)])
        box = box_range(cv.grid, corners @ sp["Rroll"].T + sp["sac_t"], 1.0)
        render_local(cv, sp["Rroll"], sp["sac_t"], box, lambda q, c: ilium_layers(q, il, g),
                      K=1)
        corners = np.array([[a, b, c] for a in (-sac["hw"] - 3, sac["hw"] + 3)
                            for b in (-sac["D"] - 30, sac["B"] + 35) for c in (-sac["L"] - 3, 8)])
        box = box_range(cv.grid, corners @ sac["R"].T + sac["t"], 1.0)
        out["S"] = render_local(cv, sac["R"], sac["t"], box,
                                 lambda q, c: sacrum_layers(q, sac, verts[0], g),
                                 label=SACRUM_LABEL, extend=True)
    for v in verts:
        box = _vert_box(cv, v)
        if box[0].stop < 0 or box[0].start >= cv.grid.nz:
            continue
        out[v.name] = render_local(cv, v.R, v.t, box,
                                    lambda q, c, v=v: vertebra_layers(q, c, v, g),
                                    label=v.label, extend=True)
    for rib in rib_paths(g, verts, sp, tm):
        render_rib(cv, rib, g)
    return out


def draw_case(seed: int, index: int) -> IndependentCase:
    """Draw and render one phantom, deterministic per ``(seed, index)``.

    Parameters
    ----------
    seed : int
        Series seed.
    index : int
        Case index within the series.

    Returns
    -------
    IndependentCase
        CT, labels, affine, truth and tags.
    """
    rng = np.random.default_rng((seed, index))
    g = _draw_globals(rng)
    verts = [draw_vertebra(rng, g, n, lab) for n, lab in LEVELS]
    for i, v in enumerate(verts):
        up = verts[i + 1].p if i + 1 < len(verts) else {"disc_kind": 0.0, "disc": 4.0}
        v.p["kind_up"], v.p["disc_up"] = up["disc_kind"], up["disc"]
    fov = draw_fov(rng)
    sp = build_spine(g, verts)
    fr = pick_fractures(rng, verts, fov_z(fov, verts, sp))
    for i, grade, morph in fr:
        apply_fracture(verts[i], rng, grade, morph)
    sp = build_spine(g, verts)
    zr = fov_z(fov, verts, sp)
    tm = trunk_model(rng, g, verts, sp)
    gr, mode = make_grid(rng, g, fov, zr, tm, sp)
    g.update(eps=gr.dx, csf_hu=rng.uniform(10, 40), gas_hu=rng.uniform(-900, -500),
             calc_hu=rng.uniform(200, 400), fat_hu=tm["fat_hu"], cart_hu=rng.uniform(110, 200),
             tex=_texture(rng))
    sac = draw_sacrum(rng, g, verts[0])
    sac["R"], sac["t"] = sp["sac_R"], sp["sac_t"]
    cv = setup_canvas(rng, g, tm, sp, gr, zr)
    rend = _render_bones(cv, g, verts, sac, sp, tm, zr)
    tags = image_formation(rng, cv)
    offset = np.round(rng.uniform([-60, -250, -1300], [60, 50, -200]) * 64) / 64
    ct, labv, labb, aff = storage(rng, cv, offset)
    truth = _truth(verts, rend, g, gr, offset, fov)
    tags.update({
        "fov": fov["kind"], "fov_mode": mode, "slice_mm": f"{gr.dz}", "pixel_mm": f"{gr.dx}",
        "subslices": str(gr.K), "density": "osteoporotic" if g["osteo"] else "normal",
        "trabecular_hu": f"{g['trab']:.0f}", "cortical_hu": f"{g['cort']:.0f}",
        "contrast": g["contrast"], "orientation": "".join(nib.aff2axcodes(aff)),
        "fractures": ",".join(f"{verts[i].name}:{gd}{m[0]}" for i, gd, m in fr) or "none",
        "roll_deg": f"{g['roll']:.1f}", "scoliosis_cobb_deg": f"{g['cobb']:.1f}",
        "kyphosis_deg": f"{g['K']:.0f}", "lordosis_deg": f"{g['LL']:.0f}",
        "table": str(g["table"]), "rib_pairs": str(g["rib_pairs"]),
        "osteophytes": ",".join(v.name for v in verts if v.p["ost"]) or "none",
        "disc_changes": ",".join(f"{v.name}:{DISC_KINDS[int(v.p['disc_kind'])]}"
                                 for v in verts if v.p["disc_kind"]) or "none",
    })
    return IndependentCase(name=f"ind-{seed}-{index:04d}", ct_hu=ct, affine=aff, vertebrae=labv,
                           bodies=labb, truth=truth, tags=tags)
