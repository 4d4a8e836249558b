"""`mirari memory add|list|edit|delete|prompt`, as a script would use them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands.conftest import one_error_line

ROOT = Path(__file__).resolve().parents[2]


def nodes(mirari):
    result = mirari("memory", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_add_list_edit_delete_round_trip(mirari):
    added = mirari("memory", "add", "Prefers tea over coffee", "--category", "preference", "--json")
    assert added.code == 0 and added.err == ""
    first = json.loads(added.out)
    assert first["reinforced"] is False and first["node"]["strength"] == 0.5
    node_id = first["node"]["id"]

    again = mirari("memory", "add", "prefers TEA over coffee!")
    assert again.code == 0
    assert again.out == f"reinforced {node_id[:8]} instead of adding a duplicate: “Prefers tea over coffee” " \
                        "(preference, 0.55)\n"
    assert mirari("memory", "add", "Works remotely from Lisbon", "--strength", "0.8").out.startswith("added ")

    listed = nodes(mirari)
    assert [n["label"] for n in listed] == ["Works remotely from Lisbon", "Prefers tea over coffee"]
    assert {"id", "user_id", "label", "category", "strength", "source", "last_referenced_at", "created_at",
            "updated_at", "deleted_at", "effective_strength", "glyph", "injected"} <= set(listed[0])
    assert (listed[0]["glyph"], listed[0]["injected"], listed[1]["glyph"]) == ("✶", True, "◌")

    text = mirari("memory", "list").out.splitlines()
    assert text[0].startswith(f"{listed[0]['id'][:8]}  ✶ 0.80  fact") and "Works remotely from Lisbon" in text[0]

    edited = mirari("memory", "edit", node_id[:8], "--label", "Prefers green tea over coffee", "--strength", "0.9")
    assert edited.code == 0 and "“Prefers green tea over coffee” (preference, 0.90)" in edited.out
    assert nodes(mirari)[0]["label"] == "Prefers green tea over coffee"

    deleted = mirari("memory", "delete", node_id)
    assert deleted.code == 0 and deleted.out.startswith(f"deleted {node_id[:8]}")
    assert [n["label"] for n in nodes(mirari)] == ["Works remotely from Lisbon"]
    assert "no memory node" in one_error_line(mirari("memory", "delete", node_id))


@pytest.mark.parametrize("first, second", [
    ("Prefers tea over coffee", "Prefers coffee over tea"),
    ("Prefers coffee over tea", "Prefers tea over coffee"),
    ("Budget is 300 euros a month", "Budget is 400 euros a month"),
    ("Likes spicy food", "Does not like spicy food"),
    ("Doesn't like spicy food", "Likes spicy food"),
])
def test_add_keeps_a_fact_that_differs_in_order_number_or_negation(mirari, first, second):
    assert mirari("memory", "add", first).out.startswith("added ")
    added = mirari("memory", "add", second)
    assert added.code == 0 and added.out.startswith("added "), added.out
    assert sorted((n["label"], n["strength"]) for n in nodes(mirari)) == sorted([(first, 0.5), (second, 0.5)])


def test_errors_are_one_line_and_write_nothing(mirari):
    assert "needs a label" in one_error_line(mirari("memory", "add", "   "))
    assert "between 0 and 1" in one_error_line(mirari("memory", "add", "x", "--strength", "1.5"))
    assert "must be a number" in one_error_line(mirari("memory", "add", "x", "--strength", "lots"))
    assert "limit is 2,000" in one_error_line(mirari("memory", "add", "y" * 2001))
    assert nodes(mirari) == []
    mirari("memory", "add", "Likes tea")
    mirari("memory", "add", "Likes coffee")
    coffee = nodes(mirari)[0]["id"]
    assert "would duplicate “Likes tea”" in one_error_line(mirari("memory", "edit", coffee, "--label", "likes tea"))
    assert "Nothing to change" in one_error_line(mirari("memory", "edit", coffee))
    assert "no memory node" in one_error_line(mirari("memory", "edit", "ab", "--label", "z"))  # too short a prefix
    assert "no connection" in one_error_line(mirari("memory", "prompt", "--connection", "deadbeef"))
    assert sorted(n["label"] for n in nodes(mirari)) == ["Likes coffee", "Likes tea"]


def test_ambiguous_prefix_is_refused(mirari):
    from agent.cli.common import resolve_id
    from local_schema.database import open_database
    from local_schema.models import MemoryNode

    db = open_database(mirari.data_dir / "local.sqlite3")
    try:
        with db.write() as s:
            s.add(MemoryNode(id="abcd0000-0000-4000-8000-000000000001", label="one"))
            s.add(MemoryNode(id="abcd0000-0000-4000-8000-000000000002", label="two"))
        assert resolve_id(db, MemoryNode, "abcd0000-0000-4000-8000-000000000002", "memory node").endswith("2")
    finally:
        db.close()
    assert "more than one memory node" in one_error_line(mirari("memory", "delete", "abcd"))
    assert len(nodes(mirari)) == 2


def test_prompt_prints_the_exact_system_message(mirari, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = mirari("connections", "add", "--name", "Local", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--system-prompt", "You are Hermes.").out.strip()
    mirari("memory", "add", "Name is Ana", "--strength", "0.9", "--category", "fact")
    mirari("memory", "add", "Weak fact", "--strength", "0.3")
    result = mirari("memory", "prompt", "--connection", cid)
    assert result.code == 0
    assert result.out == ("You are Hermes.\n\n## Memory\nWhat you remember about the user, strongest first:\n"
                          "- Name is Ana (fact)\n")
    data = json.loads(mirari("memory", "prompt", "--connection", cid[:8], "--json").out)
    assert data["system"] + "\n" == result.out and data["over_cap"] == []
    assert data["chars"] == len(data["memory_block"]) and data["tokens_estimate"] == (data["chars"] + 3) // 4


def test_prompt_json_names_the_nodes_over_the_cap(mirari, monkeypatch):
    from agent.memory.atlas import add_nodes
    from local_schema.database import open_database

    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = mirari("connections", "add", "--name", "L", "--base-url", "http://127.0.0.1:9/v1", "--model", "m").out.strip()
    db = open_database(mirari.data_dir / "local.sqlite3")
    try:
        add_nodes(db, [{"label": f"fact {i:02d}", "strength": 0.8 + i / 1000} for i in range(42)])
    finally:
        db.close()
    data = json.loads(mirari("memory", "prompt", "--connection", cid, "--json").out)
    assert len(data["injected"]) == 40 and [n["label"] for n in data["over_cap"]] == ["fact 01", "fact 00"]
    assert data["over_cap"][0]["injected"] is False and data["over_cap"][0]["glyph"] == "✶"
    listing = mirari("memory", "list").out
    assert listing.count("over the cap of 40, not injected") == 2


def test_a_real_subprocess(tmp_path):
    """The installed entry point's way: a separate interpreter, exit codes and streams as a shell sees them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(tmp_path), *argv],
                              capture_output=True, text=True, env=env, timeout=60)

    added = run("memory", "add", "Likes jazz", "--json")
    assert added.returncode == 0, added.stderr
    bad = run("memory", "edit", json.loads(added.stdout)["node"]["id"], "--strength", "-1")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip() == "mirari: error: Strength must be between 0 and 1 (got -1)."
    assert json.loads(run("memory", "list", "--json").stdout)[0]["strength"] == 0.5
