"""kypho.anatomy: vertebrae found, labelled (VerSe numbering) and split into bodies.

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from kypho._lazy import exporter

_EXPORTS = {
    "Level": "kypho.anatomy.levels",
    "import_masks": "kypho.anatomy.masks",
    "level_from_totalseg_name": "kypho.anatomy.levels",
    "segment": "kypho.anatomy.segment",
    "segment_spine": "kypho.anatomy.segment",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exporter(__name__, _EXPORTS)
