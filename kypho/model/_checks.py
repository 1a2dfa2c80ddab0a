"""Validation helpers shared by the model's records (private to :mod:`kypho.model`)."""

from __future__ import annotations

import numpy as np

__all__ = ["finite", "unit_vector", "vec3"]


def vec3(v: object, name: str) -> tuple[float, float, float]:
    """Three finite floats as a tuple, or ``ValueError`` naming `name`."""
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be three finite numbers, got {v!r}")
    return (float(a[0]), float(a[1]), float(a[2]))


def unit_vector(v: object, name: str) -> tuple[float, float, float]:
    """A 3-vector of unit length (within 1e-3) as a tuple, or ``ValueError``."""
    a = np.asarray(v, dtype=float)
    n = float(np.linalg.norm(a)) if a.shape == (3,) else float("nan")
    if a.shape != (3,) or not np.isfinite(n) or abs(n - 1.0) > 1e-3:
        raise ValueError(f"{name} must be a 3-vector of unit length, got {v!r}")
    return (float(a[0]), float(a[1]), float(a[2]))


def finite(v: float, name: str, minimum: float | None = None) -> float:
    """`v` as a float when finite (and >= `minimum`), else ``ValueError``."""
    v = float(v)
    if not np.isfinite(v) or (minimum is not None and v < minimum):
        bound = "" if minimum is None else f" and >= {minimum}"
        raise ValueError(f"{name} must be finite{bound}, got {v}")
    return v
