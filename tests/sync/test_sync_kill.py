"""The process is killed (SIGKILL; TerminateProcess on Windows) in the middle of a pull and of a push: it
resumes, nothing lost or doubled.

The sync runs in a real child process (`python -m mirari sync`), sharing the session through a
file-backed test keychain; the stand-in delays requests so the kill lands mid-cycle.
"""

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from local_schema.models import Conversation, Message
from standin.impersonate import ApiSession

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def file_keyring(file_keyring_env):
    return file_keyring_env


def start_sync(data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "standin.keyrings.FileKeyring"}
    return subprocess.Popen([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), "sync", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def local_count(db_path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def server_count(stack, user_id: str) -> int:
    with psycopg.connect(stack.db_url) as conn:
        return conn.execute("select count(*) from public.messages where user_id = %s", (user_id,)).fetchone()[0]


def test_sigkill_mid_pull_resumes_without_loss_or_duplicates(devices, supabase_stack, user, file_keyring):
    conv = str(uuid.uuid4())
    with ApiSession(supabase_stack.db_url, user[2]) as api, api.tx() as cur:
        cur.execute("insert into public.conversations (id, title) values (%s, 'big')", (conv,))
        cur.execute("insert into public.messages (conversation_id, role, content) "
                    "select %s, 'assistant', 'reply ' || i from generate_series(1, 3000) i", (conv,))
    dev = devices("b")
    db_path = dev.engine.database().path
    dev.engine.close_database()
    supabase_stack.faults.delay("GET", "/rest/v1/messages", 0.6)
    proc = start_sync(dev.data_dir)
    try:
        wait_for(lambda: local_count(db_path, "SELECT count(*) FROM messages") >= 1000)
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = local_count(db_path, "SELECT count(*) FROM messages")
    assert partial in (1000, 2000)  # whole pages only: each page commits with its cursor
    # The cursor committed with the rows is the last stored row's stamp (the server's exact string).
    assert local_count(db_path, "SELECT count(*) FROM sync_cursors WHERE table_name = 'messages' "
                                "AND cursor = (SELECT max(updated_at) FROM messages)") == 1
    # It was a first sync in bulk mode: its indexes wait in sync_meta, its rows on the search backlog.
    assert local_count(db_path, "SELECT count(*) FROM sync_meta WHERE key = 'deferred_indexes:messages'") == 1
    assert local_count(db_path, "SELECT count(*) FROM messages_fts_backlog") == partial
    supabase_stack.faults.clear()
    result = dev.sync()
    assert result.pulled == 3000 - partial
    assert dev.scalar("SELECT count(*) FROM messages") == 3000
    assert dev.scalar("SELECT count(DISTINCT content) FROM messages") == 3000
    # The resumed sync built the deferred indexes and indexed the backlog (and the rest, per row).
    assert dev.scalar("SELECT count(*) FROM sync_meta WHERE key LIKE 'deferred_indexes:%'") == 0
    assert dev.scalar("SELECT count(*) FROM messages_fts_backlog") == 0
    assert dev.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'messages_conversation_created'") == 1
    from local_schema.search import search_messages

    with dev.db.engine.connect() as conn:
        assert len(search_messages(conn, "reply", limit=5000)) == 3000
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


def test_sigkill_mid_push_resumes_without_loss_or_duplicates(devices, supabase_stack, user, file_keyring):
    dev = devices("a")
    with dev.session() as s:
        conv = Conversation(title="offline burst")
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, role="user", content=f"typed {i}") for i in range(1500)])
        s.commit()
    dev.engine.close_database()
    supabase_stack.faults.delay("POST", "/rest/v1/messages", 0.6)
    proc = start_sync(dev.data_dir)
    try:
        wait_for(lambda: server_count(supabase_stack, user[2]) >= 500)
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert server_count(supabase_stack, user[2]) < 1500  # really interrupted
    supabase_stack.faults.clear()
    time.sleep(0.7)  # let a request the dead process left in flight finish on the server
    result = dev.sync()
    assert result.parked == 0
    assert server_count(supabase_stack, user[2]) == 1500
    with psycopg.connect(supabase_stack.db_url) as conn:
        distinct = conn.execute("select count(distinct content) from public.messages where user_id = %s",
                                (user[2],)).fetchone()[0]
    assert distinct == 1500
    assert dev.scalar("SELECT count(*) FROM sync_outbox") == 0
    assert dev.scalar("SELECT count(*) FROM messages") == 1500
