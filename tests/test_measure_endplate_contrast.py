"""The endplate contrast a CT edge must clear is read against the image's noise."""

from __future__ import annotations

from kypho.anatomy.levels import Level
from kypho.measure.reference_levels import (
    MAX_NOISE_RATIO,
    body_noise_sd_hu,
    image_noise_sd_hu,
    min_endplate_contrast,
)
from kypho.measure.spine import measure_spine
from kypho.model import GenantGrade

from .family_helpers import segment_family_case
from .measure_helpers import block_crop


def test_a_body_s_own_structure_is_not_counted_as_the_image_s_noise() -> None:
    plain = [block_crop(seed=seed) for seed in range(4)]
    banded = block_crop(bands_hu=700.0, seed=9)
    crops = {lv: c for lv, c in zip((Level.T9, Level.T10, Level.T11, Level.L1), plain, strict=True)}
    crops[Level.T12] = banded
    image_sd = image_noise_sd_hu(crops)
    assert abs(image_sd - 30.0) < 5.0  # the median body's: the noise put in
    # Read on its own, the banded body's spread is many times the noise...
    assert body_noise_sd_hu(banded) > 3.0 * image_sd
    own = min_endplate_contrast(banded)
    # ...and against the image's noise its endplates (510 HU over the disc) clear it.
    capped = min_endplate_contrast(banded, image_sd_hu=image_sd)
    assert capped <= 4.0 * MAX_NOISE_RATIO * image_sd + 1e-6 < 510.0 < own
    # A body as noisy as the rest keeps its own threshold.
    assert min_endplate_contrast(plain[0], image_sd_hu=image_sd) == min_endplate_contrast(
        plain[0]
    )


def test_a_crushed_body_s_endplates_are_seen_in_the_ct() -> None:
    # s3-0020: T8-L5, 0.74 mm slices, a grade 3 crushed T12 (truth Ha/Hm/Hp 11.1/10.7/
    # 11.8 mm). Its interior, compacted bone and endplates in 11 mm, read an SD of
    # 205 HU (28-49 HU in the other bodies): the CT edges had to clear 558 HU, its
    # endplates stand 370-400 HU over the disc, and "grade 3 crush not confirmed by the
    # endplates in the CT: no endplates (0 % of columns)" left it not measurable.
    ph, seg = segment_family_case("s3-0020", seed=3)
    spine = measure_spine(ph.volume, seg)
    t12 = next(v for v in spine.vertebrae if v.level is Level.T12)
    assert t12.genant_grade is not None, t12.reason
    assert t12.genant_grade >= GenantGrade.MODERATE
    # Its neighbours stay normal.
    for v in spine.vertebrae:
        if v.level in (Level.T11, Level.L1):
            assert v.genant_grade == GenantGrade.NORMAL, (v.level, v.reason)
