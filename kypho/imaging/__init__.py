"""kypho.imaging: reading, writing and the geometry of CT volumes (RAS+ world mm).

The names below are the subpackage's public API, imported on first use (PEP 562) so that
importing one module of the subpackage does not load all of it.
"""

from kypho._lazy import exporter

_EXPORTS = {
    "LabelMap": "kypho.imaging.volume",
    "Volume": "kypho.imaging.volume",
    "atomic_write_bytes": "kypho.imaging.write",
    "atomic_write_text": "kypho.imaging.write",
    "is_thick_slice": "kypho.imaging.slices",
    "read_ct": "kypho.imaging.read",
    "write_labelmap": "kypho.imaging.write",
    "write_volume": "kypho.imaging.write",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exporter(__name__, _EXPORTS)
