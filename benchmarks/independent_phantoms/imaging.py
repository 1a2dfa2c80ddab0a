"""Image formation and storage.

Point-spread function and (optionally correlated) noise applied to the rendered volume,
then the int16 cast, a random storage axis order and flips, and the exact affine.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .rendering import Canvas
from .shapes import F32


def image_formation(rng: np.random.Generator, cv: Canvas) -> dict[str, str]:
    """Apply the point-spread function and noise in place; return tags."""
    gr = cv.grid
    sxy = rng.uniform(0.4, 0.8)
    sz = 0.3 if gr.dz <= 1.25 else 0.2
    ndimage.gaussian_filter(cv.vol, (sz, sxy / gr.dx, sxy / gr.dx), output=cv.vol,
                            truncate=3.0)
    sd = rng.uniform(10, 40)
    corr = rng.random() < 0.5
    fac = 1.0
    if corr:
        x = np.arange(-3, 4)
        k = np.exp(-x * x / (2 * 0.7 ** 2))
        fac = float((k / k.sum()) @ (k / k.sum()))
    for k0 in range(0, gr.nz, 32):
        n = rng.standard_normal((min(32, gr.nz - k0), gr.ny, gr.nx), dtype=F32)
        if corr:
            ndimage.gaussian_filter(n, (0, 0.7, 0.7), output=n, truncate=3.0)
        cv.vol[k0:k0 + 32] += n * F32(sd / fac)
    return {"psf_sigma_mm": f"{sxy:.2f}", "noise_sd": f"{sd:.1f}",
            "noise": "correlated" if corr else "white"}


def storage(rng: np.random.Generator, cv: Canvas, offset: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast to int16, choose a storage permutation/flips and the exact affine."""
    gr = cv.grid
    np.clip(cv.vol, -1024, 3071, out=cv.vol)
    np.rint(cv.vol, out=cv.vol)
    arrs = [cv.vol.astype(np.int16).transpose(2, 1, 0), cv.labv.transpose(2, 1, 0),
            cv.labb.transpose(2, 1, 0)]
    perm = [0, 1, 2] if rng.random() < 0.75 else [int(i) for i in rng.permutation(3)]
    flips = [bool(rng.random() < 0.5) for _ in range(3)]
    dims = (gr.nx, gr.ny, gr.nz)
    a0 = np.diag([gr.dx, gr.dx, gr.dz, 1.0])
    a0[:3, 3] = np.array([gr.x0, gr.y0, gr.z0]) + offset
    M = np.zeros((4, 4))
    M[3, 3] = 1
    for q, a in enumerate(perm):
        M[a, q] = -1.0 if flips[a] else 1.0
        M[a, 3] = dims[a] - 1 if flips[a] else 0.0
    out = []
    for arr in arrs:
        arr = arr[tuple(slice(None, None, -1) if f else slice(None) for f in flips)]
        out.append(arr.transpose(perm))
    return out[0], out[1], out[2], a0 @ M
