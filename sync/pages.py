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
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
                skip: list[tuple[str, str]], upto: str | None = None) -> dict:
    """A keyset page after `cursor`; `upto`: the range ends at that stamp (included)."""
    params = {"select": ",".join(columns), owner: f"eq.{user_id}", "order": "updated_at.asc",
              "limit": str(page_size)}
    if cursor is not None:
        params["updated_at"] = f"gt.{cursor}"
    # Quoted values: a stamp holds '.', ':' and '+', which PostgREST's logic-tree grammar reserves.
    tree = [f'updated_at.lte."{upto}"'] if upto is not None else []
    tree += [f'or(updated_at.lt."{lo}",updated_at.gt."{hi}")' for lo, hi in skip]
    if tree:
        params["and"] = "(" + ",".join(tree) + ")"
    return params


class Page(list):
    """Rows of one page, in stamp order. `last`: None when a short page means the end (a keyset page),
    False for a range page, which may be short (its rows moved to later stamps) and is never the last."""

    last: bool | None = None
    server_date = None


def _after(bounds: list[str] | None, cursor: str) -> list[str] | None:
    """Bounds asked for one page earlier, used after that page: the first must be that page's last stamp
    (else something changed in between: None)."""
    try:
        if bounds and server_stamp(bounds[0]) == server_stamp(cursor):
            return bounds[1:]
    except ValueError:
        pass
    return None


def _last_stamp(rows: list) -> str | None:
    """The last row's stamp, where the next page starts (None: the writer halts at that row)."""
    last = rows[-1].get("updated_at") if isinstance(rows[-1], dict) else None
    return last if isinstance(last, str) else None


def _as_page(rows: list, last: bool | None) -> list:
    if last is None:
        return rows
    page = Page(rows)
    page.__dict__.update(getattr(rows, "__dict__", {}))  # the reply's Date, what the fetch worked out
    page.last = last
    return page


class PageStream:
    """Pages of one table after `cursor`, fetched ahead on threads of their own. `next_page(timeout)` returns
    the next page (a list; see `Page` for how its end is told) or raises what a fetch raised; `queue.Empty`
    if none arrived within `timeout`. `close()` stops fetching (call it when done).

    `fetch(after, upto)` reads one page. With `bounds(after)` (the server's `sync_page_bounds`: the stamp
    of every page_size-th row after a cursor, or None when it cannot say), a big pull asks for many ranges
    (b[k], b[k+1]] at once on `workers` threads and hands them over in order; the keyset walk goes on
    after the last bound. A range is read to its end whatever the bounds said (another page if one comes
    back full before its upper stamp), so a wrong bound costs a request, never a row."""

    def __init__(self, name: str, fetch: Callable[[str | None, str | None], list[dict]], cursor: str | None,
                 page_size: int, depth: int = 2, bounds: Callable[[str], list[str] | None] | None = None,
                 workers: int = 3):
        self._fetch, self._page_size, self._bounds, self._workers = fetch, page_size, bounds, workers
        self._queue: queue.Queue = queue.Queue(maxsize=depth + workers)
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
            with ThreadPoolExecutor(self._workers, thread_name_prefix="mirari-pull-range") as pool:
                ranged = self._bounds is not None
                # Bounds are asked for after the first full page of a table's first pull (it is likely
                # big: a new device), else after the second (a table of a page or two never pays the
                # request); the next page is fetched meanwhile.
                wanted, full = (1 if cursor is None else 2), 0
                asked = None
                while not self._stop.is_set():
                    rows = self._fetch(cursor, None)
                    if not self._put((rows, None)) or len(rows) < self._page_size:
                        return
                    last = _last_stamp(rows)
                    if last is None:
                        return  # the writer halts at that row; nothing after it can be asked for
                    cursor, full = last, full + 1
                    if not ranged or full < wanted:
                        continue
                    if asked is None:
                        asked = pool.submit(self._bounds, cursor)
                        continue
                    found, asked = asked.result(), None
                    bounds = _after(found, cursor)  # they start after the page fetched meanwhile
                    if bounds is None and found:
                        bounds = self._bounds(cursor)  # something changed in between: ask again
                    if not bounds:
                        ranged = bounds is not None  # None: the server cannot say; walk one by one
                        continue
                    cursor = self._ranges(pool, cursor, bounds)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which raises it
            self._put((None, exc))

    def _ranges(self, pool: ThreadPoolExecutor, cursor: str, bounds: list[str]) -> str:
        """Fetch the ranges `bounds` marks after `cursor`, `workers` at a time, and hand their pages over in
        order. Returns the cursor to go on from: the last bound."""
        pending: deque = deque()
        for span in zip([cursor, *bounds[:-1]], bounds, strict=True):
            while len(pending) >= self._workers:  # at most `workers` ranges ahead: memory stays flat
                if not self._hand_over(pending.popleft().result()):
                    return cursor
            if self._stop.is_set():
                return cursor
            pending.append(pool.submit(self._read_range, *span))
        while pending:
            if not self._hand_over(pending.popleft().result()):
                return cursor
        return bounds[-1]

    def _hand_over(self, pages: list[list]) -> bool:
        return all(self._put((_as_page(rows, False), None)) for rows in pages)

    def _read_range(self, after: str, upto: str) -> list[list]:
        pages = []
        while not self._stop.is_set():
            rows = self._fetch(after, upto)
            pages.append(rows)
            if len(rows) < self._page_size:
                return pages
            newest = _last_stamp(rows)
            if newest is None:
                return pages  # the writer halts at that row
            try:
                if server_stamp(newest) >= server_stamp(upto):
                    return pages
            except ValueError:
                return pages
            after = newest  # more rows in this range than the bounds said: read on
        return pages

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
