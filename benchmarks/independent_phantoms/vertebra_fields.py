"""Fields and layers of one vertebra in its local frame.

Frame: u right, v anterior, w superior, origin at the body centre.  Signed distances of
the body (waisted kidney-shaped cylinder with concave endplates), its trabecular core, the
disc halves with degenerative changes, the canal and the posterior elements, composited
into HU layers clipped at the shared mid-disc planes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .rendering import Q3, Ctx, Layers
from .shapes import F32, box, capsule, ell, soft
from .vertebra import Vert


def _sub(ctx: Ctx, lo: np.ndarray | list[float], hi: np.ndarray | list[float],
         pad: float = 2.0) -> tuple[slice, slice, slice]:
    """Index sub-box (z, y, x) of the evaluation box holding a local AABB.

    Parameters
    ----------
    ctx : tuple
        ``(xs, ys, zs, R, t)``: box sample coordinates and the local frame.
    lo, hi : array-like
        Corners of the axis-aligned box in local coordinates.
    pad : float
        Margin in mm.

    Returns
    -------
    tuple of slice
        Slices into the evaluation arrays.
    """
    xs, ys, zs, R, t = ctx
    lo, hi = np.asarray(lo, float) - pad, np.asarray(hi, float) + pad
    cs = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])
                   for c in (lo[2], hi[2])]) @ R.T + t
    mn, mx = cs.min(0), cs.max(0)
    out = []
    for arr, k in ((zs, 2), (ys, 1), (xs, 0)):
        out.append(slice(int(np.searchsorted(arr, mn[k])),
                         int(np.searchsorted(arr, mx[k], side="right"))))
    return tuple(out)  # type: ignore[return-value]


def _sq(q: Q3, sl: tuple[slice, slice, slice]) -> Q3:
    """Restrict local coordinate arrays to a sub-box."""
    return q[0][sl], q[1][sl], q[2][sl]


def _body_fields(q: Q3, p: dict) -> dict[str, np.ndarray]:
    """Signed distances of a vertebral body, its trabecular core and its disc halves.

    Parameters
    ----------
    q : tuple of arrays
        Local coordinates ``(u, v, w)`` in mm.
    p : dict
        Body parameters.

    Returns
    -------
    dict
        ``body``, ``trab``, ``dxy_disc``, ``top`` (w minus upper surface),
        ``bot`` (lower surface minus w) and ``rho`` (normalised radius).
    """
    u, v, w = q
    A, B = F32(p["A"]), F32(p["B"])
    post = np.clip(-v / (F32(0.5) * B), 0, 1) ** 2 * np.clip(1 - (u / A) ** 2, 0, None)
    ue = u / A
    ve = (v - F32(p["kap"]) * B * post) / B
    rho = np.sqrt(ue * ue + ve * ve) + F32(1e-6)
    g0 = np.sqrt((ue / A) ** 2 + (ve / B) ** 2) / rho + F32(1e-6)
    s = 1 - F32(p["waist"]) * (1 - np.clip((2 * w / F32(p["h0"])) ** 2, 0, 1))
    dxy = (rho - s) / g0
    bowl = np.clip(1 - (rho / F32(0.75)) ** 2, 0, None) ** 2
    half = F32(0.5) * (F32(p["h0"]) + F32(p["gs"]) * v)
    top = w - (half - F32(p["ct"]) * bowl)
    bot = (-half + F32(p["cb"]) * bowl) - w
    body = np.maximum(np.maximum(dxy, top), bot)
    trab = np.maximum(np.maximum(dxy + F32(p["tc"]), top + F32(p["te"])), bot + F32(p["te"]))
    if p["ost"]:
        for h in (half, -half):
            r = np.sqrt((u / F32(0.55 * p["A"])) ** 2 + ((v - B - F32(0.3)) / F32(2.5)) ** 2
                        + ((w - h) / F32(2.2)) ** 2)
            body = np.minimum(body, (r - F32(1.0)) * F32(2.2))
    return {"body": body, "trab": trab, "dxy_disc": (rho - F32(1.02)) / g0, "top": top,
            "bot": bot, "rho": rho}


def _plane_vals(q: Q3, v: Vert, key: str) -> np.ndarray:
    """Signed height of points above the plane ``key`` ('up' or 'lo'), local coords."""
    n, pt = v.planes[key]  # type: ignore[misc]
    nl = v.R.T @ n
    c = float(nl @ (v.R.T @ (pt - v.t)))
    return q[0] * F32(nl[0]) + q[1] * F32(nl[1]) + q[2] * F32(nl[2]) - F32(c)


def _posterior_parts(p: dict) -> list[tuple[np.ndarray, np.ndarray, Callable[[Q3], np.ndarray]]]:
    """Posterior-element primitives as ``(aabb_lo, aabb_hi, sdf)`` in local coordinates.

    Parameters
    ----------
    p : dict
        Vertebra parameters.

    Returns
    -------
    list of tuple
        Pedicles, lamina ring, articular pillars, transverse and spinous processes.
    """
    B, h0 = p["B"], p["h0"]
    cw2, ca2, lt = p["cw"] / 2, p["ca"] / 2, p["lt"]
    vcc = -B * (1 - p["kap"]) - 1.0 - ca2
    seg = (-(h0 / 2 + p["disc"] / 2 + 12), h0 / 2 + p["disc_up"] / 2 + 12)
    ez = np.array([0.0, 0.0, 1.0])

    def ring(q: Q3) -> np.ndarray:
        u, v, w = q
        can = ell(u, v - F32(vcc), cw2, ca2)
        r = np.maximum(ell(u, v - F32(vcc), cw2 + lt, ca2 + lt), -can)
        r = np.maximum(r, v - F32(vcc + 0.1 * ca2))
        return np.maximum(r, np.maximum(w - F32(0.3 * h0), F32(-0.5 * h0 - 0.6 * p["disc"]) - w))

    parts = [(np.array([-cw2 - lt, vcc - ca2 - lt, -0.5 * h0 - 0.6 * p["disc"]]),
              np.array([cw2 + lt, vcc + 0.1 * ca2, 0.3 * h0]), ring)]

    def caps(p0: np.ndarray, p1: np.ndarray, r1: float, r2: float) -> None:
        rr = max(r1, r2)
        parts.append((np.minimum(p0, p1) - rr, np.maximum(p0, p1) + rr,
                      lambda q: capsule(q, p0, p1, r1, r2, ez)))

    gam = np.radians(p["gam"])
    for s in (-1.0, 1.0):
        xu = s * (cw2 + p["pw"] / 2)
        caps(np.array([xu, -B * (1 - p["kap"]) + 0.3 * B, 0.12 * h0]),
             np.array([xu, vcc - 0.2 * ca2, 0.12 * h0]), p["ph"] / 2, p["pw"] / 2)
        cu, cv_ = s * (cw2 + 0.5 * lt), vcc - 0.1 * ca2
        parts.append((np.array([cu - p["rp"], cv_ - 1.1 * p["rp"], seg[0]]),
                      np.array([cu + p["rp"], cv_ + 1.1 * p["rp"], seg[1]]),
                      lambda q, cu=cu, cv_=cv_: ell(q[0] - F32(cu), q[1] - F32(cv_), p["rp"],
                                                      1.1 * p["rp"])))
        b0 = np.array([s * (cw2 + lt), vcc + 0.1 * ca2, 0.15 * h0])
        dr = np.array([s * np.cos(gam), -np.sin(gam), 0.1])
        dr /= np.linalg.norm(dr)
        caps(b0, b0 + dr * (p["Lt"] + p["rp"]), 1.3 * p["rt"], 0.8 * p["rt"])
    be = np.radians(p["beta"])
    d = np.array([0.0, -np.cos(be), -np.sin(be)])
    c0 = np.array([0.0, vcc - ca2 - 0.6 * lt, -0.1 * h0]) + d * p["Ls"] / 2
    axes = np.array([d, [1.0, 0, 0], np.cross(d, [1.0, 0, 0])])
    half = np.array([p["Ls"] / 2, p["ts"] / 2, p["hs"] / 2])
    ext = np.abs(axes.T) @ half
    parts.append((c0 - ext, c0 + ext,
                  lambda q: box(q, c0, axes, half, 0.4 * min(p["ts"], p["hs"]))))
    return parts


def _body_box(p: dict) -> tuple[list[float], list[float]]:
    """Local AABB of a body with its two disc halves."""
    tilt = 0.5 * abs(p["gs"]) * p["B"] + 0.25 * p["B"]
    return ([-p["A"] - 2, -p["B"] - 2, -(p["h0"] / 2 + tilt + 0.6 * p["disc"])],
            [p["A"] + 2, p["B"] + 4, p["h0"] / 2 + tilt + 0.6 * p["disc_up"]])


def vertebra_layers(q: Q3, ctx: Ctx, vt: Vert, g: dict
                     ) -> tuple[Layers, np.ndarray, np.ndarray]:
    """Composite layers (occupancy, HU[, sub-box]) and label distances of one vertebra.

    Parameters
    ----------
    q : tuple of arrays
        Local coordinates of the evaluation box.
    ctx : tuple
        Box context for sub-box look-ups.
    vt : Vert
        The vertebra.
    g : dict
        Case parameters (``eps`` soft-edge width, HU of disc, CSF, gas, calcium).

    Returns
    -------
    tuple
        ``(layers, d_vertebra, d_body)`` (distances over the whole box).
    """
    p, eps = vt.p, g["eps"]
    up, lo = _plane_vals(q, vt, "up"), _plane_vals(q, vt, "lo")
    big = np.full(q[0].shape, 50.0, F32)
    post = big.copy()
    for plo, phi, fn in _posterior_parts(p):
        sl = _sub(ctx, plo, phi)
        post[sl] = np.minimum(post[sl], fn(_sq(q, sl)))
    vcc = -p["B"] * (1 - p["kap"]) - 1.0 - p["ca"] / 2
    sc = _sub(ctx, [-p["cw"] / 2, vcc - p["ca"] / 2, -99], [p["cw"] / 2, vcc + p["ca"] / 2, 99])
    can = ell(q[0][sc], q[1][sc] - F32(vcc), p["cw"] / 2, p["ca"] / 2)
    post[sc] = np.maximum(post[sc], -can)
    post = np.maximum(post, np.maximum(up, -lo) + F32(p["gap"] / 2))
    layers: Layers = [(soft(np.maximum(can, np.maximum(up[sc], -lo[sc])), eps),
                       g["csf_hu"], sc)]
    sb = _sub(ctx, *_body_box(p))
    qb = _sq(q, sb)
    bf = _body_fields(qb, p)
    ub, lb = up[sb], lo[sb]
    d_up = np.maximum(np.maximum(bf["dxy_disc"], -bf["top"]), ub)
    d_lo = np.maximum(np.maximum(bf["dxy_disc"], -bf["bot"]), -lb)
    layers.append((soft(np.minimum(d_up, d_lo), eps), g["disc_hu"], sb))
    for kind, dd, pl, h in ((p["kind_up"], d_up, -ub, p["disc_up"]),
                            (p["disc_kind"], d_lo, lb, p["disc"])):
        if kind == 2:
            gas = np.maximum(np.maximum(dd, (bf["rho"] - F32(0.5)) * F32(p["A"])),
                             pl - F32(0.25 * h))
            layers.append((soft(gas, eps), g["gas_hu"], sb))
        elif kind == 3:
            cal = np.maximum(dd, F32(0.3 * p["B"]) - qb[1])
            layers.append((soft(cal, eps) * F32(0.8), g["calc_hu"], sb))
    body = big.copy()
    body[sb] = bf["body"]
    vert = np.minimum(body, post)
    layers.append((soft(vert, eps), p["cort"]))
    layers.append((soft(post + F32(1.3), eps), p["trab"]))
    inner = np.minimum(bf["trab"], post[sb] + F32(1.3))
    layers.append((soft(inner, eps), p["trab"] * g["tex"](qb), sb))
    return layers, vert, body
