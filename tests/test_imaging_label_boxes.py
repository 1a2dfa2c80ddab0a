"""Label bounding boxes searched inside the labels' own box equal scipy's whole-map search."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.imaging.volume import LabelMap, label_boxes


def test_boxes_match_find_objects() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        shape = tuple(int(rng.integers(4, 30)) for _ in range(3))
        labels = np.zeros(shape, dtype=np.uint8)
        for _ in range(int(rng.integers(0, 6))):
            lo = [int(rng.integers(0, s)) for s in shape]
            hi = [min(s, a + int(rng.integers(1, 8))) for a, s in zip(lo, shape, strict=True)]
            labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = rng.integers(1, 9)
        assert LabelMap(labels, np.eye(4)).boxes() == ndimage.find_objects(labels)
        assert label_boxes(labels) == ndimage.find_objects(labels)
