"""kypho: vertebral compression fractures and balloon kyphoplasty from spine CT.

Research software: it supports, and does not replace, clinical judgement.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kypho.errors import KyphoError
from kypho.imaging.volume import LabelMap, Volume

__all__ = ["KyphoError", "LabelMap", "Volume", "__version__", "read_ct"]


def read_ct(path, *, series: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Read a CT (NIfTI, DICOM folder or file, NRRD, MHA/MHD) as a canonical :class:`Volume`.

    See :func:`kypho.imaging.read.read_ct` for the parameters.
    """
    from kypho.imaging.read import read_ct as _read_ct

    return _read_ct(path, series=series, **kwargs)
