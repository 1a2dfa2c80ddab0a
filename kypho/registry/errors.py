"""The registry's own exceptions: one clear sentence each, caught by the CLI and web app."""

from __future__ import annotations

from kypho.errors import KyphoError

__all__ = ["InvalidResponseError", "NotFoundError", "RegistryError"]


class RegistryError(KyphoError):
    """A registry operation that cannot be done as asked (bad URL, duplicate, conflict)."""


class InvalidResponseError(RegistryError):
    """An instrument answer outside its allowed range or of the wrong shape."""


class NotFoundError(RegistryError):
    """A patient, study, visit or file that does not exist (or was soft-deleted)."""
