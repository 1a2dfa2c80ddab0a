"""Soft tissue, organs and table, painted slice by slice (patient frame).

Table and pad, skin, fat and muscle wall, lungs with vessels, heart and aorta, abdominal
organs, paraspinal and pelvic muscles, and the canvas set-up that paints all of them
before the bones are rendered on top.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

from .rendering import Canvas, Grid
from .shapes import F32, capsule, ell, soft
from .trunk import bowel_field


def _win(tm: dict, xc: float, yc: float, a: float, b: float) -> tuple[slice, slice]:
    """Pixel window (j, i) covering a patient-frame box ``xc+-a, yc+-b``."""
    gr: Grid = tm["grid"]
    cs = np.array([[xc - a, yc - b, 0], [xc + a, yc - b, 0], [xc - a, yc + b, 0],
                   [xc + a, yc + b, 0]])
    sc = tm["to_scan"](cs)
    i0 = int(np.clip(np.floor((sc[:, 0].min() - gr.x0) / gr.dx) - 1, 0, gr.nx))
    i1 = int(np.clip(np.ceil((sc[:, 0].max() - gr.x0) / gr.dx) + 2, 0, gr.nx))
    j0 = int(np.clip(np.floor((sc[:, 1].min() - gr.y0) / gr.dx) - 1, 0, gr.ny))
    j1 = int(np.clip(np.ceil((sc[:, 1].max() - gr.y0) / gr.dx) + 2, 0, gr.ny))
    return slice(j0, j1), slice(i0, i1)


def _comp(img: np.ndarray, win: tuple[slice, slice], o: np.ndarray, hu: float | np.ndarray
          ) -> None:
    """Composite occupancy ``o`` with value ``hu`` over ``img[win]``."""
    sub = img[win]
    sub *= 1 - o
    sub += o * hu


def _ellipse(tm: dict, img: np.ndarray, c: tuple[float, float], ab: tuple[float, float],
             hu: float | Callable[[np.ndarray, np.ndarray], np.ndarray],
             keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
    """Paint a patient-frame ellipse (optionally masked) with soft edges."""
    if ab[0] <= 0.3 or ab[1] <= 0.3:
        return
    win = _win(tm, c[0], c[1], ab[0], ab[1])
    X, Y = tm["X"][win], tm["Y"][win]
    if X.size == 0:
        return
    o = soft(ell(X - F32(c[0]), Y - F32(c[1]), ab[0], ab[1]), tm["eps"])
    if keep is not None:
        o = o * keep(X, Y)
    _comp(img, win, o, hu(X, Y) if callable(hu) else hu)


def _zdia(tm: dict, X: np.ndarray, Y: np.ndarray, z: float) -> np.ndarray:
    """Height of the diaphragm surface under each pixel (two domes)."""
    xc, yc, ar, br = tm["cage"](z)
    r2 = ((X - F32(xc)) / F32(ar)) ** 2 + ((Y - F32(yc)) / F32(br)) ** 2
    zd = np.where(xc < X, F32(tm["zdr"]), F32(tm["zdl"]))
    return zd - F32(55.0) * r2 - F32(25.0) * np.clip(-(Y - F32(yc)) / F32(br), 0, 1)


def _paint_trunk(tm: dict, img: np.ndarray, z: float) -> None:
    """Table, pad, skin, subcutaneous fat, muscle wall and body cavity."""
    gr: Grid = tm["grid"]
    Ys = tm["Ys"]
    if tm["table"] is not None:
        yt, th, hu_s, hu_c, pad, pad_hu = tm["table"]
        Xs = tm["Xs"]
        top = F32(yt) + F32(4e-4) * Xs * Xs
        d = np.maximum(Ys - top, top - F32(th) - Ys)
        d = np.maximum(d, np.abs(Xs) - F32(230.0))
        _comp(img, (slice(None), slice(None)), soft(d, gr.dx), hu_s)
        _comp(img, (slice(None), slice(None)), soft(d + F32(2.0), gr.dx), hu_c)
        if pad > 0:
            dp = np.maximum(np.maximum(Ys - F32(yt + pad), F32(yt) - Ys),
                            np.abs(Xs) - F32(250.0))
            _comp(img, (slice(None), slice(None)), soft(dp, gr.dx), pad_hu)
    xo, yo, a, b = tm["outline"](z)
    fat, m = tm["fat"], tm["muscle"]
    X, Y = tm["X"], tm["Y"]
    d = np.maximum(ell(X - F32(xo), Y - F32(yo), a, b), F32(tm["ycontact"]) - Ys)
    everything = (slice(None), slice(None))
    _comp(img, everything, soft(d, gr.dx), 25.0)
    _comp(img, everything, soft(d + F32(1.6), gr.dx), tm["fat_hu"])
    _ellipse(tm, img, (xo, yo), (a - fat, b - fat), tm["muscle_hu"])
    _ellipse(tm, img, (xo, yo), (a - fat - m, b - fat - m), tm["fat_hu"] + 10.0)


def _aorta_xy(tm: dict, z: float) -> tuple[float, float]:
    """Centre of the descending aorta at height z (patient frame)."""
    xs, ys, A, B = tm["spine"](z)
    r = tm["ar"]
    w = float(np.clip((z - tm["zc"]["T12"] + 30.0) / 60.0, 0, 1))
    xt, yt = xs - (A + 0.7 * r), ys + 0.2 * B
    xa, ya = xs - 0.35 * A, ys + B + r + 3.0
    return w * xt + (1 - w) * xa, w * yt + (1 - w) * ya


def _paint_chest(tm: dict, img: np.ndarray, z: float) -> None:
    """Lungs (with vessels), heart and mediastinal great vessels."""
    xc, yc, ar, br = tm["cage"](z)
    xs, ys, A, B = tm["spine"](z)
    if z > tm["zapex"] or z < min(tm["zdl"], tm["zdr"]) - 90 or ar < 20:
        return
    hx, _, hz, ha, hb, hc = tm["heart"]
    hs = np.sqrt(max(0.0, 1 - ((z - hz) / hc) ** 2))
    hb = min(hb, 0.5 * (yc + br - ys - B - 5))
    hy = 5 + hb
    win = _win(tm, xc, yc, ar, br)
    X, Y = tm["X"][win], tm["Y"][win]
    if X.size == 0:
        return
    r2 = ((X - F32(xc)) / F32(ar)) ** 2 + ((Y - F32(yc)) / F32(br)) ** 2
    keep = (z > _zdia(tm, X, Y, z)) & (z < tm["zapex"] - F32(70.0) * r2)
    mh = 0.5 * (yc + br - ys - 0.3 * B)
    keep &= ell(X - F32(xs - 8 * hs), Y - F32(ys + 0.3 * B + mh), 28 + 30 * hs, mh + 8) > 0
    keep &= ell(X - F32(xs), Y - F32(ys - 0.3 * B), A + 6, B + 16) > 0
    keep &= ~((np.abs(X - F32(xs)) < 40) & (ys - B > Y))
    if hs > 0:
        keep &= ell(X - F32(xs + hx), Y - F32(ys + B + hy), ha * hs + 6, hb * hs + 6) > 0
    o = soft(ell(X - F32(xc), Y - F32(yc), ar - 3, br - 3), tm["eps"]) * keep
    lung = F32(tm["lung_hu"]) + F32(70.0) * np.exp(-(Y - F32(yc - br)) / F32(35.0))
    _comp(img, win, o, lung)
    zv = tm["vessels"]
    for k in np.nonzero(np.abs(zv[:, 2] - z) < tm["vr"])[0]:
        rr = float(np.sqrt(tm["vr"][k] ** 2 - (zv[k, 2] - z) ** 2))
        cx, cy = xc + zv[k, 0] * ar * 0.85, yc + zv[k, 1] * br * 0.85
        wv = _win(tm, cx, cy, rr + 1, rr + 1)
        sub = img[wv]
        o = soft(ell(tm["X"][wv] - F32(cx), tm["Y"][wv] - F32(cy), rr, rr), tm["eps"])
        o *= sub < -500
        _comp(img, wv, o, tm["hu"]["vessel"])
    if hs > 0:
        _ellipse(tm, img, (xs + hx, ys + B + hy), (ha * hs, hb * hs), tm["hu"]["heart"])
    r = tm["ar"]
    asc = (xs + 15.0, ys + B + 0.55 * (yc + br - ys - B))
    if hz + 0.3 * hc < z < tm["zarch"]:
        _ellipse(tm, img, asc, (r * 1.15, r * 1.15), tm["hu"]["aorta"])
    dz = abs(z - tm["zarch"])
    if dz < r:
        rr = float(np.sqrt(r * r - dz * dz))
        p0, p1 = np.array(asc), np.array(_aorta_xy(tm, tm["zarch"]))
        win = _win(tm, *(0.5 * (p0 + p1)), abs(p1[0] - p0[0]) / 2 + rr + 2,
                   abs(p1[1] - p0[1]) / 2 + rr + 2)
        X, Y = tm["X"][win], tm["Y"][win]
        q = (X, Y, np.zeros_like(X))
        d = capsule(q, np.array([*p0, 0.0]), np.array([*p1, 0.0]), rr, rr,
                     np.array([0.0, 0.0, 1.0]))
        _comp(img, win, soft(d, tm["eps"]), tm["hu"]["aorta"])


def _ellipsoid_cut(z: float, zc: float, c: float) -> float:
    """Scale of an ellipsoid's cross-section at height z (0 outside)."""
    return float(np.sqrt(max(0.0, 1 - ((z - zc) / c) ** 2)))


def _paint_abdomen(tm: dict, img: np.ndarray, z: float) -> None:
    """Bowel texture, liver, spleen, stomach and kidneys below the diaphragm."""
    xs, ys, _, B = tm["spine"](z)
    xo, yo, a, b = tm["outline"](z)
    zc, hu = tm["zc"], tm["hu"]
    ai, bi = a - tm["fat"] - tm["muscle"], b - tm["fat"] - tm["muscle"]
    if z > tm["zdr"] + 5 or ai < 20:
        return
    win = _win(tm, xo, yo, ai, bi)
    X, Y = tm["X"][win], tm["Y"][win]
    below = z < _zdia(tm, X, Y, z) - 3
    if z < zc["T11"] and z > -160:
        f, lo = tm["bowel"]
        co = [np.full(X.shape, (z - lo[2]) / 4.0, F32), (Y - F32(lo[1])) / 4, (X - F32(lo[0])) / 4]
        t = ndimage.map_coordinates(f, co, order=1, mode="nearest")
        val = np.where(t > 1.35, F32(-950.0), np.where(t > 0.1, F32(hu["bowel"]),
                                                       F32(tm["fat_hu"])))
        o = soft(ell(X - F32(xo), Y - F32(yo), ai, bi), tm["eps"])
        o *= below & (ys - 0.2 * B < Y)
        o *= np.clip((zc["T11"] - z) / 40.0, 0, 1)
        _comp(img, win, o, val)
    cav = (xo, yo, ai, bi)

    def inside(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        c = ell(X - F32(cav[0]), Y - F32(cav[1]), cav[2], cav[3]) < 0
        return c & (z < _zdia(tm, X, Y, z) - 3)

    s = _ellipsoid_cut(z, tm["zdr"] - 60, 95)
    _ellipse(tm, img, (xs + 75, yo + 5), (105 * s, 0.85 * bi * s), hu["liver"], inside)
    s = _ellipsoid_cut(z, tm["zdl"] - 45, 50)
    _ellipse(tm, img, (xs - 85, ys + 15), (30 * s, 50 * s), hu["spleen"], inside)
    s = _ellipsoid_cut(z, tm["zdl"] - 55, 50)
    if s > 0:
        yst = ys + B + 75
        gas = lambda X, Y: np.where(yst + 28 * s < Y, F32(-990.0), F32(25.0))  # noqa: E731
        _ellipse(tm, img, (xs - 55, yst), (45 * s, 40 * s), gas, inside)
    for kx, kz in tm["kid"]:
        s = _ellipsoid_cut(z, kz, 52)
        if s <= 0:
            continue
        kc = (xs + kx, ys + 8.0)
        _ellipse(tm, img, kc, (28 * s, 25 * s), hu["kidney"])
        _ellipse(tm, img, kc, (17 * s, 15 * s), 0.65 * hu["kidney"] + 10)
        _ellipse(tm, img, (kc[0] - np.sign(kx) * 15 * s, kc[1] + 4), (9 * s, 8 * s), -60.0)


def _paint_spine_soft(tm: dict, img: np.ndarray, z: float) -> None:
    """Paraspinal muscles, psoas, gluteal muscles and prevertebral soft tissue."""
    xs, ys, A, B = tm["spine"](z)
    zc, mh = tm["zc"], tm["muscle_hu"]
    _, yo, _, b = tm["outline"](z)
    ay = 0.45 * (ys - B - (yo - b) - tm["fat"])
    _ellipse(tm, img, (xs, ys - 0.4 * B - 8), (A + 10, B + 30), mh - 10)
    for s in (-1.0, 1.0):
        ax_ = 20 + 0.25 * A + 8 * float(z < zc["T12"])
        _ellipse(tm, img, (xs + s * (26 + 0.15 * A), yo - b + tm["fat"] + ay + 3), (ax_, ay), mh)
        rps = float(np.interp(z, [-80.0, zc["L5"], zc["L3"], zc["L1"], zc["T12"]],
                              [24.0, 24.0, 18.0, 9.0, 0.0]))
        _ellipse(tm, img, (xs + s * (A + 0.7 * rps), ys - 0.05 * B + 0.3 * rps),
                 (rps, rps * 0.9), mh - 5)
        if z < zc["L5"]:
            _ellipse(tm, img, (xs + s * 85, ys - 45), (55.0, 45.0), mh)


def _paint_vessels(tm: dict, img: np.ndarray, z: float) -> None:
    """Descending aorta, iliac arteries, IVC and aortic wall calcifications."""
    xs, ys, A, B = tm["spine"](z)
    r, hu = tm["ar"], tm["hu"]
    if tm["zbif"] < z < tm["zarch"]:
        _ellipse(tm, img, _aorta_xy(tm, z), (r, r), hu["aorta"])
    elif tm["zbif"] - 130 < z <= tm["zbif"]:
        xb, yb = _aorta_xy(tm, tm["zbif"])
        for s in (-1.0, 1.0):
            _ellipse(tm, img, (xb + s * (6 + 0.45 * (tm["zbif"] - z)), yb), (7.0, 7.0),
                     hu["aorta"])
    if tm["zc"]["L4"] < z < tm["zdr"] - 10:
        _ellipse(tm, img, (xs + 0.55 * A + 10, ys + B + 12), (11.0, 10.0), hu["ivc"])
    for zs, ang in tm["calc"]:
        if abs(z - zs) < 1.5 and tm["zbif"] < zs < tm["zarch"]:
            cx, cy = _aorta_xy(tm, zs)
            _ellipse(tm, img, (cx + r * np.cos(ang), cy + r * np.sin(ang)), (2.2, 2.2),
                     tm["calc_hu"])


def _paint_slice(tm: dict, k: int) -> None:
    """Paint all soft tissue of slice ``k`` into ``tm['vol']``."""
    gr: Grid = tm["grid"]
    z = gr.z0 + k * gr.dz
    img = np.full((gr.ny, gr.nx), -1000.0, F32)
    _paint_trunk(tm, img, z)
    _paint_abdomen(tm, img, z)
    _paint_chest(tm, img, z)
    _paint_spine_soft(tm, img, z)
    _paint_vessels(tm, img, z)
    tm["vol"][k] = img


def setup_canvas(rng: np.random.Generator, g: dict, tm: dict, sp: dict, gr: Grid,
                  zr: tuple[float, float]) -> Canvas:
    """Prepare pixel coordinates, table and contact plane, and paint soft tissue."""
    xs = (gr.x0 + np.arange(gr.nx) * gr.dx).astype(F32)
    ys = (gr.y0 + np.arange(gr.ny) * gr.dx).astype(F32)
    Xs, Ys = np.meshgrid(xs, ys)
    R, piv, off = sp["Rroll"], sp["piv"], sp["off"]
    tm["X"] = (R[0, 0] * (Xs - off[0] - piv[0]) + R[1, 0] * (Ys - piv[1]) + piv[0]).astype(F32)
    tm["Y"] = (R[0, 1] * (Xs - off[0] - piv[0]) + R[1, 1] * (Ys - piv[1]) + piv[1]).astype(F32)
    tm["Xs"], tm["Ys"], tm["grid"], tm["eps"] = Xs, Ys, gr, gr.dx
    tm["to_scan"] = sp["to_scan"]
    th = np.radians(g["roll"])
    low = []
    for z in np.linspace(zr[0], zr[1], 40):
        xo, yo, a, b = tm["outline"](z)
        low.append(sp["to_scan"](np.array([xo, yo, z]))[1]
                   - np.sqrt((a * np.sin(th)) ** 2 + (b * np.cos(th)) ** 2))
    tm["ycontact"] = float(min(low)) + rng.uniform(2, 10)
    tm["table"] = None
    if g["table"]:
        tm["table"] = (tm["ycontact"] - g["pad"], rng.uniform(25, 45), rng.uniform(200, 300),
                       rng.uniform(50, 120), g["pad"], rng.uniform(-900, -700))
    tm["calc_hu"] = rng.uniform(400, 900)
    bowel_field(rng, tm)
    tm["vol"] = np.empty((gr.nz, gr.ny, gr.nx), F32)
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(lambda k: _paint_slice(tm, k), range(gr.nz)))
    return Canvas(grid=gr, vol=tm.pop("vol"), labv=np.zeros((gr.nz, gr.ny, gr.nx), np.uint8),
                   labb=np.zeros((gr.nz, gr.ny, gr.nx), np.uint8))
