"""Vertebral compression fractures.

Which levels fracture (grade and morphotype, mostly at the thoracolumbar junction) and
how a body is collapsed in place so that its height loss falls well inside the Genant
band of its grade.
"""

from __future__ import annotations

import numpy as np

from .vertebra import Vert, body_heights, set_heights


def apply_fracture(v: Vert, rng: np.random.Generator, grade: int, morph: str) -> None:
    """Collapse a body in place; the loss fraction lies well inside the Genant band."""
    f = {1: rng.uniform(0.215, 0.235), 2: rng.uniform(0.29, 0.36),
         3: rng.uniform(0.45, 0.58)}[grade]
    p = v.p
    ha, hm, hp = body_heights(p)
    if morph == "wedge":
        set_heights(p, ha * (1 - f), hp)
    elif morph == "crush":
        for k in ("h0", "gs", "ct", "cb"):
            p[k] *= 1 - f
    else:
        vm = p["B"] - 0.5 * p["D"]
        rho = abs(vm - p["kap"] * p["B"] * np.clip(-vm / (0.5 * p["B"]), 0, 1) ** 2) / p["B"]
        extra = f * hm / max(0.0, 1 - (rho / 0.75) ** 2) ** 2
        share = rng.uniform(0.35, 0.8)
        p["ct"] += extra * share
        p["cb"] += extra * (1 - share)
    p["trab"] *= rng.uniform(1.1, 1.35)
    v.frac = {"grade": grade, "morph": morph, "loss": float(f)}


def pick_fractures(rng: np.random.Generator, verts: list[Vert], zr: tuple[float, float]
                    ) -> list[tuple[int, int, str]]:
    """Choose fractured levels (T5-L4, mostly T11-L2) fully inside the z range."""
    if rng.random() < 0.4:
        return []
    names = [f"T{i}" for i in range(5, 13)] + [f"L{i}" for i in range(1, 5)]
    cand, wts = [], []
    for i, v in enumerate(verts):
        if v.name in names and zr[0] + 25 < v.t[2] < zr[1] - 25:
            cand.append(i)
            wts.append(4.0 if v.name in ("T11", "T12", "L1", "L2") else 1.0)
    if not cand:
        return []
    n = min(len(cand), int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15])))
    w = np.array(wts) / np.sum(wts)
    idx = rng.choice(cand, size=n, replace=False, p=w)
    return [(int(i), int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3])),
             str(rng.choice(["wedge", "biconcave", "crush"], p=[0.5, 0.3, 0.2])))
            for i in sorted(idx)]
