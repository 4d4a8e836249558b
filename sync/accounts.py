"""Which local database is active, and what signing in and out does to it.

- Signed out, never signed in: `local.sqlite3` (rows have no owner yet).
- The first sign-in on this device claims those rows: the file becomes `accounts/<user_id>.sqlite3`, the
  owner columns are set, and its outbox (every insert made while signed out) is pushed by the next sync.
- Any other account gets its own, new database: it never sees, and never pushes, another account's rows.
- Signing out stops sync and keeps the account's database (still the one the app shows, so nothing
  vanishes); `remove_data` deletes it and the app falls back to an empty signed-out database.

The device state lives in `account.json` in the data dir (no secrets: the session is in the keychain).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from local_schema import paths
from local_schema.atomic import atomic_write_json
from local_schema.files import replace
from sync.errors import SyncError
from sync.filelock import FileLock, LockTimeout

STATE_FILE = "account.json"
APP_LOCK_FILE = "app.lock"


def app_lock(data_dir: Path) -> FileLock:
    """Held by the desktop app for as long as it has this data dir's database open. The first sign-in
    moves the signed-out database file, which must never happen under an open app (its connection would
    go on writing to a moved file and an unlinked WAL), so the move takes this lock too, and so does
    removing an account's data on sign-out."""
    return FileLock(Path(data_dir) / APP_LOCK_FILE)


@dataclass
class AccountState:
    active_account: str | None = None  # user id whose database is active (kept after sign-out)
    email: str | None = None
    signed_in: bool = False
    claimed_by: str | None = None  # the account that took over the signed-out rows on first sign-in


def load_state(data_dir: Path) -> AccountState:
    path = Path(data_dir) / STATE_FILE
    if not path.exists():
        return AccountState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return AccountState(**{k: raw.get(k) for k in AccountState.__dataclass_fields__})
    except (OSError, ValueError, TypeError) as exc:
        raise SyncError(f"cannot read {path}: {exc}; fix or delete it (your databases are untouched)") from exc


def save_state(data_dir: Path, state: AccountState) -> None:
    atomic_write_json(Path(data_dir) / STATE_FILE, asdict(state))


def active_database_path(data_dir: Path) -> Path:
    state = load_state(data_dir)
    return paths.database_path(Path(data_dir), state.active_account)


def _claim_signed_out_rows(source: Path, user_id: str) -> None:
    """Set the owner of every unowned row, with capture suppressed (owners are server-managed)."""
    from local_schema.database import open_database
    from local_schema.models import SYNCED_TABLES, owner_column
    from sync.dbutil import write_tx

    db = open_database(source)
    try:
        with write_tx(db) as conn, db.applying_remote(conn):
            for table in SYNCED_TABLES:
                owner = owner_column(table)
                conn.exec_driver_sql(f'UPDATE "{table}" SET "{owner}" = ? WHERE "{owner}" IS NULL', (user_id,))
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _move_attachment_files(source: Path, target: Path) -> None:
    """The attachments' bytes move with their database (paths.attachments_dir: beside it)."""
    files, moved = paths.attachments_dir(source), paths.attachments_dir(target)
    if files.is_dir() and not moved.exists():
        replace(files, moved)


def _remove_database(path: Path) -> None:
    """The database, its WAL and shared memory, the backups made before its migrations, and the
    attachments' bytes kept beside it."""
    import shutil

    from local_schema.safety import backups_of

    for file in [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")] + backups_of(path):
        file.unlink(missing_ok=True)
    shutil.rmtree(paths.attachments_dir(path), ignore_errors=True)


@contextmanager
def _app_closed(data_dir: Path, then: str, held: bool = False):
    """Hold the app lock for a change to the database files; refuse while the window has them open.
    `held`: the caller (the window, its database closed) already holds it."""
    if held:
        yield
        return
    lock = app_lock(data_dir)
    try:
        lock.acquire(timeout=0)
    except LockTimeout:
        raise SyncError(f"MIRARI is open on this data folder: close it, then {then}") from None
    try:
        yield
    finally:
        lock.release()


def signed_in(data_dir: Path, user_id: str, email: str, *, app_lock_held: bool = False) -> Path:
    """Record a sign-in; on the first one on this device, claim the signed-out rows. Returns the db path.

    `app_lock_held=True` is for the window signing in while it is open: it has closed its database and
    keeps holding the app lock, so no other process can open the file while it moves."""
    data_dir = Path(data_dir)
    state = load_state(data_dir)
    target = paths.database_path(data_dir, user_id)
    local = paths.database_path(data_dir, None)
    if state.claimed_by is None:
        if local.exists() and not target.exists():
            with _app_closed(data_dir, then="sign in again (nothing was changed)", held=app_lock_held):
                _claim_signed_out_rows(local, user_id)
                # The WAL was checkpointed and truncated, so the main file holds everything.
                for suffix in ("-wal", "-shm"):
                    Path(f"{local}{suffix}").unlink(missing_ok=True)
                replace(local, target)
            _move_attachment_files(local, target)  # also after a crash between the two moves
        state.claimed_by = user_id
    state.active_account, state.email, state.signed_in = user_id, email, True
    save_state(data_dir, state)
    return target


def signed_out(data_dir: Path, remove_data: bool = False, *, app_lock_held: bool = False) -> Path:
    """Record a sign-out. Keeps the account's database unless `remove_data`. Returns the now-active path.
    `app_lock_held`: as for signed_in (the window removing the data it has just closed)."""
    data_dir = Path(data_dir)
    state = load_state(data_dir)
    state.signed_in = False
    save_state(data_dir, state)  # signed out first: refusing to remove the data must not keep a sign-in
    if remove_data and state.active_account:
        with _app_closed(data_dir, then="run `mirari account logout --remove-data` again (you are signed "
                                          "out; your data is still here)", held=app_lock_held):
            _remove_database(paths.database_path(data_dir, state.active_account))
            state.active_account, state.email = None, None
            save_state(data_dir, state)
    return paths.database_path(data_dir, state.active_account)
