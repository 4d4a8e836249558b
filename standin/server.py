"""The stand-in as one object: PostgreSQL cluster, schema, connection pools and the uvicorn server.

`StandIn.start()` returns once the HTTP server accepts connections; the server runs on its own event
loop in a background thread, so tests in the same process can use it (and its fault injection) directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool

from standin import tokens
from standin.cluster import PostgresCluster, free_port
from standin.faults import Faults
from standin.gateway import HTTP_PROTOCOL, Gateway
from standin.gotrue import AuthApi
from standin.realtime import RealtimeHub
from standin.rest_api import RestApi

AUTH_TABLES_SQL = Path(__file__).with_name("auth_tables.sql")
DATABASE = "postgres"
REST_POOL_SIZE = 20  # >= 16 requests in flight
WINDOWS = sys.platform == "win32"


def run_loop(main):
    """asyncio.run(main), on a selector event loop on Windows: Windows' default loop (Proactor) cannot
    run psycopg's async connections, which the pools use; selector loops work on every OS."""
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop if WINDOWS else None) as runner:
        return runner.run(main)


def add_auth_tables(admin_dsn: str) -> None:
    """The stand-in's own auth.sessions / auth.refresh_tokens (after the scaffolding)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(AUTH_TABLES_SQL.read_text())


def prepare_database(admin_dsn: str) -> None:
    """Scaffolding + migrations (the Foundation's apply_schema), then the auth tables; once per database.
    A database kept from an earlier run (--data-dir) gets the migrations added since, after the scaffolding
    (re-runnable) when it lacks a part added to it since (Realtime's schema)."""
    from standin.schema import SCAFFOLDING_SQL, apply_pending_migrations, apply_schema

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        done, realtime = conn.execute("select to_regclass('auth.refresh_tokens') is not null,"
                                      " to_regclass('realtime.messages') is not null").fetchone()
        if done and not realtime:
            conn.execute(SCAFFOLDING_SQL.read_text(encoding="utf-8"))
    if not done:
        apply_schema(admin_dsn)
        add_auth_tables(admin_dsn)
    else:
        apply_pending_migrations(admin_dsn)


KEYS_FILE = "standin-keys.json"


def kept_secret(data_dir: str | Path) -> str:
    """The JWT secret kept in a data dir (created there, mode 0600, on first use): a real project keeps its
    keys, so clients' anon key and sessions stay valid across restarts of the stand-in."""
    path = Path(data_dir) / KEYS_FILE
    if path.exists():
        secret = json.loads(path.read_text(encoding="utf-8")).get("jwt_secret")
        if isinstance(secret, str) and len(secret) >= 32:
            return secret
    secret = tokens.new_secret()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"jwt_secret": secret}, f)
    os.replace(tmp, path)
    return secret


@dataclass
class StackInfo:
    url: str
    anon_key: str
    service_role_key: str
    jwt_secret: str
    db_url: str  # superuser DSN (migrations, test set-up, inspection)

    def as_dict(self) -> dict:
        return {"url": self.url, "anon_key": self.anon_key, "service_role_key": self.service_role_key,
                "jwt_secret": self.jwt_secret, "db_url": self.db_url}


class StandIn:
    def __init__(self, *, admin_dsn: str, rest_dsn: str, port: int | None = None, host: str = "127.0.0.1",
                 jwt_secret: str | None = None):
        self.admin_dsn, self.rest_dsn = admin_dsn, rest_dsn
        self.host, self.port = host, port or free_port()
        self.jwt_secret = jwt_secret or tokens.new_secret()
        self.anon_key = tokens.api_key(self.jwt_secret, "anon")
        self.service_role_key = tokens.api_key(self.jwt_secret, "service_role")
        self.faults = Faults()
        self.url = f"http://{host}:{self.port}"
        self.auth: AuthApi | None = None
        self.gateway: Gateway | None = None
        self.realtime: RealtimeHub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def info(self) -> StackInfo:
        return StackInfo(self.url, self.anon_key, self.service_role_key, self.jwt_secret, self.admin_dsn)

    # -- lifecycle ---------------------------------------------------------------------------
    async def serve(self, on_ready=None) -> None:
        """Open the pools and serve until stop(); usable directly on a main-thread event loop."""
        self._loop = asyncio.get_running_loop()
        # The API side connects as `authenticator` (LOGIN NOINHERIT) and only gains rights via the role GUC.
        rest_pool = AsyncConnectionPool(self.rest_dsn, min_size=4, max_size=REST_POOL_SIZE, open=False,
                                        kwargs={"options": "-c timezone=UTC", "autocommit": True,
                                                "prepare_threshold": None})  # see RestApi.run: never prepare
        auth_pool = AsyncConnectionPool(self.admin_dsn, min_size=1, max_size=8, open=False,
                                        check=AsyncConnectionPool.check_connection,  # auth is rare: verify
                                        kwargs={"options": "-c search_path=auth,extensions,public -c timezone=UTC"})
        # Realtime's join checks and reads as the database owner, as Realtime's own connection does.
        realtime_pool = AsyncConnectionPool(self.admin_dsn, min_size=1, max_size=4, open=False,
                                            check=AsyncConnectionPool.check_connection,
                                            kwargs={"options": "-c timezone=UTC"})
        await rest_pool.open(wait=True)
        await auth_pool.open(wait=True)
        await realtime_pool.open(wait=True)
        self.realtime = RealtimeHub(realtime_pool, self.admin_dsn, self.jwt_secret,
                                    {self.anon_key, self.service_role_key})
        try:
            await self.realtime.start()
            rest = RestApi(rest_pool)
            await rest.load()
            self.auth = AuthApi(auth_pool, self.jwt_secret, self.url)
            self.gateway = Gateway(rest, self.auth, self.jwt_secret, self.anon_key, self.service_role_key, self.faults,
                                   self.realtime)
            # No WebSocket pings from the server: Phoenix has none (clients send heartbeats).
            config = uvicorn.Config(self.gateway.app(), host=self.host, port=self.port, http=HTTP_PROTOCOL,
                                    lifespan="off", log_level="warning", access_log=False, timeout_keep_alive=30,
                                    ws="websockets-sansio", ws_ping_interval=None, ws_max_size=3_000_000)
            self._server = uvicorn.Server(config)
            self._server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
            serving = asyncio.ensure_future(self._server.serve())
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.01)
            if self._server.started and on_ready is not None:
                on_ready()
            self._ready.set()
            await serving
        finally:
            await self.realtime.close()
            await rest_pool.close()
            await auth_pool.close()
            await realtime_pool.close()

    def start_in_thread(self) -> StandIn:
        self._ready.clear()
        self._error, self._server = None, None

        def run() -> None:
            try:
                run_loop(self.serve())
            except BaseException as exc:  # surfaced to the starting thread
                self._error = exc
            finally:
                self._ready.set()

        self._thread = threading.Thread(target=run, name="supabase-standin", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None or self._server is None or not self._server.started:
            raise RuntimeError(f"the Supabase stand-in did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._loop is not None and self.realtime is not None and self._thread is not None:
                # uvicorn waits for open WebSockets before it exits: close them first (1012: restarting)
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self.realtime.close(), self._loop).result(10)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop serving (clients' connections drop) and serve again on the same port with the same keys."""
        import time

        self.stop()
        time.sleep(down_for)
        self.start_in_thread()

    # -- test helpers ----------------------------------------------------------------------
    def call(self, coro, timeout: float = 30):
        """Run a coroutine on the server's loop from another thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def set_access_token_ttl(self, seconds: int) -> None:
        self.auth.access_token_ttl = int(seconds)

    def revoke_refresh_tokens(self, user_id: str) -> None:
        self.call(self.auth.revoke_sessions(user_id))


def start_cluster_stack(data_dir: str | None = None, port: int | None = None) -> tuple[PostgresCluster, StandIn]:
    """A new cluster with the schema applied, and a stand-in (not yet serving) in front of it. With a data
    dir, the cluster and the JWT secret (hence the API keys) are kept there and reused next time."""
    cluster = PostgresCluster(data_dir=data_dir)
    cluster.start()
    try:
        prepare_database(cluster.dsn(DATABASE))
        secret = kept_secret(data_dir) if data_dir else None
        return cluster, StandIn(admin_dsn=cluster.dsn(DATABASE), rest_dsn=cluster.socket_dsn(DATABASE, "authenticator"),
                                port=port, jwt_secret=secret)
    except BaseException:
        cluster.stop()
        raise
