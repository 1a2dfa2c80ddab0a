"""Spine alignment and placement in the scanner frame.

Sagittal angle of every level (lordosis, kyphosis, cervical lordosis), stacking of discs
and bodies along that curve, scoliosis and roll, and the resulting pose of every vertebra,
its bounding disc planes and the sacrum.
"""

from __future__ import annotations

import numpy as np

from .shapes import rot_x, rot_y, rot_z
from .vertebra import Vert


def _target_angles(g: dict, verts: list[Vert]) -> np.ndarray:
    """Sagittal angle (rad) of each vertebra's SI axis from +z (positive = anterior)."""
    ll_w = {"L5": 0.3, "L4": 0.55, "L3": 0.75, "L2": 0.9, "L1": 1.0}
    cl_w = {"C7": 0.15, "C6": 0.35, "C5": 0.6, "C4": 0.8, "C3": 1.0}
    phi_l1 = g["SS"] - g["LL"]
    out = []
    for v in verts:
        if v.name in ll_w:
            a = g["SS"] - g["LL"] * ll_w[v.name]
        elif v.name[0] == "T":
            n = int(v.name[1:])
            c = (1 - np.cos(np.pi * (12 - n) / 8)) / 2 if n >= 4 else 1 + 0.08 * (4 - n)
            a = phi_l1 + g["K"] * c
        else:
            t1 = phi_l1 + g["K"] * 1.24
            a = t1 - g["CL"] * cl_w[v.name]
        out.append(a)
    return np.radians(np.array(out))


def _chain(g: dict, verts: list[Vert], phi: np.ndarray) -> dict:
    """Stack sacrum, discs and bodies along the sagittal curve (patient frame).

    Parameters
    ----------
    g : dict
        Case parameters (sacral slope ``SS`` in degrees).
    verts : list of Vert
        Vertebrae caudal to cranial.
    phi : numpy.ndarray
        SI-axis angles of the vertebrae (rad).

    Returns
    -------
    dict
        Centres ``c`` (n, 2: y, z), plane points ``pp`` (n+1, 2) and plane normal
        angles ``pa`` (n+1); plane i lies below vertebra i.
    """
    alpha = np.radians(g["SS"])
    pos = np.zeros(2)
    cs, pp, pa = [], [], []

    def ax(a: float) -> np.ndarray:
        return np.array([np.sin(a), np.cos(a)])

    for i, v in enumerate(verts):
        half = np.arctan(v.p["gs"] / 2)
        beta = phi[i] + half
        mid = 0.5 * (alpha + beta)
        pp.append(pos + 0.5 * v.p["disc"] * ax(mid))
        pa.append(mid)
        c = pos + v.p["disc"] * ax(mid) + 0.5 * v.p["h0"] * ax(phi[i])
        cs.append(c)
        pos = c + 0.5 * v.p["h0"] * ax(phi[i])
        alpha = phi[i] - half
    pp.append(pos + 2.5 * ax(alpha))
    pa.append(alpha)
    return {"c": np.array(cs), "pp": np.array(pp), "pa": np.array(pa)}


def build_spine(g: dict, verts: list[Vert]) -> dict:
    """Place all vertebrae and the sacrum in the scanner frame.

    Parameters
    ----------
    g : dict
        Case parameters.
    verts : list of Vert
        Vertebrae caudal to cranial, already fractured; updated in place.

    Returns
    -------
    dict
        ``to_scan`` (callable patient->scanner points), ``Rroll``, ``sac_R``,
        ``sac_t`` and per-level patient-frame profiles ``prof``.
    """
    phi = _target_angles(g, verts)
    for i, v in enumerate(verts):
        if v.frac["grade"]:
            delta = 2 * (np.arctan(v.p["gs0"] / 2) - np.arctan(v.p["gs"] / 2))
            phi[i] += delta / 2
            phi[i + 1:i + 2] += 2 * delta / 3
            phi[i + 2:i + 3] += delta / 3
    lw = np.array([v.p["h0"] + v.p["disc"] for v in verts])
    mean = float(np.sum(phi[:17] * lw[:17]) / lw[:17].sum())
    phi = phi - mean
    gg = dict(g, SS=g["SS"] - np.degrees(mean))
    ch = _chain(gg, verts, phi)
    amp = np.radians(g["cobb"]) * g["cobb_len"] / (2 * np.pi) * g["cobb_dir"]

    def scol(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.clip((np.asarray(z) - g["cobb_mid"]) / g["cobb_len"] + 0.5, 0, 1)
        return amp * np.sin(np.pi * t) ** 2, np.arctan(amp * np.pi * np.sin(2 * np.pi * t)
                                                       / g["cobb_len"])

    piv = np.array([0.0, float(np.mean(ch["c"][:, 0])) + 60.0, 0.0])
    Rr = rot_z(np.radians(g["roll"]))
    off = np.array([g["shift"], 0.0, 0.0])

    def to_scan(q: np.ndarray) -> np.ndarray:
        return (np.asarray(q) - piv) @ Rr.T + piv + off

    for i, v in enumerate(verts):
        y, z = ch["c"][i]
        x, psi = scol(z)
        v.phi, v.psi = float(phi[i]), float(psi)
        v.R = Rr @ rot_y(psi) @ rot_x(phi[i])
        v.t = to_scan(np.array([x, y, z]))
        for key, j in (("lo", i), ("up", i + 1)):
            yp, zp = ch["pp"][j]
            xp, pp_ = scol(zp)
            n = Rr @ rot_y(pp_) @ rot_x(ch["pa"][j]) @ np.array([0, 0, 1.0])
            v.planes[key] = (n, to_scan(np.array([xp, yp, zp])))
    x0, psi0 = scol(0.0)
    zc = ch["c"][:, 1]
    prof = {"z": zc, "x": scol(zc)[0], "y": ch["c"][:, 0],
            "W": np.array([v.p["W"] for v in verts]), "B": np.array([v.p["B"] for v in verts])}
    return {"to_scan": to_scan, "Rroll": Rr, "piv": piv, "off": off, "prof": prof,
            "sac_R": Rr @ rot_y(psi0) @ rot_x(np.radians(gg["SS"])),
            "sac_t": to_scan(np.array([x0, 0.0, 0.0])), "SS_eff": gg["SS"]}
