"""Geometry primitives of the phantom.

Soft-edge occupancy of a signed distance, approximate signed distances to a 2-D ellipse,
an elliptic capsule and an oriented rounded box, and the three axis rotations.  Field
arithmetic is float32 (``F32``) throughout.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def soft(d: np.ndarray, eps: float) -> np.ndarray:
    """Box-filter occupancy of a signed distance field (negative inside)."""
    return np.clip(F32(0.5) - d * F32(1.0 / eps), 0.0, 1.0)


def ell(a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Approximate signed distance (mm) to an axis-aligned 2-D ellipse."""
    ea = a * F32(1.0 / ra)
    eb = b * F32(1.0 / rb)
    r = np.sqrt(ea * ea + eb * eb) + F32(1e-6)
    g = np.sqrt((ea * F32(1.0 / ra)) ** 2 + (eb * F32(1.0 / rb)) ** 2) / r + F32(1e-6)
    return (r - F32(1.0)) / g


def capsule(
    q: tuple[np.ndarray, np.ndarray, np.ndarray],
    p0: np.ndarray, p1: np.ndarray, r1: float, r2: float, e1: np.ndarray,
) -> np.ndarray:
    """Signed distance (approx.) to a capsule with an elliptic cross-section.

    Parameters
    ----------
    q : tuple of arrays
        Query coordinates (three broadcastable arrays).
    p0, p1 : numpy.ndarray
        Segment end points.
    r1, r2 : float
        Cross-section radii along ``e1`` and along ``d x e1``.
    e1 : numpy.ndarray
        Unit vector roughly perpendicular to the segment.

    Returns
    -------
    numpy.ndarray
        Approximate signed distance in mm.
    """
    d = p1 - p0
    L = float(np.linalg.norm(d)) + 1e-9
    d = d / L
    e1 = e1 - d * float(e1 @ d)
    e1 = e1 / (np.linalg.norm(e1) + 1e-9)
    e2 = np.cross(d, e1)
    rel = [q[i] - F32(p0[i]) for i in range(3)]
    s = rel[0] * F32(d[0]) + rel[1] * F32(d[1]) + rel[2] * F32(d[2])
    sc = np.clip(s, 0.0, L)
    a = rel[0] * F32(e1[0]) + rel[1] * F32(e1[1]) + rel[2] * F32(e1[2])
    b = rel[0] * F32(e2[0]) + rel[1] * F32(e2[1]) + rel[2] * F32(e2[2])
    rm = min(r1, r2)
    dist = np.sqrt((a / F32(r1)) ** 2 + (b / F32(r2)) ** 2 + ((s - sc) / F32(rm)) ** 2)
    return (dist - F32(1.0)) * F32(rm)


def box(
    q: tuple[np.ndarray, np.ndarray, np.ndarray], c: np.ndarray, axes: np.ndarray,
    half: np.ndarray, rad: float,
) -> np.ndarray:
    """Signed distance to an oriented rounded box (rows of ``axes`` are unit axes)."""
    qs = []
    for i in range(3):
        comp = sum((q[j] - F32(c[j])) * F32(axes[i, j]) for j in range(3))
        qs.append(np.abs(comp) - F32(half[i] - rad))
    out = np.sqrt(sum(np.maximum(x, 0.0) ** 2 for x in qs))
    inside = np.minimum(np.maximum(np.maximum(qs[0], qs[1]), qs[2]), 0.0)
    return out + inside - F32(rad)


def rot_x(a: float) -> np.ndarray:
    """Rotation taking +z towards +y by angle ``a`` (rad)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])


def rot_y(a: float) -> np.ndarray:
    """Rotation taking +z towards +x by angle ``a`` (rad)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation about +z by angle ``a`` (rad)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
