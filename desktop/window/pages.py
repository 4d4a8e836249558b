"""The window's pages by key, each built the first time it is asked for (shown, navigated to, or read
by a test): the window is ready once the start page exists, not after building all twelve."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from PySide6.QtWidgets import QWidget


class Pages(Mapping):
    """A read-only mapping key -> page over every page of the navigation. `pages[key]` builds the page if
    it is not built yet; `built()` lists only those that exist (what shutting down has to stop)."""

    def __init__(self, keys: tuple[str, ...] = (), build: Callable[[str], QWidget] | None = None):
        self._keys = keys
        self._build = build
        self._built: dict[str, QWidget] = {}

    def __getitem__(self, key: str) -> QWidget:
        page = self._built.get(key)
        if page is None:
            if key not in self._keys:
                raise KeyError(key)
            page = self._built[key] = self._build(key)
        return page

    def __contains__(self, key: object) -> bool:  # without building it
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def built(self) -> dict[str, QWidget]:
        return dict(self._built)
