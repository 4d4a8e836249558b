"""Fetching one table's pull pages ahead of the writer, on a thread of their own.

Pages are keyset pages (`updated_at > cursor`), so the cursor of page N+1 is the last stamp of page N —
known as soon as page N has arrived, long before it is written. A `PageStream` therefore fetches page
N+1 (and N+2) while the caller writes page N: network and SQLite overlap. At most `depth` pages wait in
memory, so memory stays flat however big the table is. Nothing here writes or moves a cursor: the caller
stores each page's rows with their cursor in one transaction, exactly as if it had fetched them itself.

Rows the last push adopted from the server's replies (`AdoptedRanges`) are left out by the filter, so a
cycle does not download what it has just written; see `AdoptedRanges` for why that never skips a row.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime

from sync.stamps import server_stamp

PUT_POLL = 0.1  # seconds between checks for a stop request while the queue is full


class AdoptedRanges:
    """Per table, the stamp ranges of rows a push wrote and stored locally from the server's own reply.

    One push request is one server transaction, and the server takes a user's stamps while holding that
    user's clock row locked until commit (supabase/migrations …sync_stamping): no other write of the user
    can take a stamp between the first and the last stamp of that transaction. So every row of the table
    whose stamp lies in [first, last] of such a request is one of the rows the reply returned — already
    stored here — and a pull may leave the range out. Rows written before, between or after those requests
    (another device's) lie outside every range and are pulled as always. A row changed again later has a
    new stamp outside the range, so its newer version is pulled too."""

    def __init__(self):
        self._ranges: dict[str, list[tuple[datetime, datetime, str, str]]] = {}

    def add(self, table: str, stamps: list[str]) -> None:
        parsed = sorted((server_stamp(s), s) for s in stamps)
        if parsed:
            self._ranges.setdefault(table, []).append((parsed[0][0], parsed[-1][0], parsed[0][1], parsed[-1][1]))

    def tables(self) -> set[str]:
        return set(self._ranges)

    def after(self, table: str, cursor: str | None) -> list[tuple[str, str]]:
        """The (first, last) stamp strings of the ranges that reach past `cursor`, in order."""
        floor = server_stamp(cursor) if cursor else None
        return [(lo_s, hi_s) for lo, hi, lo_s, hi_s in sorted(self._ranges.get(table, ()))
                if floor is None or hi > floor]

    def newest(self, table: str) -> str | None:
        ranges = self._ranges.get(table)
        return max(ranges, key=lambda r: r[1])[3] if ranges else None


def page_params(columns: tuple[str, ...], owner: str, user_id: str, cursor: str | None, page_size: int,
                skip: list[tuple[str, str]]) -> dict:
    params = {"select": ",".join(columns), owner: f"eq.{user_id}", "order": "updated_at.asc",
              "limit": str(page_size)}
    if cursor is not None:
        params["updated_at"] = f"gt.{cursor}"
    if skip:
        # Quoted values: a stamp holds '.', ':' and '+', which PostgREST's logic-tree grammar reserves.
        params["and"] = "(" + ",".join(f'or(updated_at.lt."{lo}",updated_at.gt."{hi}")' for lo, hi in skip) + ")"
    return params


class PageStream:
    """Pages of one table after `cursor`, fetched ahead on a daemon thread. `next_page(timeout)` returns the
    next page (a list; shorter than `page_size` means it is the last) or raises what the fetch raised;
    `queue.Empty` if none arrived within `timeout`. `close()` stops fetching (call it when done)."""

    def __init__(self, name: str, fetch: Callable[[str | None], list[dict]], cursor: str | None, page_size: int,
                 depth: int = 2):
        self._fetch, self._page_size = fetch, page_size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cursor,), name=f"mirari-pull-{name}", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=PUT_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, cursor: str | None) -> None:
        try:
            while not self._stop.is_set():
                rows = self._fetch(cursor)
                if not self._put((rows, None)) or len(rows) < self._page_size:
                    return
                last = rows[-1].get("updated_at") if isinstance(rows[-1], dict) else None
                if not isinstance(last, str):
                    return  # the writer halts at that row; nothing after it can be asked for
                cursor = last
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which raises it
            self._put((None, exc))

    def next_page(self, timeout: float | None = None) -> list[dict]:
        rows, exc = self._queue.get(timeout=timeout)
        if exc is not None:
            raise exc
        return rows

    def ready(self) -> bool:
        return not self._queue.empty()

    def close(self) -> None:
        """Stop fetching; a request in flight finishes in the background and its page is dropped."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
