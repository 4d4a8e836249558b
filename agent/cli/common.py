"""What every `mirari <noun> …` command module shares: one-line errors, the active database, ids,
keys, JSON output. Imported at every start of `mirari`, so nothing heavy is imported at module level.

    @guard
    def _list(args) -> int:
        with open_db(args) as db:
            ...
        return 0
"""

from __future__ import annotations

import functools
import json
import os
import sys
from contextlib import contextmanager

API_KEY_ENV = "MIRARI_API_KEY"


class CommandError(Exception):
    """An expected failure; str() is the one line printed after `mirari: error: `."""


def fail(message: str, code: int = 1) -> int:
    print(f"mirari: error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def guard(fn):
    """Expected failures become one line on stderr and a non-zero exit; nothing else is printed."""
    @functools.wraps(fn)
    def wrapper(args) -> int:
        try:
            return fn(args)
        except KeyboardInterrupt:
            return fail("interrupted", 130)
        except BrokenPipeError:  # `mirari memory list | head`: the reader left; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (CommandError, ValueError) as exc:  # includes agent.memory.atlas.AtlasError
            return fail(str(exc) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - e.g. a damaged database or key store: still one line
            from sync.errors import SyncError
            from sync.keyfile import KeyFileDamaged, WrongPassphrase
            from sync.secrets import SecretsUnavailable

            if isinstance(exc, SecretsUnavailable | SyncError | WrongPassphrase | KeyFileDamaged):
                return fail(str(exc))  # each is written as one readable line
            return fail(f"{type(exc).__name__}: {exc}")
    return wrapper


def print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def data_dir(args):
    from local_schema.paths import resolve_data_dir

    return resolve_data_dir(getattr(args, "data_dir", None))


@contextmanager
def open_db(args):
    """The active database of the data dir (the signed-in account's, else the signed-out one), the
    same file the window opens."""
    from local_schema.database import open_database
    from sync.accounts import active_database_path

    db = open_database(active_database_path(data_dir(args)))
    try:
        yield db
    finally:
        db.close()


def resolve_id(db, model, text: str, noun: str) -> str:
    """A live row's id from its full id or a unique prefix of at least 4 characters (the lists show 8)."""
    from sqlmodel import select

    wanted = (text or "").strip().lower()
    with db.session() as session:
        row = session.get(model, wanted) if wanted else None
        if row is not None and row.deleted_at is None:
            return row.id
        if len(wanted) >= 4:
            found = session.exec(select(model.id).where(model.id.startswith(wanted, autoescape=True),
                                                        model.deleted_at.is_(None)).limit(2)).all()
            if len(found) == 1:
                return found[0]
            if found:
                raise CommandError(f"{text} matches more than one {noun}: give more of the id")
    raise CommandError(f"no {noun} {text}")


def short(ident: str) -> str:
    return ident[:8]


def key_store(args, *, for_writing: bool = False):
    """The data dir's secret store (sync.secrets), unlocked if it is the encrypted file: by
    MIRARI_KEY_PASSPHRASE, else by a prompt in a terminal. Where no OS keychain exists and no file was
    chosen yet, writing a key needs the passphrase (it creates the file)."""
    from sync.secrets import NONE, PASSPHRASE_ENV, open_store, terminal_passphrase

    store = open_store(data_dir(args), create=for_writing, prompt=terminal_passphrase)
    status = store.status()
    if status.locked:
        raise CommandError(f"the API keys are in the encrypted key file: set {PASSPHRASE_ENV} or run in a terminal")
    if status.mode == NONE and for_writing:
        raise CommandError(f"no OS keychain here: set {PASSPHRASE_ENV} to keep API keys in an encrypted "
                           "file, or choose a fallback in the window's Settings")
    return store


def read_text(value: str) -> str:
    """A TEXT argument; "-" reads standard input."""
    return sys.stdin.read() if value == "-" else value
