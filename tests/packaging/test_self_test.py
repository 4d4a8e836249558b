"""`mirari --self-test` from the source tree: every check reports, and a failing check fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "MIRARI_DATA_DIR", "DISPLAY")}
    env["HOME"] = str(tmp_path)  # nothing may land in the real home directory
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_self_test_reports_each_check_and_passes(tmp_path):
    proc = _run("import sys; from mirari.main import main; sys.exit(main(['--self-test']))", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok   version", "ok   database", "ok   keyring", "ok   modules", "ok   highlighting", "ok   import",
        "ok   window"]
    assert "(source tree" in lines[0]
    assert "migrated to v" in lines[1] and "journal wal" in lines[1]
    assert "available: " in lines[2] and "SecretService" in lines[2]
    assert lines[5] == "ok   import: ijson yajl2_c, 1 conversation read"
    assert "on the offscreen platform" in lines[6] and "bind (BindPage)" in lines[6]
    assert lines[-1].startswith("self-test passed in ")
    assert not [p for p in tmp_path.rglob("*") if "mirari" in str(p.relative_to(tmp_path)).lower()]  # home untouched


def test_a_failing_check_is_named_and_the_others_still_run(tmp_path):
    code = ("import sys, desktop.self_test as t; t.LAZY_MODULES += ('mirari_no_such_module',); "
            "sys.exit(t.run_self_test())")
    proc = _run(code, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL modules: ModuleNotFoundError: No module named 'mirari_no_such_module'" in proc.stdout
    assert "ok   window: MainWindow" in proc.stdout  # a failure does not hide the later checks
    assert proc.stdout.splitlines()[-1].startswith("self-test FAILED (1 of 7 checks)")


def test_the_window_check_lets_go_of_its_folder(qapp, tmp_path):
    """Windows cannot delete a folder while a file in it is open: the self-test's temp dir is removed
    at the end, so the window check must close the database and release the data dir's app lock."""
    from desktop.self_test import _window
    from sync.accounts import app_lock

    assert "MainWindow" in _window(tmp_path / "window")
    lock = app_lock(tmp_path / "window")
    lock.acquire(timeout=0)  # LockTimeout if the check still held it
    lock.release()
