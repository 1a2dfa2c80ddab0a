"""Compatibility alias: the segmentation records live in :mod:`kypho.model.segmentation`."""

from kypho.model.segmentation import LevelInfo, Segmentation

__all__ = ["LevelInfo", "Segmentation"]
