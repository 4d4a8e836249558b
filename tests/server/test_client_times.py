"""The times a client chooses (20261206100000_client_times.sql): created_at is the client's on insert,
exact to the microsecond, clamped to [epoch, stamp + 5 minutes], kept on every update; messages.seq is
clamped to stamp + 1 day in µs; row-level security is unchanged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from psycopg import errors

from local_schema.timestamps import to_micros
from tests.server.rows import MINIMAL, get, insert, make, patch

TABLES = list(MINIMAL)
SKEW = dt.timedelta(minutes=5)
DAY_US = 86_400_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MADE = dt.datetime(2026, 11, 2, 18, 21, 7, 123457, tzinfo=dt.UTC)  # weeks ago, offline, with µs


def _micros(moment: dt.datetime) -> int:
    return to_micros(moment.isoformat())


@pytest.mark.parametrize("table", TABLES)
def test_the_clients_created_at_is_kept_to_the_microsecond(alice, table):
    row = make(alice, table, created_at=MADE.isoformat())
    assert row["created_at"] == MADE
    assert row["updated_at"] > MADE  # the sync cursor stays the server's stamp
    assert get(alice, table, row["id"])["created_at"] == MADE


@pytest.mark.parametrize("table", TABLES)
def test_a_forged_future_is_clamped_to_five_minutes_after_the_stamp(alice, table):
    far = make(alice, table, created_at="2999-01-01T00:00:00+00:00")
    assert far["created_at"] == far["updated_at"] + SKEW
    endless = make(alice, table, created_at="infinity")
    assert endless["created_at"] == endless["updated_at"] + SKEW


def test_an_ordinary_clock_skew_is_kept(alice):
    now = alice.one("select clock_timestamp() as t")["t"]
    ahead = now + dt.timedelta(minutes=2)
    row = make(alice, "messages", created_at=ahead.isoformat())
    assert row["created_at"] == ahead


@pytest.mark.parametrize("value", ["-infinity", "0001-01-01T00:00:00+00:00", "1969-12-31T23:59:59.999999+00:00"])
def test_nothing_is_dated_before_the_unix_epoch(alice, value):
    assert make(alice, "tasks", created_at=value)["created_at"] == EPOCH
    assert make(alice, "tasks", created_at="1970-01-01T00:00:00.000001+00:00")["created_at"] == \
        EPOCH + dt.timedelta(microseconds=1)


def test_an_older_client_that_sends_no_created_at_gets_the_stamp(alice):
    row = make(alice, "tasks")  # MINIMAL sends no created_at
    assert row["created_at"] == row["updated_at"]
    explicit_null = make(alice, "tasks", created_at=None)
    assert explicit_null["created_at"] == explicit_null["updated_at"]


@pytest.mark.parametrize("table", TABLES)
def test_an_update_never_changes_created_at(alice, table):
    row = make(alice, table, created_at=MADE.isoformat())
    assert patch(alice, table, row["id"], created_at="2001-01-01T00:00:00+00:00") == row  # a no-op, same stamp
    column = {"templates": "name", "agent_connections": "name", "memory_nodes": "label", "skills": "name",
              "messages": "content", "dream_reports": "summary", "attachments": "name"}.get(table, "title")
    edited = patch(alice, table, row["id"], created_at="2001-01-01T00:00:00+00:00", **{column: "edited"})
    assert edited[column] == "edited" and edited["updated_at"] > row["updated_at"]
    assert edited["created_at"] == MADE
    tombstoned = patch(alice, table, row["id"], deleted_at="now", created_at="2999-01-01T00:00:00+00:00")
    assert tombstoned["created_at"] == MADE and tombstoned["deleted_at"] is not None


def test_a_bulk_insert_keeps_each_rows_own_time(alice):
    """As the sync client pushes: one statement of many rows, each made at its own moment."""
    conversation = str(make(alice, "conversations")["id"])
    made = [MADE + dt.timedelta(seconds=i, microseconds=i) for i in range(50)]
    body = json.dumps([{"conversation_id": conversation, "role": "user", "content": f"m{i}",
                        "created_at": t.isoformat(), "user_id": alice.user_id} for i, t in enumerate(made)])
    rows = alice.all("insert into public.messages (conversation_id, role, content, created_at, user_id) "
                     "select conversation_id, role, content, created_at, user_id from json_to_recordset(%s::json) "
                     "as r(conversation_id uuid, role text, content text, created_at timestamptz, user_id uuid) "
                     "returning created_at, updated_at", [body])
    assert [r["created_at"] for r in rows] == made
    stamps = [r["updated_at"] for r in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_row_level_security_is_unchanged(alice, bob):
    row = make(alice, "tasks", created_at=MADE.isoformat())
    assert patch(bob, "tasks", row["id"], created_at="2001-01-01T00:00:00+00:00", title="bob's") is None
    assert get(bob, "tasks", row["id"]) is None
    assert get(alice, "tasks", row["id"]) == row
    with pytest.raises(errors.InsufficientPrivilege):  # a row for alice, made by bob: still refused
        insert(bob, "tasks", title="forged", user_id=alice.user_id, created_at=MADE.isoformat())


# -- messages.seq ---------------------------------------------------------------------------------------
def test_a_seq_beyond_a_day_ahead_is_clamped_and_the_thread_takes_more_messages(alice):
    conversation = str(make(alice, "conversations")["id"])
    forged = insert(alice, "messages", conversation_id=conversation, role="user", content="x", seq=2**63 - 1)
    assert forged["seq"] == _micros(forged["updated_at"]) + DAY_US
    largest = alice.one("select max(seq) as s from public.messages where conversation_id = %s", [conversation])["s"]
    after = insert(alice, "messages", conversation_id=conversation, role="user", content="y", seq=largest + 1)
    assert after["seq"] == largest + 1  # within the next row's bound: kept as sent


def test_a_seq_up_to_a_day_ahead_is_kept(alice):
    conversation = str(make(alice, "conversations")["id"])
    now = alice.one("select clock_timestamp() as t")["t"]
    seq = _micros(now) + DAY_US - 1_000_000
    assert insert(alice, "messages", conversation_id=conversation, role="user", content="x", seq=seq)["seq"] == seq


def test_rows_clamped_in_one_statement_keep_their_order(alice):
    conversation = str(make(alice, "conversations")["id"])
    body = json.dumps([{"conversation_id": conversation, "role": "user", "content": f"m{i}",
                        "seq": 2**62 + i} for i in range(20)])
    rows = alice.all("insert into public.messages (conversation_id, role, content, seq) "
                     "select conversation_id, role, content, seq from json_to_recordset(%s::json) "
                     "as r(conversation_id uuid, role text, content text, seq bigint) returning content, seq", [body])
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    assert [r["content"] for r in sorted(rows, key=lambda r: r["seq"])] == [f"m{i}" for i in range(20)]


def test_times_round_trip_exactly_through_sqlite_and_postgresql(alice, tmp_path):
    """What a device writes, PostgreSQL stores and renders (as PostgREST sends it) and another device stores
    is the same instant to the microsecond, and SQLite keeps each text byte for byte."""
    import sqlite3

    from local_schema.database import open_database
    from local_schema.models import Conversation, Message
    from local_schema.timestamps import format_timestamp, parse_timestamp

    offsets = [0, 1, 10, 120_000, 999_999, 1_000_000, 951_782_400_000_000 + 5, 1_700_000_000_123_450,
               1_767_225_599_999_999]  # epoch, µs edges, trimmed zeros, a leap day in 2000, 2023, end of 2025
    written = [format_timestamp(EPOCH + dt.timedelta(microseconds=us)) for us in offsets]
    db = open_database(tmp_path / "device.sqlite3")
    try:
        with db.write() as s:
            thread = Conversation(title="t")
            s.add(thread)
            s.flush()
            s.add_all(Message(conversation_id=thread.id, role="user", content=text, created_at=text) for text in written)
        for text, us in zip(written, offsets, strict=True):
            row = make(alice, "tasks", created_at=text)
            assert row["created_at"] == parse_timestamp(text)
            rendered = alice.one("select to_json(created_at) #>> '{}' as t, "
                                 "(extract(epoch from created_at) * 1000000)::bigint as us "
                                 "from public.tasks where id = %s", [row["id"]])
            assert to_micros(text) == to_micros(rendered["t"]) == rendered["us"] == us
            with db.write() as s:  # as a pull stores it: the server's text, verbatim
                s.add(Message(conversation_id=thread.id, role="user", content=f"pulled {us}", created_at=rendered["t"]))
        raw = sqlite3.connect(tmp_path / "device.sqlite3")
        stored = dict(raw.execute("SELECT content, created_at FROM messages"))
        raw.close()
        assert [stored[text] for text in written] == written
        assert all(to_micros(stored[f"pulled {us}"]) == us for us in offsets)
    finally:
        db.close()
