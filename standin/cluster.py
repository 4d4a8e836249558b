"""A throwaway PostgreSQL 15 cluster for tests and the local Supabase stand-in.

The server binaries are found in MIRARI_PG_BIN (default: Debian's /usr/lib/postgresql/15/bin; the CI
workflow points it at the runner's own PostgreSQL on Windows and at Homebrew's postgresql@15 on macOS).
PostgreSQL refuses to run as root, and our own CI runs as root: then every server command runs as the
`postgres` OS user through `runuser`, and the data directory is handed to that user. As a normal user
(a developer, the GitHub runners, Windows' administrator: pg_ctl drops its rights itself) the commands
run directly. The cluster listens on 127.0.0.1 only, with trust authentication (it never leaves this
machine); on Linux and macOS also on a Unix socket (see socket_dsn), on Windows over TCP only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("MIRARI_PG_BIN", "/usr/lib/postgresql/15/bin"))
WINDOWS = os.name == "nt"
# C.UTF-8 exists on every glibc; macOS and Windows have no such locale. Plain C sorts text the same way
# (by code point); it differs only in upper()/lower() of non-ASCII letters, which the schema never uses.
LOCALE = "C.UTF-8" if sys.platform.startswith("linux") else "C"
# A Unix socket's path must fit sun_path (104 bytes on macOS, 108 on Linux, the NUL included).
SOCKET_PATH_MAX = 100


def pg_tool(name: str) -> Path:
    """The path of a server binary (`initdb`, `pg_ctl`) in MIRARI_PG_BIN: `initdb.exe` on Windows."""
    return PG_BIN / (f"{name}.exe" if WINDOWS else name)


class ClusterError(RuntimeError):
    """The cluster could not be created or started; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres_user() -> bool:
    """True when running as root (POSIX): the server must then run as the `postgres` user."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_server_user(args: list[str]) -> list[str]:
    if not _as_postgres_user():
        return args
    if shutil.which("runuser") is None:
        raise ClusterError("PostgreSQL refuses to run as root and `runuser` (util-linux) is not installed "
                           "to run it as the postgres user: install util-linux, or run the tests as a normal user")
    return ["runuser", "-u", "postgres", "--", *args]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a server command; raise ClusterError with its output if it fails.

    The output goes to temporary files, not pipes: on Windows `pg_ctl start` hands its handles down to
    the server it starts, so reading a pipe to its end would wait for as long as the server runs."""
    args = _as_server_user(args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, **kwargs)
        out.seek(0)
        err.seek(0)
        stdout, stderr = (f.read().decode("utf-8", "replace").strip() for f in (out, err))
    if proc.returncode != 0:
        raise ClusterError(f"{' '.join(args)} failed ({proc.returncode}): {stderr or stdout}")
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


class PostgresCluster:
    """initdb + pg_ctl around one data directory. Use as a context manager or call start()/stop()."""

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None):
        self._owns_dir = data_dir is None
        self.base_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="mirari-pg-"))
        self.data_dir = self.base_dir / "pgdata"
        self.port = port or free_port()
        self.superuser = "postgres"
        self._started = False
        self._owns_socket_dir = False
        self.socket_dir: Path | None = None if WINDOWS else self._choose_socket_dir()

    def _choose_socket_dir(self) -> Path:
        """`<base>/socket`, or a short directory in /tmp when that path would be too long for a socket
        (macOS's per-user temp dir is deep, a test's tmp_path deeper still)."""
        beside = self.base_dir / "socket"
        if len(str(beside / f".s.PGSQL.{self.port}")) <= SOCKET_PATH_MAX:
            return beside
        self._owns_socket_dir = True
        return Path(tempfile.mkdtemp(prefix="mpg-", dir="/tmp" if os.path.isdir("/tmp") else None))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> PostgresCluster:
        initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
        if not initdb.exists():
            raise ClusterError(f"PostgreSQL server binaries not found in {PG_BIN}: install PostgreSQL 15 "
                               "(apt-get install postgresql-15, brew install postgresql@15) and point "
                               "MIRARI_PG_BIN at its bin directory")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.socket_dir is not None:
            self.socket_dir.mkdir(exist_ok=True)
        if _as_postgres_user():
            import pwd  # POSIX only; imported here so the module loads on Windows too

            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root, but there is no `postgres` user to run PostgreSQL as") from None
            for p in (self.base_dir, self.socket_dir):
                if p is not None:
                    os.chown(p, pg.pw_uid, pg.pw_gid)
            if self.data_dir.exists():
                subprocess.run(["chown", "-R", "postgres:postgres", str(self.data_dir)], check=True)
        if not (self.data_dir / "PG_VERSION").exists():
            _run([str(initdb), "-D", str(self.data_dir), "-U", self.superuser, "--auth=trust",
                  "--encoding=UTF8", f"--locale={LOCALE}", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
                   " -c max_connections=200 -c shared_buffers=128MB")
        if self.socket_dir is not None:  # Windows: no option at all (its default is no Unix socket)
            options += f" -c unix_socket_directories={self.socket_dir}"
        _run([str(pg_ctl), "-D", str(self.data_dir), "-o", options, "-l",
              str(self.base_dir / "postgres.log"), "-w", "-t", "60", "start"])
        self._started = True
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise ClusterError(f"PostgreSQL did not accept connections on port {self.port}; see {self.base_dir}/postgres.log")

    def stop(self) -> None:
        if self._started:
            # Already gone (killed with the test process) means nothing is left to stop.
            with contextlib.suppress(ClusterError):
                _run([str(pg_tool("pg_ctl")), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            self._started = False
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if self._owns_socket_dir and self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- connecting --------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"

    @property
    def fast_host(self) -> str:
        """The libpq host for the stand-in's API connections: the Unix socket directory (moving a
        1,000-row page, ~360 KB, through it costs a fifth of the CPU of TCP loopback on the CI VM), or
        the TCP loopback address on Windows, where the cluster opens no socket."""
        return "127.0.0.1" if self.socket_dir is None else str(self.socket_dir)

    def socket_dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        """The same database through `fast_host` (the Unix socket where there is one)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.dsn(dbname, user), host=self.fast_host)
