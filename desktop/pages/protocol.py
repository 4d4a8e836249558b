"""The hooks a page may offer the window, declared once (instead of `getattr(page, "shutdown", None)` and
`hasattr(page, "show_record")` wherever a caller wondered).

Every page mixes in `PageHooks` (after its Qt base class) and overrides what it needs; the defaults do
nothing. The window calls them; other pages never do — they ask the window through `ctx.navigate`.
"""

from __future__ import annotations


class PageHooks:
    def on_show(self) -> None:
        """The page came on screen (also the first time, right after it was built)."""

    def shutdown(self) -> None:
        """The window is closing or switching databases: stop timers and cancel this page's work."""

    def show_record(self, record_id: str) -> bool:
        """Show one of this page's records (a Mirror report, a template). False: the page cannot."""
        return False

    def show_thread(self, thread_id: str) -> bool:
        """Open a thread (the Console). False: the page cannot."""
        return False

    def show_message(self, message_id: str) -> bool:
        """Open the thread of a message and bring the message into view (the Console). False: it cannot."""
        return False


def offers(page: object, hook: str) -> bool:
    """Does `page` implement `hook` itself (not the no-op default)?"""
    return getattr(type(page), hook, None) is not getattr(PageHooks, hook)
