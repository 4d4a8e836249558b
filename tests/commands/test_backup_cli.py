"""`mirari backup create|list|verify|restore` and `mirari export`, exactly as a user types them."""

from __future__ import annotations

import json

from tests.commands.conftest import one_error_line


def test_create_list_verify_restore(mirari, tmp_path):
    assert mirari("tasks", "add", "Before the backup").code == 0
    created = mirari("backup", "create")
    assert created.code == 0, created.err
    archive = created.out.splitlines()[0]
    assert archive.endswith(".manual.mirari-backup") and "1 task" in created.out
    listed = mirari("backup", "list", "--json")
    [entry] = json.loads(listed.out)
    assert entry["path"] == archive and entry["kind"] == "manual" and entry["counts"]["tasks"] == 1
    assert {"path", "created_at", "size", "counts", "kind"} <= set(entry)
    assert "manual" in mirari("backup", "list").out

    verified = mirari("backup", "verify", archive)
    assert verified.code == 0 and verified.out.startswith("sound: manual backup")

    assert mirari("tasks", "add", "After the backup").code == 0
    restored = mirari("backup", "restore", archive)
    assert restored.code == 0 and "before-restore" in restored.out
    titles = [t["title"] for t in json.loads(mirari("tasks", "list", "--json").out)]
    assert titles == ["Before the backup"]
    kinds = sorted(e["kind"] for e in json.loads(mirari("backup", "list", "--json").out))
    assert kinds == ["before restore", "manual"]


def test_create_to_a_chosen_file(mirari, tmp_path):
    mirari("tasks", "add", "x")
    target = tmp_path / "usb" / "mine.mirari-backup"
    result = mirari("backup", "create", "--to", str(target))
    assert result.code == 0 and result.out.splitlines()[0] == str(target) and target.exists()
    assert json.loads(mirari("backup", "list", "--json").out) == []  # not in the backups folder


def test_verify_exits_non_zero_with_the_reason(mirari, tmp_path):
    mirari("tasks", "add", "x")
    archive = mirari("backup", "create").out.splitlines()[0]
    from pathlib import Path

    data = bytearray(Path(archive).read_bytes())
    data[len(data) // 2] ^= 0x04
    damaged = tmp_path / "damaged.mirari-backup"
    damaged.write_bytes(bytes(data))
    assert "is not sound" in one_error_line(mirari("backup", "verify", str(damaged)))
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    assert "not a MIRARI backup" in one_error_line(mirari("backup", "verify", str(foreign)))
    before = mirari("tasks", "list", "--json").out
    assert "not restored" in one_error_line(mirari("backup", "restore", str(damaged)))
    assert mirari("tasks", "list", "--json").out == before


def test_export_json_and_markdown(mirari, tmp_path):
    mirari("tasks", "add", "Export me")
    result = mirari("export", "--format", "json", "--to", str(tmp_path / "json"))
    assert result.code == 0 and "tables" in result.out
    [task] = [json.loads(line) for line in (tmp_path / "json" / "tasks.jsonl").read_text().splitlines()]
    assert task["title"] == "Export me"
    assert mirari("export", "--format", "markdown", "--to", str(tmp_path / "md")).code == 0
    assert (tmp_path / "md" / "README.md").exists()
    assert "not an empty folder" in one_error_line(mirari("export", "--format", "json", "--to", str(tmp_path / "json")))
