"""The throwaway PostgreSQL cluster on every OS the workflow tests on.

The suite itself runs it as root through runuser here (our CI), and as a normal user on a developer's
machine and the GitHub runners. What differs on Windows and macOS (binary names, no Unix socket, the
socket path limit, no runuser) is checked here against the cluster's own decisions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from standin import cluster
from standin.cluster import ClusterError, PostgresCluster


def test_output_is_read_without_waiting_for_a_process_the_command_left_running(monkeypatch):
    """Windows' `pg_ctl start` hands its output handles to the server it starts; reading pipes to their
    end would wait as long as the server runs. A child that leaves such a grandchild behind does the
    same on any OS."""
    monkeypatch.setattr(cluster, "_as_postgres_user", lambda: False)
    code = textwrap.dedent("""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # inherits stdout
        print(child.pid, flush=True)
    """)
    started = time.monotonic()
    proc = cluster._run([sys.executable, "-c", code])
    try:
        assert time.monotonic() - started < 15
    finally:
        os.kill(int(proc.stdout), signal.SIGTERM)  # the sleeping grandchild (TerminateProcess on Windows)


def test_a_failing_command_says_what_it_printed(monkeypatch):
    monkeypatch.setattr(cluster, "_as_postgres_user", lambda: False)
    with pytest.raises(ClusterError, match=r"failed \(3\): initdb: invalid locale name"):
        cluster._run([sys.executable, "-c", "import sys; sys.stderr.write('initdb: invalid locale name'); sys.exit(3)"])


def test_server_commands_run_as_postgres_only_for_root(monkeypatch):
    command = ["/usr/lib/postgresql/15/bin/pg_ctl", "status"]
    monkeypatch.setattr(cluster.os, "geteuid", lambda: 501, raising=False)  # a macOS runner, a developer
    assert cluster._as_server_user(command) == command
    monkeypatch.delattr(cluster.os, "geteuid", raising=False)  # Windows has no uids at all
    assert cluster._as_server_user(command) == command
    monkeypatch.setattr(cluster.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(cluster.shutil, "which", lambda name: "/usr/sbin/runuser")
    assert cluster._as_server_user(command) == ["runuser", "-u", "postgres", "--", *command]
    monkeypatch.setattr(cluster.shutil, "which", lambda name: None)  # root in a container without util-linux
    with pytest.raises(ClusterError, match="refuses to run as root.*runuser"):
        cluster._as_server_user(command)


def test_a_socket_path_too_long_for_sun_path_moves_to_a_short_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "WINDOWS", False)  # the Linux/macOS decision, checked on every OS
    short = PostgresCluster(data_dir=tmp_path / "pg", port=54321)
    deep = PostgresCluster(data_dir=tmp_path / ("d" * 90) / "pg", port=54321)  # macOS: /var/folders/…/T/…
    try:
        assert short.socket_dir == tmp_path / "pg" / "socket"
        assert len(str(deep.socket_dir / ".s.PGSQL.54321")) <= cluster.SOCKET_PATH_MAX
        assert deep.socket_dir.is_dir() and deep.fast_host == str(deep.socket_dir)
    finally:
        deep.stop()
    assert not deep.socket_dir.exists()  # removed with the cluster; the given data dir is kept
    assert conninfo_to_dict(short.socket_dsn())["host"] == str(short.socket_dir)


def test_on_windows_the_exe_binaries_start_a_tcp_only_cluster(tmp_path, monkeypatch):
    """The commands a Windows runner gets: `initdb.exe`/`pg_ctl.exe` from PGBIN, no Unix socket, no runuser."""
    bin_dir = tmp_path / "PostgreSQL" / "17" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "initdb.exe").touch()
    monkeypatch.setattr(cluster, "WINDOWS", True)
    monkeypatch.setattr(cluster, "PG_BIN", bin_dir)
    monkeypatch.setattr(cluster, "LOCALE", "C")
    monkeypatch.delattr(cluster.os, "geteuid", raising=False)
    commands: list[list[str]] = []
    monkeypatch.setattr(cluster, "_run", lambda args, **kw: commands.append(args))
    monkeypatch.setattr(PostgresCluster, "_wait_ready", lambda self: None)
    pg = PostgresCluster(data_dir=tmp_path / "pg")
    assert pg.socket_dir is None and pg.fast_host == "127.0.0.1"
    assert conninfo_to_dict(pg.socket_dsn("postgres", "authenticator")) == {
        "host": "127.0.0.1", "port": str(pg.port), "user": "authenticator", "dbname": "postgres"}
    pg.start()
    initdb, start = commands
    assert initdb[0] == str(bin_dir / "initdb.exe") and "--locale=C" in initdb
    assert start[0] == str(bin_dir / "pg_ctl.exe") and "unix_socket_directories" not in " ".join(start)
    assert f"port={pg.port}" in start[start.index("-o") + 1]
    assert not (tmp_path / "pg" / "socket").exists()


def test_missing_binaries_say_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "PG_BIN", tmp_path / "nowhere")
    with pytest.raises(ClusterError, match="MIRARI_PG_BIN"):
        PostgresCluster(data_dir=tmp_path / "pg").start()


def test_the_cluster_module_imports_where_pwd_does_not_exist():
    """Windows has no `pwd`: importing the module (every test session does) must not need it."""
    code = "import sys; sys.modules['pwd'] = None; import standin.cluster; print('ok')"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_on_windows_the_stand_in_runs_on_a_selector_loop(monkeypatch):
    """Windows' default event loop is the Proactor, which psycopg's async connections (the stand-in's
    pools) refuse. Its default policy is recreated here: the stand-in must not take its loop."""
    import asyncio

    from standin import server

    class ProactorLike(asyncio.SelectorEventLoop):
        pass

    class WindowsDefaultPolicy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self):
            return ProactorLike()

    async def which_loop():
        return type(asyncio.get_running_loop())

    monkeypatch.setattr(server, "WINDOWS", True)
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(WindowsDefaultPolicy())
    try:
        assert asyncio.run(which_loop()) is ProactorLike  # what asyncio.run gives there
        assert server.run_loop(which_loop()) is asyncio.SelectorEventLoop
    finally:
        asyncio.set_event_loop_policy(previous)
