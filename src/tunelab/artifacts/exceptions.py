"""The error of an artifact that a store does not hold."""

from __future__ import annotations

from tunelab.exceptions import TunelabError


class ArtifactNotFound(TunelabError):
    """The artifact store holds no artifact with that id (never uploaded, or removed)."""


__all__ = ["ArtifactNotFound"]
