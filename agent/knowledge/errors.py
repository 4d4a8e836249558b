"""The error every knowledge operation raises for what cannot be done (its str() says why)."""

from __future__ import annotations


class KnowledgeError(ValueError):
    """A knowledge command that cannot be done; str() says why."""
