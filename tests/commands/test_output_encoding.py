"""A command's output sent to a file or a pipe is UTF-8 on every OS.

Windows encodes a redirected stream in its ANSI code page; PYTHONIOENCODING=cp1252 gives a child
process here exactly that stream, so `mirari tasks list > tasks.txt` on Windows is run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Café ✶ 日本 — naïve"  # ✶ and 日本 are not in cp1252


def mirari(data_dir: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    return subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), *argv], cwd=ROOT,
                          env=env, capture_output=True, timeout=120)


def test_results_written_to_a_windows_pipe_are_utf8(tmp_path):
    added = mirari(tmp_path, "tasks", "add", TITLE)
    assert added.returncode == 0, added.stderr.decode("utf-8", "replace")
    listed = mirari(tmp_path, "tasks", "list")
    assert listed.returncode == 0, listed.stderr.decode("utf-8", "replace")
    assert TITLE in listed.stdout.decode("utf-8")


def test_errors_written_to_a_windows_pipe_are_utf8_not_escapes(tmp_path):
    failed = mirari(tmp_path, "tasks", "move", "no-such-task-✶", "done")
    assert failed.returncode != 0
    assert failed.stderr.decode("utf-8") == "mirari: error: no task no-such-task-✶" + os.linesep
