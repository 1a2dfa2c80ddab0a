"""Enhanced organs are told from bodies by their shell, net of the block maxima's noise."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from kypho.anatomy.engine import segment_spine
from kypho.anatomy.engine.enhanced_tissue import block_peak_excess_hu
from kypho.anatomy.engine.threshold import TissueStats, coarse_grid
from kypho.anatomy.levels import Level
from kypho.phantom.family import family_cases, generate_case


def _pooled(sd_hu: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    hu = (40.0 + sd_hu * rng.standard_normal((60, 60, 60))).astype(np.float32)
    grid = coarse_grid(hu.shape, (1.0, 1.0, 1.0))
    return grid.pool_mean(hu), grid.pool_max(hu), int(np.prod(grid.factors))


def test_the_excess_grows_with_the_noise_and_is_read_on_soft_tissue() -> None:
    for sd in (10.0, 45.0):
        mean, peak, n = _pooled(sd)
        stats = TissueStats(soft_tissue_hu=40.0, noise_hu=sd, bone_hu=300.0)
        excess = block_peak_excess_hu(mean, peak, stats)
        # The maximum of n normal voxels exceeds their mean by about Blom's expected
        # maximum (1.4 standard deviations for 8 voxels).
        expected = sd * norm.ppf((n - 0.375) / (n + 0.25))
        assert 0.85 * expected < excess < 1.15 * expected


def test_bone_edges_do_not_enter_the_excess() -> None:
    mean, peak, _ = _pooled(10.0)
    peak[:5] += 800.0  # blocks holding a cortex edge
    stats = TissueStats(soft_tissue_hu=40.0, noise_hu=10.0, bone_hu=300.0)
    assert block_peak_excess_hu(mean, peak, stats) < 25.0


def test_a_low_dose_portal_kidney_is_no_column() -> None:
    # s1-0068: thoracolumbar T10-L3, portal venous, low-dose (voxel noise ~74 HU), 1 mm.
    # Block maxima read a kidney's rim ~100 HU high: its shell passed for cortex and the
    # kidney (63 cm3) outweighed the column, which was lost.
    case = next(c for c in family_cases(1, 69) if c.name == "s1-0068")
    ph = generate_case(case)
    seg = segment_spine(ph.volume)
    truth = [np.asarray(t.centroid_ras_mm) for t in ph.truth.vertebrae]
    found = [np.asarray(i.centroid_ras_mm) for i in seg.levels if i.level is not Level.S]
    near = [min(np.linalg.norm(f - t) for f in found) for t in truth]
    assert sum(d < 20.0 for d in near) >= len(truth) - 1
