"""Trunk model in the patient frame.

Body outline and ribcage profiles along z, diaphragm, heart, kidney and vessel landmarks,
contrast-phase HU of blood and organs, and the smooth random field of the bowel texture.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .shapes import F32
from .vertebra import Vert


def _contrast_hu(rng: np.random.Generator, phase: str) -> dict[str, float]:
    """HU of blood pool and enhancing organs for a contrast phase."""
    if phase == "arterial":
        return {"aorta": rng.uniform(200, 450), "heart": rng.uniform(250, 400), "liver": 70.0,
                "spleen": 115.0, "kidney": rng.uniform(150, 250), "ivc": 80.0,
                "vessel": 250.0, "bowel": 60.0}
    if phase == "venous":
        return {"aorta": rng.uniform(150, 200), "heart": rng.uniform(150, 200),
                "liver": rng.uniform(100, 130), "spleen": 120.0,
                "kidney": rng.uniform(150, 250), "ivc": 150.0, "vessel": 150.0, "bowel": 80.0}
    return {"aorta": 40.0, "heart": 40.0, "liver": rng.uniform(50, 65), "spleen": 48.0,
            "kidney": 32.0, "ivc": 40.0, "vessel": 40.0, "bowel": 35.0}


def trunk_model(rng: np.random.Generator, g: dict, verts: list[Vert], sp: dict) -> dict:
    """Build z-profiles and organ parameters of the trunk (patient frame, mm).

    Parameters
    ----------
    rng : numpy.random.Generator
        The case's random generator.
    g : dict
        Case parameters.
    verts : list of Vert
        Placed vertebrae.
    sp : dict
        Spine placement.

    Returns
    -------
    dict
        Profile callables (``spine``, ``outline``, ``cage``), landmarks and HUs.
    """
    pr = sp["prof"]
    zc = {v.name: float(z) for v, z in zip(verts, pr["z"], strict=True)}
    W, AP, fat = g["width"], g["ap"], g["fat"]
    ra, rp = rng.uniform(0.9, 1.08), rng.uniform(1.0, 1.08)
    za = [-60.0, zc["L4"], zc["L1"], zc["T8"], zc["T3"], zc["T1"], zc["C7"], zc["C4"]]
    wid = [W * rp, W * ra, W * ra * 0.98, W, 0.95 * W, 0.82 * W, 150.0, 120.0]
    apv = [AP * 0.95, AP * ra, AP * ra, AP, 0.9 * AP, 0.78 * AP, 125.0, 115.0]
    dep = [55.0, 55.0, 52.0, 45.0, 45.0, 42.0, 40.0, 35.0]

    def spine(z: float) -> tuple[float, float, float, float]:
        return (float(np.interp(z, pr["z"], pr["x"])), float(np.interp(z, pr["z"], pr["y"])),
                float(np.interp(z, pr["z"], pr["W"])) / 2, float(np.interp(z, pr["z"], pr["B"])))

    def outline(z: float) -> tuple[float, float, float, float]:
        xs, ys, _, B = spine(z)
        a, b = np.interp(z, za, wid) / 2, np.interp(z, za, apv) / 2
        yb = ys - B - np.interp(z, za, dep) - fat
        return 0.4 * xs, yb + b, float(a), float(b)

    def cage(z: float) -> tuple[float, float, float, float]:
        xs, ys, _, B = spine(z)
        _, yo, a, b = outline(z)
        yp, ya = ys - B - 28.0, yo + b - 1.3 * fat - 12.0
        return xs, 0.5 * (yp + ya), a - fat - 14.0, 0.5 * (ya - yp)

    zdr = zc["T10"] + rng.uniform(-10, 15)
    tm = {"spine": spine, "outline": outline, "cage": cage, "zc": zc, "fat": fat,
          "muscle": rng.uniform(9, 15), "zdr": zdr, "zdl": zdr - rng.uniform(8, 20),
          "zapex": zc["T1"] + rng.uniform(15, 30), "hu": _contrast_hu(rng, g["contrast"]),
          "fat_hu": rng.uniform(-110, -85), "muscle_hu": rng.uniform(40, 60),
          "lung_hu": rng.uniform(-880, -820), "ar": rng.uniform(10, 14),
          "zbif": zc["L4"] + rng.uniform(-10, 10), "zarch": zc["T4"] + rng.uniform(0, 15)}
    tm["heart"] = (-25.0 + rng.uniform(-8, 8), 75.0, zdr + 40.0, rng.uniform(55, 68),
                   rng.uniform(42, 52), rng.uniform(50, 62))
    tm["kid"] = [(s * rng.uniform(55, 68), zc["L1"] + (15.0 if s < 0 else -8.0)
                  + rng.uniform(-10, 10)) for s in (-1.0, 1.0)]
    tm["calc"] = [(rng.uniform(zc["L4"], zc["T6"]), rng.uniform(0, 2 * np.pi))
                  for _ in range(int(rng.integers(0, 30)) if g["old"] else 0)]
    tm["vessels"] = rng.uniform([-1, -1, zc["T12"]], [1, 1, zc["T1"] + 30], size=(2500, 3))
    tm["vr"] = rng.uniform(0.7, 2.8, size=2500)
    return tm


def bowel_field(rng: np.random.Generator, tm: dict) -> None:
    """Attach a smooth random 3-D field (4 mm cells) used for bowel texture."""
    zc = tm["zc"]
    lo = np.array([-220.0, -150.0, -200.0])
    hi = np.array([220.0, 250.0, zc["T10"] + 20.0])
    n = np.ceil((hi - lo) / 4.0).astype(int) + 1
    f = ndimage.gaussian_filter(rng.standard_normal(n[::-1]).astype(F32), 2.2)
    f = (f - f.mean()) / (f.std() + 1e-6)
    tm["bowel"] = (f, lo)
