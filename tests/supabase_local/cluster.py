"""A throwaway PostgreSQL 15 cluster for tests and the local Supabase stand-in.

PostgreSQL refuses to run as root, and CI runs as root: then every server command runs as the
`postgres` OS user through `runuser`, and the data directory is handed to that user. The cluster
listens on 127.0.0.1 only, with trust authentication (it never leaves this machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("MIRARI_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ClusterError(RuntimeError):
    """The cluster could not be created or started; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres_user() -> bool:
    return os.geteuid() == 0


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if _as_postgres_user():
        args = ["runuser", "-u", "postgres", "--", *args]
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise ClusterError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


class PostgresCluster:
    """initdb + pg_ctl around one data directory. Use as a context manager or call start()/stop()."""

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None):
        self._owns_dir = data_dir is None
        self.base_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="mirari-pg-"))
        self.data_dir = self.base_dir / "pgdata"
        self.socket_dir = self.base_dir / "socket"
        self.port = port or free_port()
        self.superuser = "postgres"
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> PostgresCluster:
        if not (PG_BIN / "initdb").exists():
            raise ClusterError(f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql-15)")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if _as_postgres_user():
            import pwd  # POSIX only; imported here so the module loads on Windows too

            pg = pwd.getpwnam("postgres")
            for p in (self.base_dir, self.socket_dir):
                os.chown(p, pg.pw_uid, pg.pw_gid)
            if self.data_dir.exists():
                subprocess.run(["chown", "-R", "postgres:postgres", str(self.data_dir)], check=True)
        if not (self.data_dir / "PG_VERSION").exists():
            _run([str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", self.superuser, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.socket_dir}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC"
                   " -c max_connections=200 -c shared_buffers=128MB")
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l",
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
                _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            self._started = False
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- connecting --------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"

    def socket_dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        """The same database over the Unix socket: moving a 1,000-row page (~360 KB) through it costs a
        fifth of the CPU of TCP loopback on the CI VM. The stand-in's API connections use it."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(self.dsn(dbname, user), host=str(self.socket_dir))
