"""local_schema.files.replace: an atomic replace that waits out Windows' sharing refusals.

Linux renames over an open file, so Windows' refusal is recreated by a replace that fails with the
PermissionError Windows raises (a reader or the virus scanner holding the file) a few times."""

from __future__ import annotations

import json
import os

import pytest

import local_schema.files as files
from local_schema.atomic import atomic_write, atomic_write_json


@pytest.fixture
def refused(monkeypatch):
    """os.replace refused `times` times (WinError 32: the file is in use), then the real one."""
    real = os.replace
    calls = []

    def install(times: int) -> list:
        calls.clear()

        def flaky(source, target):
            calls.append((source, target))
            if len(calls) <= times:
                raise PermissionError(13, "The process cannot access the file because it is being used "
                                          "by another process")
            real(source, target)
        monkeypatch.setattr(os, "replace", flaky)
        return calls
    return install


def test_on_windows_a_momentary_refusal_is_waited_out(tmp_path, monkeypatch, refused):
    monkeypatch.setattr(files, "WINDOWS", True)
    source, target = tmp_path / "new", tmp_path / "settings.json"
    source.write_text("new")
    target.write_text("old")
    calls = refused(2)
    files.replace(source, target)
    assert target.read_text() == "new" and not source.exists() and len(calls) == 3


def test_on_windows_a_lasting_refusal_is_raised_after_the_patience(tmp_path, monkeypatch, refused):
    monkeypatch.setattr(files, "WINDOWS", True)
    source, target = tmp_path / "new", tmp_path / "settings.json"
    source.write_text("new")
    target.write_text("old")
    calls = refused(10_000)
    with pytest.raises(PermissionError):
        files.replace(source, target, patience=0.2)
    assert target.read_text() == "old" and source.read_text() == "new"  # nothing half-done
    assert 2 < len(calls) < 20


def test_on_posix_a_refusal_is_final_at_once(tmp_path, monkeypatch, refused):
    monkeypatch.setattr(files, "WINDOWS", False)
    (tmp_path / "new").write_text("new")
    calls = refused(1)
    with pytest.raises(PermissionError):
        files.replace(tmp_path / "new", tmp_path / "settings.json")
    assert len(calls) == 1  # a POSIX PermissionError (a read-only folder) does not go away


def test_the_settings_writers_survive_a_refusal_on_windows(tmp_path, monkeypatch, refused):
    """config.json / account.json (sync) and the key file, exports, dream settings: local_schema.atomic, the one atomic writer."""
    monkeypatch.setattr(files, "WINDOWS", True)
    refused(1)
    atomic_write_json(tmp_path / "config.json", {"supabase": {"url": "https://x.supabase.co"}})
    assert json.loads((tmp_path / "config.json").read_text("utf-8")) == {"supabase": {"url": "https://x.supabase.co"}}
    refused(1)
    atomic_write(tmp_path / "export.md", b"# thread\n")
    assert (tmp_path / "export.md").read_bytes() == b"# thread\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "export.md"]  # no temp file left


@pytest.mark.parametrize(("name", "device"), [
    ("con.md", True), ("NUL", True), ("com1.notes.json", True), ("Lpt9 .md", True), ("aux", True),
    ("console.md", False), ("com10.md", False), ("thread con.md", False), ("con-notes.md", False), ("", False),
])
def test_windows_device_names(name, device):
    assert files.is_device_name(name) is device
