"""Conversations as trees on the server (20261207000000_message_trees.sql): a message's parent is a live
message of the same thread and user (checked per statement), insert-only, and its tombstone takes the
subtree; replies carry a status and an error; threads carry an active leaf and bounded settings; old
threads become one path without a new stamp, exactly as the local migration v11 links them."""

from __future__ import annotations

import json
import sqlite3
import uuid

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.rows import dict_row

from local_schema.migrations import migrate
from standin.impersonate import ApiSession, create_auth_user
from standin.schema import (
    MIGRATION_HISTORY_SQL,
    SCAFFOLDING_SQL,
    _run_file,
    _run_migration,
    migration_files,
)
from tests.server.rows import get, insert, make, patch

TREES_MIGRATION = "20261207000000_message_trees.sql"
NIL = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def thread(alice):
    return make(alice, "conversations")


def say(session, thread, content="hi", role="user", **values):
    return insert(session, "messages", conversation_id=thread["id"], role=role, content=content, **values)


def insert_many(session: ApiSession, rows: list[dict]) -> list[dict]:
    """One INSERT statement of several rows, as PostgREST's bulk POST (the sync client's push)."""
    columns = list(rows[0])
    query = sql.SQL("insert into public.messages ({}) values {} returning *").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(columns)))
                           for _ in rows))
    return session.all(query, [row[c] for row in rows for c in columns])


# --- the parent ---------------------------------------------------------------------------------------
def test_a_reply_names_its_question_and_siblings_share_a_parent(alice, thread):
    question = say(alice, thread, "q", parent_id=None)
    first = say(alice, thread, "a1", "assistant", parent_id=question["id"])
    second = say(alice, thread, "a2", "assistant", parent_id=question["id"])
    assert question["parent_id"] is None
    children = alice.all("select id from public.messages where parent_id = %s order by seq, id", [question["id"]])
    assert [c["id"] for c in children] == [first["id"], second["id"]]


@pytest.mark.parametrize("where", ["another thread", "tombstoned", "another user's", "missing"])
def test_a_parent_must_be_a_live_message_of_the_same_thread_and_user(alice, bob, thread, where):
    if where == "another thread":
        parent = say(alice, make(alice, "conversations"), parent_id=None)["id"]
    elif where == "tombstoned":
        parent = say(alice, thread, parent_id=None)["id"]
        patch(alice, "messages", parent, deleted_at="now")
    elif where == "another user's":
        parent = make(bob, "messages", parent_id=None)["id"]
    else:
        parent = str(uuid.uuid4())
    with pytest.raises(errors.ForeignKeyViolation, match="is not a live message of the same conversation"):
        say(alice, thread, "orphan", parent_id=parent)
    assert alice.all("select id from public.messages where content = 'orphan'") == []


def test_a_child_may_come_before_its_parent_in_one_request(alice, thread):
    """The check runs once per statement: a push batch holds a question and its reply in any order."""
    question, reply = str(uuid.uuid4()), str(uuid.uuid4())
    base = {"conversation_id": thread["id"], "deleted_at": None}
    rows = insert_many(alice, [
        {**base, "id": reply, "role": "assistant", "content": "r", "parent_id": question},
        {**base, "id": question, "role": "user", "content": "q", "parent_id": None}])
    assert {str(r["id"]): r["parent_id"] and str(r["parent_id"]) for r in rows} == {reply: question, question: None}


def test_a_message_is_never_its_own_parent(alice, thread):
    own = str(uuid.uuid4())
    with pytest.raises(errors.CheckViolation, match="messages_parent_not_self"):
        say(alice, thread, id=own, parent_id=own)


def test_the_parent_is_kept_on_update_and_the_stamp_with_it(alice, thread):
    first = say(alice, thread, "q1", parent_id=None)
    second = say(alice, thread, "q2", parent_id=None)
    reply = say(alice, thread, "r", "assistant", parent_id=first["id"])
    assert patch(alice, "messages", reply["id"], parent_id=second["id"]) == reply  # nothing changed
    edited = patch(alice, "messages", reply["id"], parent_id=None, content="r (typo fixed)")
    assert edited["parent_id"] == first["id"] and edited["updated_at"] > reply["updated_at"]


def test_a_device_that_sends_no_parent_continues_the_line_it_sees(alice, thread):
    """An older MIRARI sends no parent_id: its message follows the thread's newest live message."""
    first = insert(alice, "messages", conversation_id=thread["id"], role="user", content="q")
    reply = insert(alice, "messages", conversation_id=thread["id"], role="assistant", content="r")
    gone = insert(alice, "messages", conversation_id=thread["id"], role="user", content="gone")
    patch(alice, "messages", gone["id"], deleted_at="now")
    late = insert(alice, "messages", conversation_id=thread["id"], role="user", content="next")
    assert (first["parent_id"], reply["parent_id"], late["parent_id"]) == (None, first["id"], reply["id"])
    assert alice.one("select count(*) as n from public.messages where parent_id = %s", [NIL])["n"] == 0


def test_a_tombstone_takes_the_subtree_and_leaves_the_siblings(alice, thread):
    question = say(alice, thread, "q", parent_id=None)
    kept = say(alice, thread, "kept", "assistant", parent_id=question["id"])
    doomed = say(alice, thread, "doomed", "assistant", parent_id=question["id"])
    below = [doomed]
    for i in range(30):  # a deep branch: one statement, not one trigger level per generation
        below.append(say(alice, thread, f"d{i}", "user" if i % 2 == 0 else "assistant", parent_id=below[-1]["id"]))
    side = say(alice, thread, "side", "user", parent_id=below[5]["id"])
    patch(alice, "messages", doomed["id"], deleted_at="now")
    rows = {r["id"]: r for r in alice.all("select * from public.messages where conversation_id = %s",
                                          [thread["id"]])}
    gone = [b["id"] for b in below] + [side["id"]]
    assert all(rows[i]["deleted_at"] is not None for i in gone)
    assert all(rows[i]["updated_at"] > doomed["updated_at"] for i in gone)  # restamped: devices pull them
    assert rows[question["id"]]["deleted_at"] is None and rows[kept["id"]] == kept


def test_deleting_a_thread_still_tombstones_every_message_once(alice, thread):
    question = say(alice, thread, "q", parent_id=None)
    reply = say(alice, thread, "r", "assistant", parent_id=question["id"])
    patch(alice, "conversations", thread["id"], deleted_at="now")
    assert get(alice, "messages", question["id"])["deleted_at"] is not None
    assert get(alice, "messages", reply["id"])["deleted_at"] is not None


# --- status and error ---------------------------------------------------------------------------------
def test_a_failed_reply_keeps_its_reason(alice, thread):
    question = say(alice, thread, parent_id=None)
    failed = say(alice, thread, "", "assistant", parent_id=question["id"], status="error", error="502 Bad Gateway")
    stopped = say(alice, thread, "half a", "assistant", parent_id=question["id"], status="stopped")
    assert (failed["status"], failed["error"], stopped["status"], question["status"]) == (
        "error", "502 Bad Gateway", "stopped", "done")


@pytest.mark.parametrize("values, constraint", [
    ({"role": "assistant", "status": "streaming"}, "messages_status_check"),
    ({"role": "user", "status": "stopped"}, "messages_status_role"),
    ({"role": "assistant", "status": "error"}, "messages_error_status"),
    ({"role": "assistant", "status": "done", "error": "why"}, "messages_error_status"),
    ({"role": "assistant", "status": "error", "error": ""}, "messages_error_length"),
    ({"role": "assistant", "status": "error", "error": "e" * 2001}, "messages_error_length"),
])
def test_status_and_error_are_checked(alice, thread, values, constraint):
    with pytest.raises(errors.CheckViolation, match=constraint):
        insert(alice, "messages", conversation_id=thread["id"], content="x", parent_id=None, **values)


# --- the thread: active leaf and settings ----------------------------------------------------------------
def test_thread_settings_within_bounds_are_kept(alice):
    row = make(alice, "conversations", temperature=0.2, max_tokens=1_000_000, system_addition="s" * 20_000,
               stop_sequences=["\n\nUser:", "✶" * 200, "END", "x"], active_leaf_id=str(uuid.uuid4()))
    assert row["stop_sequences"] == ["\n\nUser:", "✶" * 200, "END", "x"] and row["max_tokens"] == 1_000_000


@pytest.mark.parametrize("values, constraint", [
    ({"temperature": 2.5}, "conversations_temperature_range"),
    ({"temperature": -0.1}, "conversations_temperature_range"),
    ({"max_tokens": 0}, "conversations_max_tokens_range"),
    ({"max_tokens": 1_000_001}, "conversations_max_tokens_range"),
    ({"system_addition": "s" * 20_001}, "conversations_system_addition_length"),
    ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": [""]}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": ["x" * 201]}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": [1]}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": [["nested"]]}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": {"a": "b"}}, "conversations_stop_sequences_shape"),
    ({"stop_sequences": json.dumps("END")}, "conversations_stop_sequences_shape"),  # a JSON string
])
def test_thread_settings_out_of_bounds_are_refused(alice, values, constraint):
    with pytest.raises(errors.CheckViolation, match=constraint):
        make(alice, "conversations", **values)


def test_only_the_owner_moves_the_active_leaf(alice, bob, thread):
    leaf = say(alice, thread, parent_id=None)
    moved = patch(alice, "conversations", thread["id"], active_leaf_id=leaf["id"], temperature=0.9)
    assert moved["active_leaf_id"] == leaf["id"] and moved["updated_at"] > thread["updated_at"]
    assert patch(bob, "conversations", thread["id"], active_leaf_id=str(uuid.uuid4())) is None
    assert get(bob, "conversations", thread["id"]) is None
    assert get(alice, "conversations", thread["id"]) == moved


# --- existing threads: one path, identical on the server and on a device ------------------------------------
def test_existing_threads_become_one_path_without_a_new_stamp_and_as_the_device_links_them(pg_cluster, tmp_path):
    name = "message_trees_backfill"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = pg_cluster.dsn(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _run_file(conn, SCAFFOLDING_SQL)
            conn.execute(MIGRATION_HISTORY_SQL)
            for path in migration_files():
                if path.name < TREES_MIGRATION:
                    _run_migration(conn, path)
        user = create_auth_user(dsn)
        threads = [str(uuid.uuid4()), str(uuid.uuid4())]
        same_seq = 1_700_000_000_000_000  # in the past: the server bounds a seq to its clock + 1 day
        # (id, thread, content, seq): out of insertion order, a tie broken by id, a deleted one in the middle.
        rows = [("a2000000-0000-4000-8000-000000000002", 0, "second", same_seq + 10),
                ("a1000000-0000-4000-8000-000000000001", 0, "first", same_seq),
                ("a3000000-0000-4000-8000-00000000000b", 0, "tie b", same_seq + 20),
                ("a3000000-0000-4000-8000-00000000000a", 0, "tie a", same_seq + 20),
                ("a4000000-0000-4000-8000-000000000004", 0, "deleted", same_seq + 30),
                ("a5000000-0000-4000-8000-000000000005", 0, "after the deleted", same_seq + 40),
                ("b1000000-0000-4000-8000-000000000001", 1, "other thread", same_seq + 5)]
        with ApiSession(dsn, user) as alice:
            for thread_id in threads:
                make(alice, "conversations", id=thread_id)
            for row_id, thread, content, seq in rows:
                insert(alice, "messages", id=row_id, conversation_id=threads[thread], role="user", content=content,
                       seq=seq)
            patch(alice, "messages", rows[4][0], deleted_at="now")
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            before = {str(r["id"]): r["updated_at"] for r in conn.execute("select id, updated_at from public.messages")}
            threads_before = {str(r["id"]): r["updated_at"] for r in conn.execute(
                "select id, updated_at from public.conversations")}
            _run_migration(conn, next(p for p in migration_files() if p.name == TREES_MIGRATION))
            after = {str(r["id"]): r for r in conn.execute("select id, parent_id, updated_at from public.messages")}
            leaves = {str(r["id"]): (str(r["active_leaf_id"]), r["updated_at"]) for r in conn.execute(
                "select id, active_leaf_id, updated_at from public.conversations")}
        server = {i: (str(r["parent_id"]) if r["parent_id"] else None) for i, r in after.items()}
        assert server == {
            "a1000000-0000-4000-8000-000000000001": None,
            "a2000000-0000-4000-8000-000000000002": "a1000000-0000-4000-8000-000000000001",
            "a3000000-0000-4000-8000-00000000000a": "a2000000-0000-4000-8000-000000000002",
            "a3000000-0000-4000-8000-00000000000b": "a3000000-0000-4000-8000-00000000000a",
            "a4000000-0000-4000-8000-000000000004": None,  # tombstoned: out of every path
            "a5000000-0000-4000-8000-000000000005": "a3000000-0000-4000-8000-00000000000b",
            "b1000000-0000-4000-8000-000000000001": None}
        assert {i: r["updated_at"] for i, r in after.items()} == before  # no device pulls them again
        assert leaves == {threads[0]: ("a5000000-0000-4000-8000-000000000005", threads_before[threads[0]]),
                          threads[1]: ("b1000000-0000-4000-8000-000000000001", threads_before[threads[1]])}

        # A device that pulled the same rows (the deleted one as a tombstone it removed) links them the same.
        path = tmp_path / "device.sqlite3"
        raw = sqlite3.connect(path, isolation_level=None)
        migrate(raw, target=10)
        for thread_id in threads:
            raw.execute("INSERT INTO conversations (id, title) VALUES (?, 't')", (thread_id,))
        raw.executemany("INSERT INTO messages (id, conversation_id, role, content, seq) VALUES (?, ?, 'user', ?, ?)",
                        [(i, threads[t], c, s) for i, t, c, s in rows if c != "deleted"])
        migrate(raw)
        local = dict(raw.execute("SELECT id, parent_id FROM messages"))
        local_leaves = dict(raw.execute("SELECT id, active_leaf_id FROM conversations"))
        raw.close()
        assert local == {i: p for i, p in server.items() if i != "a4000000-0000-4000-8000-000000000004"}
        assert local_leaves == {i: leaf for i, (leaf, _stamp) in leaves.items()}
    finally:
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'drop database "{name}" with (force)')


def test_stop_sequences_round_trip_as_json(alice):
    row = make(alice, "conversations", stop_sequences=["a\"b", "ü"])
    assert json.dumps(row["stop_sequences"]) == json.dumps(["a\"b", "ü"])
