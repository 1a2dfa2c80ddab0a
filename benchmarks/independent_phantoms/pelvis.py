"""Sacrum and ilium.

Sacrum sizes drawn from the L5 body, the sacrum's layers (labelled, with the S1 body and
the lower half of the L5-S1 disc) and both iliac wings as unlabelled curved bony plates.
"""

from __future__ import annotations

import numpy as np

from .rendering import Q3, Layers
from .shapes import F32, ell, soft
from .vertebra import Vert


def draw_sacrum(rng: np.random.Generator, g: dict, l5: Vert) -> dict:
    """Draw sacrum sizes from the L5 body (mm, HU)."""
    W, D = l5.p["W"] * rng.uniform(0.95, 1.05), l5.p["D"] * rng.uniform(0.9, 1.0)
    kap = 0.1
    return {"A": W / 2, "B": D / (2 - kap), "D": D, "kap": kap, "L": rng.uniform(95, 115) * g["sH"],
            "hw": rng.uniform(48, 56) * g["sW"], "c": rng.uniform(0.4, 1.0),
            "tc": g["tc"], "te": g["te"], "trab": g["trab"] * rng.uniform(0.85, 1.1),
            "cort": g["cort"] * rng.uniform(0.8, 1.0), "bend": rng.uniform(0.15, 0.3)}


def sacrum_layers(q: Q3, s: dict, l5: Vert, g: dict) -> tuple[Layers, np.ndarray, np.ndarray]:
    """Layers and label distances of the sacrum (frame origin: S1 endplate centre).

    Parameters
    ----------
    q : tuple of arrays
        Local coordinates (w = S1 endplate normal, v anterior).
    s : dict
        Sacrum parameters.
    l5 : Vert
        The L5 vertebra (its lower plane bounds the lower half of the L5-S1 disc).
    g : dict
        Case parameters.

    Returns
    -------
    tuple
        ``(layers, d_sacrum, d_s1_body)``.
    """
    u, v, w = q
    eps = g["eps"]
    t = np.clip(-w, 0, None) / F32(s["L"])
    vv = v - F32(s["bend"] * s["L"]) * t * t
    au = np.abs(u)
    va = F32(s["B"]) - F32(6.0) * np.clip((au - F32(s["A"])) / F32(15.0), 0, 1)
    vp = F32(s["B"] - s["D"] - 16.0) * (1 - F32(0.6) * t)
    rho = np.sqrt((u / F32(s["A"])) ** 2 + (v / F32(s["B"])) ** 2)
    top = -np.clip(au - F32(0.85 * s["A"]), 0, None) * F32(0.3)
    top = top - F32(s["c"]) * np.clip(1 - (rho / F32(0.75)) ** 2, 0, None) ** 2
    planes = [au - F32(s["hw"]) * (1 - F32(0.72) * t), vv - va, vp - vv, w - top,
              -w - F32(s["L"])]
    outer = planes[0]
    for d in planes[1:]:
        outer = np.maximum(outer, d)
    inner = np.maximum(np.maximum(planes[0], planes[1]), np.maximum(planes[2], planes[4]))
    inner = np.maximum(inner + F32(s["tc"]), planes[3] + F32(s["te"]))
    canal = np.maximum(ell(u / (1 - F32(0.5) * t), vv - vp - F32(8.0), 13.0, 5.5),
                       -w - F32(0.85 * s["L"]))
    outer = np.maximum(outer, -canal)
    inner = np.maximum(inner, -canal + F32(1.0))
    body = np.maximum(np.maximum(ell(u, v, s["A"], s["B"]), w - top), -w - F32(25.0))
    n, pt = l5.planes["lo"]  # type: ignore[misc]
    nl = s["R"].T @ n
    c = float(nl @ (s["R"].T @ (pt - s["t"])))
    plane = q[0] * F32(nl[0]) + q[1] * F32(nl[1]) + q[2] * F32(nl[2]) - F32(c)
    disc = np.maximum(np.maximum((rho - F32(1.02)) * F32(s["A"]), top - w), plane)
    layers: Layers = [(soft(np.maximum(canal, -w - F32(0.85 * s["L"])), eps), g["fat_hu"]),
                      (soft(disc, eps), g["disc_hu"]),
                      (soft(outer, eps), s["cort"]),
                      (soft(inner, eps), s["trab"] * g["tex"](q))]
    return layers, outer, body


def ilium_layers(q: Q3, il: dict, g: dict) -> tuple[Layers, None, None]:
    """Both iliac wings as curved bony plates (frame: S1 centre, patient axes).

    Parameters
    ----------
    q : tuple of arrays
        Coordinates relative to the S1 endplate centre, patient-aligned axes.
    il : dict
        Ilium parameters (ellipse ``a``, ``b``, ``yc``; crest height ``zc``).
    g : dict
        Case parameters.

    Returns
    -------
    tuple
        ``(layers, None, None)``; the ilium is not labelled.
    """
    x, y, z = q
    a = F32(il["a"]) * (1 + F32(0.12) * np.clip(z / F32(100.0), -1, 0.5))
    b = F32(il["b"])
    ax_ = np.abs(x)
    th_ang = np.degrees(np.arctan2(ax_ / a, -(y - F32(il["yc"])) / b))
    r = np.sqrt((x / a) ** 2 + ((y - F32(il["yc"])) / b) ** 2)
    dist = (r - 1) * F32(0.5) * (a + b)
    thick = F32(4.0) + F32(20.0) * np.exp(-(((th_ang - F32(il["t0"])) / F32(14.0)) ** 2))
    thick += F32(6.0) * np.exp(-(((th_ang - F32(il["t1"])) / F32(10.0)) ** 2))
    band = np.abs(dist + thick / 2) - thick / 2
    crest = F32(il["zc"]) - F32(25.0) * ((th_ang - F32(65.0)) / F32(55.0)) ** 2
    zlow = np.where(th_ang < 50, F32(-70.0), F32(-130.0))
    d = np.maximum(band, np.maximum(z - crest, zlow - z))
    d = np.maximum(d, np.maximum(F32(il["t0"]) - th_ang, th_ang - F32(il["t1"])) * F32(2.0))
    eps = g["eps"]
    return [(soft(d, eps), il["cort"]), (soft(d + F32(1.5), eps), il["trab"])], None, None
