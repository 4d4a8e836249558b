"""Small helpers shared by push and pull: column metadata, value encoding, sync_meta access.

Push and pull talk to SQLite through the driver (`exec_driver_sql`, executemany) rather than the ORM:
a 1,000-row page is applied in one statement, which is what makes first sync fast.
"""

from __future__ import annotations

import gc
import json
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property

import sqlalchemy as sa

from local_schema import models, timestamps


def now() -> str:
    return timestamps.utc_now()


@dataclass(frozen=True)
class TableInfo:
    name: str
    owner: str
    columns: tuple[str, ...]          # every column, table order
    client: tuple[str, ...]           # what a client may send (id + content)
    json_cols: frozenset[str]
    bool_cols: frozenset[str]
    required: frozenset[str]          # NOT NULL without a default we could fill

    @cached_property
    def _plain(self):
        """All columns at C speed (operator.itemgetter); booleans need no conversion (sqlite3 stores True as 1)."""
        return operator.itemgetter(*self.columns)

    @cached_property
    def _json_at(self) -> tuple[int, ...]:
        """Positions of the JSON columns in `columns`: only their non-null values are converted, so a table
        whose JSON column is mostly null (messages.tool_calls) keeps the fast path for most rows."""
        return tuple(i for i, col in enumerate(self.columns) if col in self.json_cols)

    @cached_property
    def required_values(self):
        """row -> the values of the NOT NULL columns (a tuple, also for one column)."""
        cols = sorted(self.required)
        return operator.itemgetter(*cols) if len(cols) > 1 else (lambda row: (row[cols[0]],))

    def encode(self, row: dict) -> tuple:
        """Server JSON row -> SQLite parameters in `columns` order (a column the server left out: NULL)."""
        try:
            values = self._plain(row)
        except KeyError:
            values = tuple(map(row.get, self.columns))
        converted = None
        for i in self._json_at:
            value = values[i]
            if value is not None:
                if converted is None:
                    converted = list(values)
                converted[i] = json.dumps(value, separators=(",", ":"))
        return values if converted is None else tuple(converted)

    def encode_rows(self, rows: list[dict]) -> list[tuple]:
        """`encode` of a page: the plain columns of every row at C speed, then the JSON values that are there."""
        try:
            values = list(map(self._plain, rows))
        except KeyError:
            return list(map(self.encode, rows))
        for i in self._json_at:
            column = [v[i] for v in values]
            if column.count(None) == len(column):
                continue
            for r, value in enumerate(column):
                if value is not None:
                    values[r] = (*values[r][:i], json.dumps(value, separators=(",", ":")), *values[r][i + 1:])
        return values

    def decode_client(self, values: tuple) -> dict:
        """SQLite values of `client` columns -> the JSON object push sends."""
        if not self.json_cols and not self.bool_cols:
            return dict(zip(self.client, values, strict=True))
        row = {}
        for col, value in zip(self.client, values, strict=True):
            if col in self.json_cols and isinstance(value, str):
                value = json.loads(value)
            elif col in self.bool_cols and value is not None:
                value = bool(value)
            row[col] = value
        return row


@cache
def table_info(table: str) -> TableInfo:
    model = models.MODELS_BY_TABLE[table]
    cols = model.__table__.columns
    return TableInfo(
        name=table,
        owner=models.owner_column(table),
        columns=models.all_columns(table),
        client=models.client_columns(table),
        json_cols=frozenset(c.name for c in cols if isinstance(c.type, sa.JSON)),
        bool_cols=frozenset(c.name for c in cols if isinstance(c.type, sa.Boolean)),
        required=frozenset(c.name for c in cols if not c.nullable),
    )


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def get_meta(conn, key: str) -> str | None:
    row = conn.exec_driver_sql("SELECT value FROM sync_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn, key: str, value: str | None) -> None:
    if value is None:
        conn.exec_driver_sql("DELETE FROM sync_meta WHERE key = ?", (key,))
    else:
        conn.exec_driver_sql("INSERT INTO sync_meta (key, value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


# For the sync engine's own connections only (the app's are left alone): a 16 MB cache keeps a big table's
# id index in memory, and the WAL is copied into the file once at the end of a cycle (`checkpoint()`), not
# every ~4 MB (why, and the figures: docs/sync.md, "Why it is built this way"). The 256 MB limit only
# bounds the WAL of a huge first sync. With synchronous=NORMAL a power cut (not a crash) can lose commits
# since the last checkpoint: the app's own connections keep SQLite's defaults, and what sync wrote in that
# window is pulled again (the cursor went with it) or replayed (every push is replay-safe).
SYNC_PRAGMAS = ("PRAGMA cache_size = -16384", "PRAGMA wal_autocheckpoint = 65536")
CHECKPOINT_BYTES = 4 << 20  # a cycle that leaves a bigger WAL copies it into the database file


def checkpoint(db) -> None:
    """Copy the WAL into the database file if a cycle left a big one (PASSIVE: never waits for a reader
    or blocks a writer; whatever it cannot copy now waits for the next time)."""
    import os

    try:
        size = os.path.getsize(f"{db.path}-wal")
    except OSError:
        return
    if size >= CHECKPOINT_BYTES:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _tune(dbapi_conn, info: dict) -> None:
    if not info.get("mirari_sync_tuned"):
        for pragma in SYNC_PRAGMAS:
            dbapi_conn.execute(pragma)
        info["mirari_sync_tuned"] = True


def tune_for_sync(db) -> None:
    """Apply SYNC_PRAGMAS to every connection `db` (the sync engine's own handle) hands out."""
    sa.event.listen(db.engine, "checkout", lambda dbapi_conn, record, _proxy: _tune(dbapi_conn, record.info))


def tune_connection(conn) -> None:
    """Apply SYNC_PRAGMAS to the pooled connection under `conn` (a SQLAlchemy Connection) if it has not had
    them: the window's database is the app's own handle, and a sync transaction on one of its connections
    should not checkpoint every 4 MB nor re-read the id index (docs/sync.md, "Why it is built this way").
    The connection keeps them: only the one or two connections sync used grow the cache."""
    _tune(conn.connection.driver_connection, conn.connection.info)


@contextmanager
def write_tx(db) -> Iterator:
    """A write transaction that takes SQLite's write lock up front (BEGIN IMMEDIATE).

    Sync reads and then writes in one transaction; with a deferred BEGIN a UI write committing in between
    would make the upgrade fail at once (SQLITE_BUSY_SNAPSHOT) instead of waiting for the busy timeout.
    """
    with db.write() as session:  # raw SQL: listeners are not told here; the engine reports what a cycle changed
        yield session.connection()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a push or a pull runs: reference counting still frees
    nearly everything they allocate (a read reply's reference cycle is broken in sync.rest), and the
    collector runs once it is back on. Each full collection walks the whole heap with the GIL held
    (docs/sync.md, "Why it is built this way"). One switch for the process: switched back on only if it
    was on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
