"""Live sync: one Realtime socket for the signed-in account, feeding a SyncScheduler (no Qt).

- a poke (the server says this user's rows changed) → `scheduler.notify_poke(tables)`: a cycle ~0.15 s
  later, pokes arriving meanwhile joining it;
- every (re)join → `scheduler.notify_reconnected()`: a full cycle, since pokes are at most once and any
  sent while the socket was away are lost;
- while the socket is up the backstop poll runs every `poll_live` seconds (60), otherwise every
  `poll_offline` (15), as before there was a socket.
The window (desktop/sync_controller.py) and `mirari sync --watch` (agent/cli/sync_watch.py) use it the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sync.realtime import RealtimeLink

log = logging.getLogger(__name__)

POLL_LIVE = 60.0
POLL_OFFLINE = 15.0


def _noop(*_args) -> None:
    pass


class LiveSync:
    def __init__(self, engine, scheduler, *, poll_live: float = POLL_LIVE, poll_offline: float = POLL_OFFLINE,
                 on_state: Callable[[bool, str | None], None] = _noop, **link_options):
        self.engine, self.scheduler = engine, scheduler
        self.poll_live, self.poll_offline = poll_live, poll_offline
        self.on_state = on_state
        self.link_options = link_options
        self.link: RealtimeLink | None = None

    @property
    def live(self) -> bool:
        return self.link is not None and self.link.live

    def start(self) -> bool:
        """Open the socket for the signed-in account; False (and nothing started) when there is none.
        Reads two small files only (the window calls it on its UI thread): the session and its token are
        fetched on the link's own thread."""
        from sync import accounts

        try:
            state = accounts.load_state(self.engine.data_dir)
            config = self.engine.config
        except Exception as exc:  # noqa: BLE001 - an unreadable account or config: the poll still runs
            log.info("no live connection: %s", exc)
            self.on_state(False, str(exc))
            return False
        if not state.signed_in or not state.active_account:
            return False
        self.scheduler.set_interval(self.poll_offline)
        self.link = RealtimeLink(config.url, config.anon_key, state.active_account, self.engine.sessions.access_token,
                                 refresh=self.engine.sessions.refresh, on_poke=self.scheduler.notify_poke,
                                 on_joined=self.scheduler.notify_reconnected, on_state=self._state,
                                 **self.link_options)
        self.link.start()
        return True

    def stop(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.stop()

    def reconnect(self) -> None:
        if self.link is not None:
            self.link.reconnect()

    def _state(self, live: bool, detail: str | None) -> None:
        self.scheduler.set_interval(self.poll_live if live else self.poll_offline)
        self.on_state(live, detail)
