"""Synthetic spine CT phantoms with exact ground truth.

>>> from kypho.phantom import PhantomConfig, FractureSpec, generate
>>> ph = generate(PhantomConfig(top="T12", bottom="L2", spacing_mm=(2, 2, 2),
...                             fractures=(FractureSpec("L1", "wedge", 0.3),)))
>>> ph.truth.get("L1").genant_grade.name
'MODERATE'
"""

from kypho.phantom.config import FractureSpec, PhantomConfig, PhantomConfigError
from kypho.phantom.generate import Phantom, generate
from kypho.phantom.reference import truth_segmentation, truth_spine
from kypho.phantom.suite import demo_config, suite_configs
from kypho.phantom.truth import PhantomTruth, VertebraTruth, genant_grade_from_loss
from kypho.phantom.write import write_case

__all__ = [
    "FractureSpec",
    "Phantom",
    "PhantomConfig",
    "PhantomConfigError",
    "PhantomTruth",
    "VertebraTruth",
    "demo_config",
    "genant_grade_from_loss",
    "generate",
    "suite_configs",
    "truth_segmentation",
    "truth_spine",
    "write_case",
]
