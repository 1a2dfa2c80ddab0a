"""Ribs.

Centre-line paths from each rib-bearing vertebra around the ribcage outline, rendered as
clipped elliptic capsules (cortex and marrow, or costal cartilage anteriorly).
"""

from __future__ import annotations

import numpy as np

from .rendering import Q3, Canvas, Ctx, Layers, box_range, render_local
from .shapes import F32, capsule, soft
from .vertebra import Vert


def rib_paths(g: dict, verts: list[Vert], sp: dict, tm: dict) -> list[dict]:
    """Centre-line polylines (scanner frame) of all ribs.

    Parameters
    ----------
    g : dict
        Case parameters (``rib_pairs``).
    verts : list of Vert
        Placed vertebrae.
    sp : dict
        Spine placement (``to_scan``, ``Rroll``, ``piv``, ``off``).
    tm : dict
        Trunk model (``cage(z)`` returns ribcage ellipse centre/semi-axes).

    Returns
    -------
    list of dict
        Each with ``pts`` (n, 3), ``cart`` (index where costal cartilage starts),
        ``r1``, ``r2``.
    """
    names = [f"T{i}" for i in range(1, 13)]
    if g["rib_pairs"] == 11:
        names = names[:11]
    elif g["rib_pairs"] == 13:
        names.append("L1")
    byname = {v.name: v for v in verts}
    ribs = []
    for n_rib, nm in enumerate(names, start=1):
        v = byname[nm]
        p = v.p
        vcc = -p["B"] * (1 - p["kap"]) - 1.0 - p["ca"] / 2
        gam = np.radians(p["gam"])
        for s in (-1.0, 1.0):
            head = v.R @ np.array([s * (p["A"] + 3.5), -0.6 * p["B"], 0.45 * p["h0"]]) + v.t
            tip = np.array([s * (p["cw"] / 2 + p["lt"] + 0.9 * p["Lt"] * np.cos(gam)),
                            vcc + 6.0 - 0.9 * p["Lt"] * np.sin(gam), 0.1 * p["h0"]])
            tub = v.R @ tip + v.t
            tub_p = (tub - sp["off"] - sp["piv"]) @ sp["Rroll"] + sp["piv"]
            xc, yc, ar, br = tm["cage"](tub_p[2])
            th0 = np.arcsin(np.clip((abs(tub_p[0] - xc) + 12) / ar, 0.05, 0.95))
            if n_rib <= 7:
                th1 = np.pi - np.arcsin(min(0.9, 14 / ar))
            elif n_rib <= 10:
                th1 = np.pi * (0.88 - 0.06 * (n_rib - 8))
            else:
                th1 = th0 + {11: 135.0, 12: 105.0}.get(n_rib, 65.0) / (0.5 * (ar + br))
            drop = {1: 22.0, 2: 45.0, 11: 35.0, 12: 28.0, 13: 20.0}.get(n_rib, 75.0)
            nseg = max(4, int((th1 - th0) * 0.5 * (ar + br) / 9.0))
            th = np.linspace(th0, th1, nseg + 1)
            fr = (th - th0) / (np.pi - th0)
            arc = np.stack([xc + s * ar * np.sin(th), yc - br * np.cos(th),
                            tub_p[2] - drop * fr ** 1.3], axis=1)
            pts = np.vstack([head, tub, sp["to_scan"](arc)])
            cart = len(pts) + 10
            if n_rib <= 10:
                cart = 2 + int(nseg * (0.72 if n_rib <= 7 else 0.65))
            r1, r2 = (3.0, 6.5) if n_rib == 1 else (5.2 * g["sW"], 2.8 * g["sW"])
            ribs.append({"pts": pts, "cart": cart, "r1": r1, "r2": r2})
    return ribs


def render_rib(cv: Canvas, rib: dict, g: dict) -> None:
    """Render one rib as clipped elliptic capsules (cortex and marrow)."""
    pts = rib["pts"]
    tang = np.diff(pts, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    normals = [None] + [(tang[k - 1] + tang[k]) / 2 for k in range(1, len(tang))] + [None]
    eps = g["eps"]
    for k in range(len(tang)):
        p0, p1 = pts[k], pts[k + 1]
        cart = k >= rib["cart"]
        hu_c = g["cart_hu"] if cart else g["cort"] * 0.8
        hu_m = g["cart_hu"] * 0.85 if cart else g["trab"] * 0.9
        e1 = np.cross(tang[k], [0.0, 0.0, 1.0])
        e1 = np.cross(e1, tang[k]) if np.linalg.norm(e1) > 1e-3 else np.array([1.0, 0, 0])

        def fields(q: Q3, ctx: Ctx, p0: np.ndarray = p0, p1: np.ndarray = p1, k: int = k,
                   e1: np.ndarray = e1, hu_c: float = hu_c, hu_m: float = hu_m
                   ) -> tuple[Layers, None, None]:
            z0 = np.zeros(3)
            d = capsule(q, z0, p1 - p0, rib["r1"], rib["r2"], e1)
            clip = np.ones_like(d)
            if normals[k] is not None:
                n = normals[k]
                clip *= (q[0] * F32(n[0]) + q[1] * F32(n[1]) + q[2] * F32(n[2])) >= 0
            if normals[k + 1] is not None:
                n, r = normals[k + 1], p1 - p0
                clip *= (q[0] * F32(n[0]) + q[1] * F32(n[1]) + q[2] * F32(n[2])
                         - F32(n @ r)) < 0
            return [(soft(d, eps) * clip, hu_c), (soft(d + F32(0.9), eps) * clip, hu_m)], \
                None, None

        box = box_range(cv.grid, np.array([p0, p1]), max(rib["r1"], rib["r2"]) + 2.0)
        render_local(cv, np.eye(3), p0, box, fields)
