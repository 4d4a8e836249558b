"""The one place that decides where MIRARI keeps its data on disk."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "MIRARI_DATA_DIR"
SIGNED_OUT_DATABASE = "local.sqlite3"
ACCOUNTS_DIR = "accounts"

# Account ids are Supabase user uuids; anything else could escape the accounts directory.
_ACCOUNT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


PRIVATE_UMASK = 0o077  # new files 0600, new folders 0700


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """While the `mirari` command runs (window or headless), every file and folder the process creates
    is readable only by the user. MIRARI's own writers set 0600 themselves; this also covers what they
    do not control (Qt's settings lock file, SQLite's journals, a library's cache). POSIX only: on
    Windows the profile folder's ACL protects the files. The previous umask comes back afterwards."""
    if os.name != "posix":
        yield
        return
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def _private_dir(path: Path, *, ours: bool) -> Path:
    """Create `path` as 0700. An existing directory is tightened only if MIRARI owns it (`ours`):
    a user-chosen --data-dir such as ~/Documents keeps the mode its owner gave it."""
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if ours or not existed:
        os.chmod(path, 0o700)  # private: chats, memory and the sync queue live here
    return path


def resolve_data_dir(override: str | None = None) -> Path:
    """The data directory: `override` (e.g. --data-dir) > $MIRARI_DATA_DIR > the platform's user data dir.

    The directory is created with mode 0700 if needed (the database files inside are 0600 regardless).
    """
    chosen = override or os.environ.get(DATA_DIR_ENV)
    if chosen:
        return _private_dir(Path(chosen).expanduser().resolve(), ours=False)
    return _private_dir(Path(platformdirs.user_data_dir("MIRARI", "MIRARI")).resolve(), ours=True)


def database_path(data_dir: Path, account_id: str | None = None) -> Path:
    """`local.sqlite3` for the signed-out database, `accounts/<account_id>.sqlite3` for an account."""
    data_dir = Path(data_dir)
    if account_id is None:
        return data_dir / SIGNED_OUT_DATABASE
    if not _ACCOUNT_ID.match(account_id):
        raise ValueError(f"account id must be a uuid, got {account_id!r}")
    return _private_dir(data_dir / ACCOUNTS_DIR, ours=True) / f"{account_id.lower()}.sqlite3"


def data_dir_of(database: Path) -> Path:
    """The data dir a database file belongs to (the inverse of `database_path`): the folder holding
    `local.sqlite3`, or the one above `accounts/`."""
    database = Path(database)
    if database.parent.name == ACCOUNTS_DIR and account_of(database) is not None:
        return database.parent.parent
    return database.parent


def account_of(database: Path) -> str | None:
    """The account id of an account's database (`accounts/<account_id>.sqlite3`), else None."""
    database = Path(database)
    if database.parent.name == ACCOUNTS_DIR and _ACCOUNT_ID.match(database.stem):
        return database.stem.lower()
    return None


def attachments_dir(database: Path) -> Path:
    """Where the attachments' bytes of one database live: `<stem>.files/` beside the database file
    (`local.files/`, `accounts/<account_id>.files/`), content-addressed inside. Beside it, not shared
    across databases, so one account's files never show through another account's rows, and the
    folder moves with its database when a first sign-in claims the signed-out file. Not created here."""
    database = Path(database)
    return database.with_name(f"{database.stem}.files")


def knowledge_dir(database: Path) -> Path:
    """Where the knowledge folders' search indexes of one database live: `<stem>.knowledge/` beside the
    database file (`local.knowledge/`, `accounts/<account_id>.knowledge/`), one SQLite file per set.
    Derived, device-local, rebuildable data with settings the database itself must never have
    (agent.knowledge.store): not in backups or exports. Not created here."""
    database = Path(database)
    return database.with_name(f"{database.stem}.knowledge")
