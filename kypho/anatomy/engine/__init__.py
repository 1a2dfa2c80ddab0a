"""Built-in CPU vertebra segmentation: classical image analysis, no model weights.

>>> from kypho.anatomy.engine import segment_spine
>>> seg = segment_spine(volume)            # doctest: +SKIP
>>> [i.level.display for i in seg.levels]  # doctest: +SKIP
['T10', 'T11', 'T12', 'L1', 'L2', 'L3', 'L4', 'L5', 'S']
"""

from kypho.anatomy.engine.bodies import body_from_vertebra
from kypho.anatomy.engine.spine import segment_spine

__all__ = ["body_from_vertebra", "segment_spine"]
