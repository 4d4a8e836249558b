"""The sync engine: one object per data dir that signs in/out and runs sync cycles (push, then pull).

Everything here blocks on network and disk, so an app calls it from `SyncScheduler`'s worker thread or
another worker, never from its UI thread. The window owns exactly one engine (its SyncController's:
sync, sign-in and -out, the catalogue, the status all use it); the command line makes one per command
(agent.cli.sync.command_engine). State and progress are reported through plain callbacks:
`on_state(state: str, detail: str | None)`, `on_progress(phase: str, count: int)`, `on_alert(message)`.

A cycle has a deadline (CYCLE_DEADLINE, and each request its own: sync.rest): a server that accepts and
never answers, or answers a byte at a time, ends the cycle as `offline` and every change keeps waiting.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sync import accounts, heads
from sync.config import SupabaseConfig, load_supabase_config
from sync.errors import ConfigError, Kind, RequestFailed, SignInNeeded, SyncError, key_refused
from sync.keyfile import KeyFileDamaged, WrongPassphrase
from sync.session import SessionLocked, SessionManager, SessionStore

# States the UI can show.
IDLE, SYNCING, OFFLINE, SIGN_IN_NEEDED, SIGNED_OUT = "idle", "syncing", "offline", "sign-in needed", "signed out"
UPDATE_REQUIRED, ERROR = "update required", "error"
LOCKED = "locked"  # the session is in the encrypted key file and it is locked: waits for the passphrase
KEY_REFUSED = "key refused"  # the project refuses its anon key ("Invalid API key"): it changed its key

LOCK_TIMEOUT = 120.0
CYCLE_DEADLINE = 600.0  # seconds a cycle may talk to the server (a first sync of ~7 M rows fits)
log = logging.getLogger(__name__)

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(str(path), threading.Lock())


@dataclass
class CycleResult:
    state: str
    pushed: int = 0
    pulled: int = 0
    parked: int = 0
    quarantined: int = 0
    requests: int = 0
    duration_s: float = 0.0  # until every row is stored, its cursor committed and the app told
    upkeep_s: float = 0.0  # then: a first sync's deferred indexes and search index, the WAL checkpoint
    error: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait (429/503 Retry-After)
    deferred: int = 0  # changes waiting on their own backoff after a server error (the rest went on)
    retry_in: float | None = None  # seconds until the first of those is due (the scheduler comes back then)
    paused_tables: dict[str, str] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _noop(*_args) -> None:
    pass


class SyncEngine:
    def __init__(self, data_dir: Path, *, config: SupabaseConfig | None = None,
                 on_state: Callable[[str, str | None], None] = _noop,
                 on_progress: Callable[[str, int], None] = _noop,
                 on_alert: Callable[[str], None] = _noop,
                 database=None, secrets=None):
        """`database`: an already open LocalDatabase to sync (the desktop window's; see `attach`), used
        instead of opening and checking a second handle on the same file; the engine never closes it, and
        refuses to sync it once it is no longer the active account's database. `secrets`: the data dir's
        secret store (sync.secrets.SecretStore: the window's, or the command's), where the session is kept
        beside the API keys; without it, a headless store unlocked by MIRARI_KEY_PASSPHRASE."""
        self._secrets = secrets
        self.data_dir = Path(data_dir)
        self._config = config
        self._sessions: SessionManager | None = None
        self._db = None
        self._attached = database
        self.on_state, self.on_progress, self.on_alert = on_state, on_progress, on_alert
        self.state = SIGNED_OUT
        self.state_detail: str | None = None
        self._storage_client = None  # attachment bytes (sync.storage), made on first use
        self._rest_client = None  # kept across cycles: a new httpx client costs ~0.2 s (TLS setup)
        self._interrupted = False  # interrupt() was called: a failing request is the stop, not a fault
        # Files checked and migrated by this process (an attached database was, when the app opened it).
        self._prepared: set[Path] = {Path(database.path).resolve()} if database is not None else set()
        self._heads = True  # False once the server said it has no sync_heads (then every table is pulled)
        # The window shares its engine between the sync thread and background ops (catalogue, sign-in):
        # the secret store, session manager and REST client are each made once.
        self._making = threading.RLock()

    # -- configuration and session -------------------------------------------------------------------
    @property
    def config(self) -> SupabaseConfig:
        if self._config is None:
            self._config = load_supabase_config(self.data_dir)
        return self._config

    @property
    def secrets(self):
        with self._making:
            if self._secrets is None:
                from sync.secrets import open_store

                self._secrets = open_store(self.data_dir)
            return self._secrets

    @property
    def sessions(self) -> SessionManager:
        with self._making:
            if self._sessions is None:
                self._sessions = SessionManager(self.config, SessionStore(self.data_dir, self.secrets))
            return self._sessions

    def reconfigure(self) -> None:
        """Read the project URL and anon key again (the sign-in dialog saved new ones): the auth client
        and the REST client are made again on first use. A cycle in flight keeps the old ones."""
        config = load_supabase_config(self.data_dir)
        with self._making:
            if self._config is not None and config == self._config:
                return
            self._config, self._sessions = config, None
            rest, self._rest_client = self._rest_client, None
            storage, self._storage_client = self._storage_client, None
        for client in (rest, storage):
            if client is not None:
                client.close()

    def attach(self, database) -> None:
        """Sync this open database (the window's, after it opened or reopened one); None: none (the window
        is switching databases, or closing)."""
        if database is not None:
            self._prepared.add(Path(database.path).resolve())
        self._attached = database

    def database(self):
        """The active local database (opened on first use; reopened after an account switch)."""
        from local_schema.database import open_database
        from sync.dbutil import tune_for_sync

        path = accounts.active_database_path(self.data_dir).resolve()
        if self._attached is not None:
            self._check_attached(path)
            return self._attached
        if self._db is None or Path(self._db.path) != path:
            self.close_database()
            self._db = open_database(path, prepared=path in self._prepared)
            self._prepared.add(path)
            tune_for_sync(self._db)
        return self._db

    def _check_attached(self, path: Path) -> None:
        if self._attached is not None and Path(self._attached.path).resolve() != Path(path).resolve():
            # Never push one account's rows with another account's session.
            raise SyncError(f"the open database {self._attached.path} is not the active account's ({path})")

    def _prepare(self, path: Path) -> Path:
        """Check and migrate the file once per process, without SQLAlchemy (see `heads`). The check is
        SQLite's quick_check: a `mirari sync` run from a timer would otherwise spend most of an idle cycle
        in integrity_check (0.17 s at 50,000 messages, growing with the file); the window's start, which
        opens the database the app writes through, keeps the full check."""
        path = Path(path).resolve()
        if path not in self._prepared:
            from local_schema.prepare import prepare_file

            prepare_file(path, thorough=False)
            self._prepared.add(path)
        return path

    def close_database(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def interrupt(self) -> None:
        """Cut a running cycle short (a watcher ending on Ctrl+C): its requests fail at once and end the
        cycle quietly; what it had not finished is kept for the next one."""
        self._interrupted = True
        if self._rest_client is not None:
            self._rest_client.close()

    def close(self) -> None:
        self.close_database()
        if self._rest_client is not None:
            self._rest_client.close()
            self._rest_client = None
        if self._storage_client is not None:
            self._storage_client.close()
            self._storage_client = None

    def _set_state(self, state: str, detail: str | None = None) -> None:
        self.state, self.state_detail = state, detail
        try:
            self.on_state(state, detail)
        except Exception:  # a listener's bug must not turn a finished cycle into a crash of the sync thread
            log.exception("sync state listener failed")

    # -- accounts --------------------------------------------------------------------------------------
    # `app_lock_held=True`: the caller (the desktop window) has closed its database and holds the data
    # dir's app lock, so the first sign-in may move the signed-out file (see sync.accounts).
    def sign_up(self, email: str, password: str, *, app_lock_held: bool = False):
        return self.finish_sign_in(self.sessions.sign_up(email, password), app_lock_held)

    def sign_in(self, email: str, password: str, *, app_lock_held: bool = False):
        return self.finish_sign_in(self.sessions.sign_in(email, password), app_lock_held)

    def finish_sign_in(self, session, app_lock_held: bool = False):
        """Record a session obtained from `sessions.sign_in/sign_up` (the window asks for it while its
        database is still open, so a wrong password is said in the dialog, then closes the database and
        finishes here). Signs the session out again if the sign-in cannot be recorded."""
        self.close_database()  # the signed-out file may be moved to become this account's database
        try:
            with self._cycle_lock(accounts.active_database_path(self.data_dir)):
                accounts.signed_in(self.data_dir, session.user_id, session.email, app_lock_held=app_lock_held)
        except SyncError:
            # Not recorded as signed in (e.g. the app holds the database): keep no half-done sign-in
            # whose session could sync the unclaimed signed-out rows.
            self.sessions.sign_out()
            raise
        self._set_state(IDLE)
        return session

    def sign_out(self, remove_data: bool = False, *, app_lock_held: bool = False) -> Path:
        self.sessions.sign_out()
        with self._cycle_lock(accounts.active_database_path(self.data_dir)):  # let a running cycle finish
            self.close_database()
            path = accounts.signed_out(self.data_dir, remove_data, app_lock_held=app_lock_held)
        self._set_state(SIGNED_OUT)
        return path

    # -- one cycle -------------------------------------------------------------------------------------
    @contextmanager
    def _cycle_lock(self, db_path: Path):
        from sync.filelock import FileLock

        thread_lock = _thread_lock(Path(db_path).resolve())
        if not thread_lock.acquire(timeout=LOCK_TIMEOUT):
            raise SyncError("another sync of this database is running in this process")
        file_lock = FileLock(Path(f"{db_path}.sync-lock"))
        try:
            file_lock.acquire(LOCK_TIMEOUT)
            try:
                yield
            finally:
                file_lock.release()
        finally:
            thread_lock.release()

    def cycle_lock(self):
        """The lock a cycle holds on the active database (this process and others): for work that must not
        interleave with a cycle, e.g. discarding a parked change. Waits for a running cycle to end."""
        return self._cycle_lock(accounts.active_database_path(self.data_dir))

    @contextmanager
    def remote_tx(self, db=None):
        """A write transaction whose changes are not captured into the outbox (they come from the server).
        A cycle passes its own `db`: finding the active database reads account.json, once per page."""
        from sync.dbutil import tune_connection, write_tx

        db = self.database() if db is None else db
        with write_tx(db) as conn, db.applying_remote(conn):
            tune_connection(conn)
            yield conn

    def run_cycle(self) -> CycleResult:
        """Push, then pull. Never raises for sync trouble: the result (and on_state) says what happened."""
        started = time.monotonic()
        result = CycleResult(state=SYNCING)
        rest = None
        try:
            state = accounts.load_state(self.data_dir)
            if not state.signed_in or not state.active_account:
                raise SignInNeeded("signed out: run `mirari account login` to turn sync on")
            session = self.sessions.current()
            if session is None or session.user_id != state.active_account:
                raise SignInNeeded("sign-in needed: the saved session is missing or for another account")
            db_path = accounts.active_database_path(self.data_dir)
            with self._cycle_lock(db_path):
                self._set_state(SYNCING)
                rest = self.rest().within(CYCLE_DEADLINE)  # this cycle's requests share its deadline
                if self._cycle(rest, session.user_id, result, db_path):
                    data_in = time.monotonic()
                    self._upkeep()
                    result.upkeep_s = round(time.monotonic() - data_in, 4)
                    self._move_attachment_bytes()
        except SignInNeeded as exc:
            result.state, result.error = (SIGN_IN_NEEDED if "signed out" not in str(exc) else SIGNED_OUT), str(exc)
        except (SessionLocked, WrongPassphrase) as exc:  # (a wrong MIRARI_KEY_PASSPHRASE leaves it locked)
            result.state, result.error = LOCKED, str(exc)
        except KeyFileDamaged as exc:
            result.state, result.error = ERROR, str(exc)
        except ConfigError as exc:
            result.state, result.error = ERROR, str(exc)
        except RequestFailed as exc:
            result.state = OFFLINE if exc.kind is Kind.TRANSIENT and exc.status is None else ERROR
            if key_refused(exc):
                result.state = KEY_REFUSED
            result.error, result.retry_after = str(exc), exc.retry_after
        except SyncError as exc:
            result.state, result.error = ERROR, str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a locked or broken database: report, never kill the worker
            if self._interrupted:  # the client was closed under the cycle on purpose
                result.state, result.error = OFFLINE, "stopped"
            else:
                log.exception("sync cycle failed")
                result.state, result.error = ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            if rest is not None:
                result.requests = rest.requests
        result.duration_s = round(time.monotonic() - started - result.upkeep_s, 4)
        self._record(result)
        self._set_state(result.state, result.error)
        return result

    def rest(self):
        """The PostgREST client (shared by cycles and by parked-change actions; thread-safe)."""
        with self._making:
            if self._rest_client is None:
                from sync.rest import RestClient

                self._rest_client = RestClient(self.config.url, self.config.anon_key, self.sessions.access_token,
                                               self.sessions.refresh)
            return self._rest_client

    def _cycle(self, rest, user_id: str, result: CycleResult, db_path: Path) -> bool:
        """Push, then pull the tables whose server head moved (see `heads`). With nothing to push and no head
        moved, the cycle is the one heads request and never opens the SQLAlchemy database. True: the
        database was opened and upkeep is due."""
        self._check_attached(db_path)
        local = heads.look(self._prepare(db_path))
        moved, server_heads = self._moved(rest, local.cursors)
        if not local.work and not moved:
            result.state = IDLE
            return False
        self._full_cycle(rest, user_id, result, moved, local.cursors, server_heads)
        return True

    def storage(self):
        """The Storage client for attachment bytes (same session as rest(); thread-safe enough: one
        transfer at a time runs, under the cycle lock or a command's own)."""
        with self._making:
            if self._storage_client is None:
                from sync.storage import StorageClient

                self._storage_client = StorageClient(self.config.url, self.config.anon_key,
                                                     self.sessions.access_token, self.sessions.refresh)
            return self._storage_client

    def _move_attachment_bytes(self) -> None:
        """After the rows: upload the attachments whose rows are now on the server, remove the objects of
        those deleted here (sync.attachments). A transfer's trouble is kept on its row and retried with
        backoff; it never fails the cycle."""
        from sync import attachments

        try:
            report = attachments.transfer(self.database(), self.storage())
            if report.failed:
                log.warning("attachment bytes waiting: %s", report.failed)
        except Exception:  # noqa: BLE001 - the rows are in; bytes are retried next cycle
            log.exception("moving attachment bytes failed")

    def _upkeep(self) -> None:
        """What may wait until the rows are in and the app has been told (the window shows them meanwhile):
        a first sync's deferred indexes, its search backlog in short transactions, then copying a big WAL
        into the database file. A crash in between leaves it for the next cycle (sync.bulkload)."""
        from sync import bulkload
        from sync.dbutil import checkpoint

        db = self.database()
        bulkload.finish(db, self.on_progress)
        checkpoint(db)

    def _moved(self, rest, cursors: dict[str, str]) -> tuple[set[str], dict | None]:
        """The tables to pull: those whose server head moved past the cursor (all of them when the server
        cannot say), and the heads read (None when the server cannot say)."""
        server = heads.fetch(rest) if self._heads else heads.UNSUPPORTED
        if server == heads.UNSUPPORTED:
            self._heads = False  # an older server: not asked again by this engine
        if not isinstance(server, dict):
            return set(heads.SYNCED_TABLES), None
        return heads.moved(server, cursors), server

    def _full_cycle(self, rest, user_id: str, result: CycleResult, moved: set[str], cursors: dict,
                    server_heads: dict | None = None) -> None:
        from local_schema.models import SYNCED_TABLES
        from sync.pages import AdoptedRanges
        from sync.pull import Puller
        from sync.push import Pusher

        db = self.database()
        paused: set[str] = set()  # re-tried every cycle: the server (or the app) may have been updated
        remote_tx = functools.partial(self.remote_tx, db)  # the cycle lock keeps the account from switching
        adopted = AdoptedRanges()  # rows the push stored from the server's replies: the pull leaves them out
        pusher = Pusher(db, rest, user_id, remote_tx, paused, self.on_progress, adopted)
        push_failure = None
        try:
            pusher.push_all()
        except RequestFailed as exc:
            # A 5xx on one change only puts that change on its own backoff (push goes on); this is the
            # server failing change after change. It must not also keep this device from receiving:
            # pull anyway, then report the failure. Network trouble, 429/503 and unreadable replies
            # would fail the pull too, so they end the cycle here.
            if exc.kind is not Kind.SERVER:
                raise
            push_failure = exc
        finally:
            result.pushed, result.parked = pusher.result.pushed, pusher.result.parked
            result.paused_tables.update(pusher.result.paused_tables)
        if pusher.result.pushed and self._heads:
            # What the push wrote moved heads, and the server's cascades may have written other tables
            # (a deleted thread's messages, a deleted connection's references): ask once more, so the
            # cycle ends with this device as current as before it pushed.
            more, newer = self._moved(rest, cursors)
            moved |= more
            server_heads = newer or server_heads
        # A table the push wrote to is pulled too (its head moved), so that the cursor passes the adopted
        # rows now (next cycle they would look new) and any other device's row between them.
        tables = tuple(t for t in SYNCED_TABLES if t in moved or t in adopted.tables())
        puller = Puller(db, rest, user_id, remote_tx, self._alert, progress=self.on_progress, adopted=adopted,
                        heads=server_heads)
        try:
            puller.pull_all(tables, paused)
        finally:
            result.pulled, result.quarantined = puller.result.pulled, puller.result.quarantined
            result.parked += puller.result.parked
            result.alerts.extend(puller.result.alerts)
            result.paused_tables.update(puller.paused)
            self._announce(db, puller.result, pusher.result)
        from sync.dbutil import write_tx
        from sync.outbox import deferred

        with write_tx(db) as conn:
            waiting = deferred(conn)
        result.deferred, result.retry_in = len(waiting), (min(waiting.values()) if waiting else None)
        if push_failure is not None:
            raise push_failure
        result.state = UPDATE_REQUIRED if result.paused_tables else IDLE
        if result.paused_tables:
            result.error = "update required: " + "; ".join(f"{t} ({r})" for t, r in result.paused_tables.items())

    @staticmethod
    def _announce(db, pulled, pushed) -> None:
        """Tell the database's change listeners (the window's pages) which rows this cycle applied,
        also when it stopped half-way: the pages it did commit are there to be shown. That includes the
        rows the push stored from the server's replies (they are not pulled again)."""
        changed = {t: set(ids) for t, ids in pushed.changed.items()}
        for table, ids in pulled.changed.items():
            changed.setdefault(table, set()).update(ids)
        from sync.pull import ANNOUNCED_IDS

        unknown = pulled.changed_unknown | {t for t, ids in changed.items() if len(ids) > ANNOUNCED_IDS}
        tables = set(changed) | unknown
        if tables:
            rows = {t: ids for t, ids in changed.items() if t not in unknown}
            db.notify_changed(tables, "sync", rows)

    def _alert(self, message: str) -> None:
        self.on_alert(message)

    def _record(self, result: CycleResult) -> None:
        """Persist the outcome for `mirari status` (another process) and the next start of the app."""
        from local_schema.timestamps import utc_now

        try:
            path = self._prepare(accounts.active_database_path(self.data_dir))
            synced = utc_now() if result.state in (IDLE, UPDATE_REQUIRED) else None  # display only
            heads.record(path, result.state, result.error, synced)
        except Exception:  # noqa: BLE001 - a broken or locked database: the result itself still says it all
            log.warning("could not record the sync outcome", exc_info=True)

    # -- status ----------------------------------------------------------------------------------------
    def status(self) -> dict:
        return read_status(self.data_dir, self.database())


def read_status(data_dir: Path, db) -> dict:
    """The account, the recorded state of the last cycle and the counts, for `mirari status` and a page
    that has no sync controller: read from `db` (the active database) without an engine."""
    from local_schema.outbox import count_parked, count_pending
    from sync.dbutil import get_meta

    state = accounts.load_state(data_dir)
    with db.engine.connect() as conn:
        pending, parked = count_pending(conn), count_parked(conn)
        quarantined = conn.exec_driver_sql("SELECT count(*) FROM sync_quarantine").scalar()
        last_sync, sync_state = get_meta(conn, "last_sync"), get_meta(conn, "sync_state")
        error = get_meta(conn, "sync_error")
    if not state.signed_in:
        sync_state = SIGNED_OUT
    return {
        "database": str(db.path),
        "account": ({"user_id": state.active_account, "email": state.email}
                    if state.active_account else None),
        "signed_in": state.signed_in,
        "state": sync_state or IDLE,
        "error": error,
        "pending": pending,
        "parked": parked,
        "quarantined": quarantined,
        "last_sync": last_sync,
    }


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
