"""This install's version, as MIRARI introduces itself to MCP servers and to MCP clients."""

from __future__ import annotations


def mirari_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mirari-desktop")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
