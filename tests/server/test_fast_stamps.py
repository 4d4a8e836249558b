"""The stamp cache of …120100_faster_stamps.sql: one clock-row upsert per transaction and owner, the last
stamp written back at commit, so stamps stay unique and commit-ordered per user."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import errors

from tests.server.rows import make


def clock(server_db: str, user_id: str):
    with psycopg.connect(server_db) as conn:
        return conn.execute("select last_stamp from mirari_private.sync_clock where user_id = %s",
                            [user_id]).fetchone()[0]


def insert_many(cur, conversation: str, n: int) -> list:
    cur.execute("insert into public.messages (conversation_id, role, content) "
                "select %s, 'user', 'm' || i from generate_series(1, %s) i returning updated_at", [conversation, n])
    return [r["updated_at"] for r in cur.fetchall()]


def test_a_big_statement_gets_increasing_stamps_and_the_clock_keeps_the_last(alice, server_db):
    conversation = make(alice, "conversations")["id"]
    with alice.tx() as cur:
        first = insert_many(cur, conversation, 2000)  # faster than one stamp per µs: stamps run ahead
        second = insert_many(cur, conversation, 10)
    stamps = sorted(first) + sorted(second)
    assert len(set(stamps)) == len(stamps) and max(first) < min(second)
    assert clock(server_db, alice.user_id) == stamps[-1]  # written back at commit
    after = make(alice, "tasks")["updated_at"]
    assert after > stamps[-1]  # the next transaction continues after the last stamp, not the first


def test_a_transaction_stamping_two_owners_writes_back_both_clocks(server_db, make_user):
    alice, bob = make_user(), make_user()
    with psycopg.connect(server_db) as conn:  # the superuser, as a maintenance job would
        stamps = {}
        for owner in (alice, bob, alice, bob):
            row = conn.execute("insert into public.tasks (user_id, title) values (%s, 'x') returning updated_at",
                               [owner]).fetchone()
            stamps.setdefault(owner, []).append(row[0])
        conn.commit()
    for owner, owned in stamps.items():
        assert owned == sorted(owned) and len(set(owned)) == 2
        assert clock(server_db, owner) == owned[-1]


def test_a_rolled_back_savepoint_leaves_no_stale_stamp_behind(alice, server_db):
    conversation = make(alice, "conversations")["id"]
    with alice.tx() as cur:
        cur.execute("savepoint s")
        insert_many(cur, conversation, 50)  # its clock-row lock and cached stamp go with the rollback
        cur.execute("rollback to savepoint s")
        kept = insert_many(cur, conversation, 5)  # so this takes the clock row again
    assert kept == sorted(kept) and clock(server_db, alice.user_id) == max(kept)
    assert make(alice, "tasks")["updated_at"] > max(kept)


def test_a_concurrent_writer_waits_and_stamps_after_the_last_stamp_of_the_first(alice, as_user, server_db):
    other = as_user(alice.user_id)  # a second device of the same user
    conversation = make(alice, "conversations")["id"]
    result = {}

    def second_writer():
        result["stamp"] = make(other, "tasks")["updated_at"]

    with alice.tx() as cur:
        stamps = insert_many(cur, conversation, 500)
        writer = threading.Thread(target=second_writer)
        writer.start()
        time.sleep(0.3)  # it must be waiting for our clock row, not stamping
        assert "stamp" not in result
    writer.join(10)
    assert result["stamp"] > max(stamps)


def test_a_value_not_set_by_this_transaction_is_never_trusted(alice, server_db):
    conversation = make(alice, "conversations")["id"]
    forged = f"1 {alice.user_id} 2999-01-01T00:00:00.000000"
    with alice.tx() as cur:
        cur.execute("select set_config('mirari.stamp', %s, true)", [forged])
        stamps = insert_many(cur, conversation, 3)
    assert max(stamps).year < 2999 and clock(server_db, alice.user_id) == max(stamps)


def test_a_message_in_a_tombstoned_conversation_is_still_refused_once_per_statement(alice):
    conversation = make(alice, "conversations")["id"]
    with alice.tx() as cur:
        cur.execute("update public.conversations set deleted_at = now() where id = %s", [conversation])
    with pytest.raises(errors.ForeignKeyViolation, match=f"conversation {conversation} is deleted"), \
            alice.tx() as cur:
        insert_many(cur, conversation, 3)
    other = make(alice, "conversations")["id"]
    with alice.tx() as cur:
        assert len(insert_many(cur, other, 3)) == 3
