"""Signed-distance-like primitives evaluated on coordinate arrays (negative inside, mm).

They are exact in sign and close to a true distance near the surface, which is all the
rasteriser needs: it normalises by the numerical gradient to anti-alias edges, so a
scaled distance (ellipses, ellipsoids) is as good as a Euclidean one.
All functions take coordinate arrays of any (broadcastable) shape and return float32.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Pose",
    "ellipse2",
    "ellipsoid",
    "elliptic_capsule",
    "rot_x",
    "rot_y",
    "rot_z",
    "slab",
]

Array = np.ndarray


def ellipse2(u: Array, v: Array, a: float | Array, b: float | Array) -> Array:
    """Elliptic cylinder with semi-axes `a` (along u) and `b` (along v)."""
    a, b = np.maximum(a, 1e-3), np.maximum(b, 1e-3)
    if np.ndim(a) == 0:
        a, b = float(a), float(b)
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return ((r - 1.0) * np.minimum(a, b)).astype(np.float32, copy=False)


def ellipsoid(u: Array, v: Array, w: Array, a: float, b: float, c: float) -> Array:
    """Axis-aligned ellipsoid centred at the origin with semi-axes a, b, c."""
    a, b, c = (max(float(s), 1e-3) for s in (a, b, c))
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2 + (w / c) ** 2)
    return ((r - 1.0) * min(a, b, c)).astype(np.float32, copy=False)


def slab(w: Array, lo: Array | float, hi: Array | float) -> Array:
    """The slab lo <= w <= hi."""
    return np.maximum(lo - w, w - hi).astype(np.float32, copy=False)


def elliptic_capsule(
    x: Array,
    y: Array,
    z: Array,
    p0: Array,
    p1: Array,
    r0: tuple[float, float],
    r1: tuple[float, float],
    e_ref: Array,
) -> Array:
    """A tapered tube with elliptic cross-section and rounded ends.

    Parameters
    ----------
    x, y, z : ndarray
        Coordinates (mm).
    p0, p1 : (3,) array_like
        End points of the axis.
    r0, r1 : (float, float)
        Cross-section semi-axes at `p0` and `p1`: the first along `e_ref` (made
        orthogonal to the axis), the second along axis x `e_ref`.
    e_ref : (3,) array_like
        Reference direction for the first semi-axis.
    """
    p0 = np.asarray(p0, float)
    v = np.asarray(p1, float) - p0
    length = float(np.linalg.norm(v))
    vh = v / max(length, 1e-9)
    e1 = np.asarray(e_ref, float) - np.dot(e_ref, vh) * vh
    e1 /= max(float(np.linalg.norm(e1)), 1e-9)
    e2 = np.cross(vh, e1)
    # Python floats keep the arithmetic in float32 (NumPy 2 promotes float64 scalars).
    vx, vy, vz = (float(c) for c in vh)
    ax, ay, az = (float(c) for c in e1)
    bx, by, bz = (float(c) for c in e2)
    dx, dy, dz = x - float(p0[0]), y - float(p0[1]), z - float(p0[2])
    t = dx * vx + dy * vy + dz * vz
    tc = np.clip(t, 0.0, length)
    q1 = dx * ax + dy * ay + dz * az
    q2 = dx * bx + dy * by + dz * bz
    if r0 == r1:
        ra, rb = float(r0[0]), float(r0[1])
        rmin = min(ra, rb)
    else:
        frac = tc * (1.0 / max(length, 1e-9))
        ra = float(r0[0]) + float(r1[0] - r0[0]) * frac
        rb = float(r0[1]) + float(r1[1] - r0[1]) * frac
        rmin = np.minimum(ra, rb)
    t -= tc
    r = np.sqrt((q1 / ra) ** 2 + (q2 / rb) ** 2 + (t / rmin) ** 2)
    r -= 1.0
    r *= rmin
    return r.astype(np.float32, copy=False)


def rot_x(deg: float) -> Array:
    """Rotation about x by `deg` (right hand: y turns towards z)."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(deg: float) -> Array:
    """Rotation about y by `deg` (right hand: z turns towards x)."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(deg: float) -> Array:
    """Rotation about z by `deg` (right hand: x turns towards y)."""
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class Pose:
    """A rigid frame: ``world = origin + rot @ local`` (columns of `rot` = local axes)."""

    __slots__ = ("origin", "rot")

    def __init__(self, rot: Array, origin: Array) -> None:
        self.rot = np.asarray(rot, dtype=float).reshape(3, 3)
        self.origin = np.asarray(origin, dtype=float).reshape(3)

    def compose(self, rot: Array | None = None, shift: Array | None = None) -> Pose:
        """Move by `shift` (local), then rotate by `rot` (local), giving a child frame."""
        origin = self.origin if shift is None else self.origin + self.rot @ np.asarray(shift)
        r = self.rot if rot is None else self.rot @ np.asarray(rot)
        return Pose(r, origin)

    def to_world(self, local: Array) -> Array:
        """(..., 3) local -> world."""
        return np.asarray(local, float) @ self.rot.T + self.origin

    def to_local_xyz(self, x: Array, y: Array, z: Array) -> tuple[Array, Array, Array]:
        """World coordinate arrays -> local coordinate arrays (float32)."""
        dx, dy, dz = x - self.origin[0], y - self.origin[1], z - self.origin[2]
        r = self.rot
        out = []
        for k in range(3):
            out.append((dx * r[0, k] + dy * r[1, k] + dz * r[2, k]).astype(np.float32))
        return out[0], out[1], out[2]
