"""The shared distance transform: exact, anisotropic, the same on any number of threads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kypho.imaging import distance


def _blob(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=(40, 36, 30)), 2.5) > 0


@pytest.mark.parametrize("black_border", [False, True])
def test_distance_matches_the_exact_transform(black_border: bool) -> None:
    mask = _blob(0)
    spacing = (0.7, 0.9, 2.5)
    got = distance.distance_mm(mask, spacing, black_border=black_border)
    padded = np.pad(mask, 1) if black_border else mask
    want = ndimage.distance_transform_edt(padded, sampling=spacing)
    if black_border:
        want = want[1:-1, 1:-1, 1:-1]
    assert got.dtype == np.float32 and got.shape == mask.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_threads_do_not_change_the_distances(monkeypatch: pytest.MonkeyPatch) -> None:
    mask = _blob(1)[:, ::-1]  # a strided view, as the stages pass crops
    many = distance.distance_mm(mask, (0.8, 0.8, 1.0), black_border=False)
    monkeypatch.setattr(distance, "worker_threads", lambda: 1)
    one = distance.distance_mm(mask, (0.8, 0.8, 1.0), black_border=False)
    assert np.array_equal(many, one)


def test_a_huge_spacing_keeps_the_transform_in_plane() -> None:
    mask = np.zeros((9, 9, 5), bool)
    mask[1:8, 1:8, :] = True  # a square prism through every slice
    got = distance.distance_mm(mask, (1.0, 1.0, 1.0e6), black_border=True)
    # The centre is 4 voxels from the square's outside in every slice, also the end ones.
    assert got[4, 4, 0] == pytest.approx(4.0) and got[4, 4, 2] == pytest.approx(4.0)
