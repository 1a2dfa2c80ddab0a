"""Vertebra anatomy: levels, nominal sizes and the draw of one vertebra.

The modelled levels with their VerSe labels, nominal body and posterior-element sizes per
level, the mutable construction record of a vertebra, and the random draw of one
vertebra's sizes, densities and disc below.  The analytic body heights defined here shape
the body and are also the ground-truth heights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Vertebrae modelled, caudal to cranial (index 0 = L5).  VerSe labels.
LEVELS: list[tuple[str, int]] = [
    *[(f"L{i}", 19 + i) for i in range(5, 0, -1)],
    *[(f"T{i}", 7 + i) for i in range(12, 0, -1)],
    *[(f"C{i}", i) for i in range(7, 2, -1)],
]
SACRUM_LABEL = 26
DISC_KINDS = ("normal", "thin", "vacuum", "calcified")

# Nominal anatomy, indexed cranial->caudal C3..L5 (22 levels):
# anterior height, posterior height, endplate width, AP depth (mm), disc below (mm).
_HA = [12.5, 12.5, 12.6, 12.8, 13.4, *np.linspace(15.3, 22.5, 12), 24.5, 25.5, 26.5, 26.8,
       27.4]
_HP = [13.3, 13.4, 13.5, 13.8, 14.4, *np.linspace(16.3, 23.8, 12), 26.0, 26.5, 26.6, 26.0,
       24.6]
_WID = [15.5, 16.0, 17.0, 18.0, 20.5, *np.linspace(33.0, 41.0, 12), 42.5, 44.5, 46.0, 47.5,
        48.0]
_DEP = [15.0, 15.0, 15.0, 15.5, 16.0, *(0.8 * np.linspace(33.0, 41.0, 12)),
        *(0.72 * w for w in (42.5, 44.5, 46.0, 47.5, 48.0))]
_DISC = [4.5, 4.8, 5.0, 5.0, 4.5, 3.4, 3.5, 3.6, 3.8, 4.0, 4.2, 4.4, 4.6, 4.8, 5.2, 5.6, 6.4,
         8.5, 9.5, 10.5, 11.0, 10.0]


def _nominal(name: str) -> dict[str, float]:
    """Return nominal sizes (mm, degrees) of one vertebra.

    Parameters
    ----------
    name : str
        Level name such as ``"T7"``.

    Returns
    -------
    dict
        Body and posterior-element dimensions before random scaling.
    """
    order = [f"C{i}" for i in range(3, 8)] + [f"T{i}" for i in range(1, 13)] + [
        f"L{i}" for i in range(1, 6)]
    k = order.index(name)
    # Posterior elements: anchors at C3, C7, T1, T5, T12, L1, L3, L5.
    xs = [0, 4, 5, 9, 16, 17, 19, 21]

    def at(vals: list[float]) -> float:
        return float(np.interp(k, xs, vals))

    return {
        "Ha": _HA[k], "Hp": _HP[k], "W": _WID[k], "D": _DEP[k], "disc": _DISC[k],
        "cw": at([24, 24, 19, 17, 18.5, 21, 23, 25]),
        "ca": at([14, 14.5, 16, 16, 17, 17.5, 17.5, 18]),
        "lt": at([3.5, 4.5, 5, 5.5, 6.5, 7, 7.5, 8]),
        "pw": at([5, 6, 7.5, 5, 7.5, 8, 9.5, 13]),
        "ph": at([7, 8, 10, 12, 15, 15, 15, 14]),
        "Ls": at([14, 30, 34, 40, 30, 30, 30, 24]),
        "beta": at([20, 15, 35, 55, 30, 15, 8, 5]),
        "hs": at([6, 8, 8, 8, 12, 16, 18, 15]),
        "ts": at([4, 5, 6, 6, 6.5, 7, 7, 7]),
        "Lt": at([8, 14, 22, 18, 14, 16, 28, 22]),
        "gam": at([0, 0, 20, 40, 30, 10, 5, 10]),
        "rt": at([3, 3.5, 5, 5, 5, 4, 4, 5.5]),
        "rp": at([5.5, 6, 5, 5, 5.5, 6.5, 7, 7.5]),
    }


@dataclass
class Vert:
    """Mutable construction record of one vertebra (scanner frame)."""

    name: str
    label: int
    p: dict[str, float]
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    planes: dict[str, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict)
    frac: dict[str, float | str] = field(default_factory=dict)
    phi: float = 0.0
    psi: float = 0.0


def body_heights(p: dict[str, float]) -> list[float]:
    """Analytic Ha, Hm, Hp (mm) of a body at 10/50/90 % of its mid-sagittal depth.

    Parameters
    ----------
    p : dict
        Body parameters (``A, B, D, kap, h0, gs, ct, cb``).

    Returns
    -------
    list of float
        ``[Ha, Hm, Hp]``, outer surface to outer surface along the SI axis.
    """
    out = []
    for frac in (0.1, 0.5, 0.9):
        v = p["B"] - frac * p["D"]
        vadj = v - p["kap"] * p["B"] * np.clip(-v / (0.5 * p["B"]), 0, 1) ** 2
        rho = abs(vadj) / p["B"]
        bowl = max(0.0, 1 - (rho / 0.75) ** 2) ** 2
        out.append(float(p["h0"] + p["gs"] * v - (p["ct"] + p["cb"]) * bowl))
    return out


def set_heights(p: dict[str, float], ha: float, hp: float) -> None:
    """Set ``h0`` and ``gs`` so that the body has anterior/posterior heights ha, hp."""
    va, vp = p["B"] - 0.1 * p["D"], p["B"] - 0.9 * p["D"]
    p["gs"] = (ha - hp) / (va - vp)
    p["h0"] = hp - p["gs"] * vp


def draw_vertebra(rng: np.random.Generator, g: dict, name: str, label: int) -> Vert:
    """Draw the sizes and densities of one vertebra."""
    n = _nominal(name)
    sw, sh = g["sW"] * rng.uniform(0.95, 1.05), g["sH"] * rng.uniform(0.95, 1.05)
    p = {k: v * sw for k, v in n.items() if k not in ("beta", "gam", "Ha", "Hp", "disc")}
    p["beta"], p["gam"] = n["beta"], n["gam"]
    p["D"] *= rng.uniform(0.95, 1.05)
    p["kap"] = rng.uniform(0.08, 0.15) if name[0] != "C" else 0.03
    p["A"], p["B"] = p["W"] / 2, p["D"] / (2 - p["kap"])
    p["ct"], p["cb"] = rng.uniform(0.4, 1.2, size=2) * (0.5 if name[0] == "C" else 1.0)
    set_heights(p, n["Ha"] * sh, n["Hp"] * sh)
    p["disc"] = n["disc"] * g["sH"] * rng.uniform(0.9, 1.1)
    p["waist"] = rng.uniform(0.03, 0.08)
    p["tc"] = g["tc"] * rng.uniform(0.85, 1.15)
    p["te"] = g["te"] * rng.uniform(0.85, 1.15)
    p["trab"] = g["trab"] * rng.uniform(0.85, 1.15)
    p["cort"] = g["cort"] * rng.uniform(0.85, 1.15)
    p["gap"] = rng.uniform(1.2, 2.0)
    p["ost"] = float(g["old"] and name[0] in "TL" and rng.random() < 0.35)
    p["disc_kind"] = 0.0
    if g["old"] and name[0] == "L" and rng.random() < 0.25:
        p["disc_kind"] = float(rng.integers(1, 4))  # 1 thin, 2 vacuum, 3 calcified
        if p["disc_kind"] == 1:
            p["disc"] *= rng.uniform(0.35, 0.6)
    p["gs0"] = p["gs"]
    v = Vert(name=name, label=label, p=p)
    v.frac = {"grade": 0, "morph": "normal", "loss": 0.0}
    v.p["expected"] = body_heights(p)  # type: ignore[assignment]
    return v
