"""kypho: vertebral compression fractures and balloon kyphoplasty from spine CT.

Research software: it supports, and does not replace, clinical judgement.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kypho.errors import KyphoError
from kypho.imaging.volume import LabelMap, Volume

__all__ = [
    "KyphoError",
    "LabelMap",
    "Volume",
    "__version__",
    "analyze",
    "load_results",
    "read_ct",
]


def read_ct(path, *, series: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Read a CT (NIfTI, DICOM folder or file, NRRD, MHA/MHD) as a canonical :class:`Volume`.

    See :func:`kypho.imaging.read.read_ct` for the parameters.
    """
    from kypho.imaging.read import read_ct as _read_ct

    return _read_ct(path, series=series, **kwargs)


def analyze(ct, **kwargs):  # type: ignore[no-untyped-def]
    """Run kypho on one CT (a :class:`Volume` or a path): segmentation, measurement, plan.

    See :func:`kypho.pipeline.analyze` for the parameters; returns its ``Analysis``.
    """
    from kypho.pipeline import analyze as _analyze

    return _analyze(ct, **kwargs)


def load_results(path):  # type: ignore[no-untyped-def]
    """Read a results.json back into its typed records (:func:`kypho.model.load_results`)."""
    from kypho.model import load_results as _load_results

    return _load_results(path)
