"""The search backlog (migration v8): messages stored without indexing are indexed later in chunks, and
edits or deletes made meanwhile never corrupt the index."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text

from local_schema.database import open_database
from local_schema.migrations import migrate
from local_schema.models import Conversation
from local_schema.search import index_backlog, rebuild_search_index, search_messages

CONV = "1c8a6d3f-4a7b-4e2f-8b64-7d2e3f4a5b6c"


def _conversation(db) -> str:
    with db.write() as session:
        session.add(Conversation(id=CONV, title="t"))
    return CONV


def _store_unindexed(db, contents: list[str]) -> None:
    """What a first sync does: insert with the index trigger absent (inside the transaction), backlog them."""
    with db.engine.begin() as conn:
        top = conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM messages").scalar()
        trigger = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_fts_insert'").scalar()
        conn.exec_driver_sql("DROP TRIGGER messages_fts_insert")
        conn.exec_driver_sql("INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', ?)",
                             [(CONV, c) for c in contents])
        conn.exec_driver_sql(trigger)
        conn.exec_driver_sql("INSERT INTO messages_fts_backlog (msg_rowid) SELECT rowid FROM messages "
                             "WHERE rowid > ?", (top,))


def _search(db, query: str) -> list[str]:
    with db.session() as session:
        return sorted(hit.snippet_plain() for hit in search_messages(session, query))


def _index_is_consistent(db) -> None:
    with db.engine.begin() as conn:  # FTS5's own check of the index against the messages table
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


def _backlog(db) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM messages_fts_backlog").scalar()


def test_backlogged_messages_become_searchable_chunk_by_chunk(db):
    _conversation(db)
    _store_unindexed(db, [f"walnut number {i}" for i in range(25)])
    assert _search(db, "walnut") == [] and _backlog(db) == 25
    done = []
    while True:
        with db.engine.begin() as conn:
            n = index_backlog(conn, limit=10)
        if not n:
            break
        done.append(n)
    assert done == [10, 10, 5]
    assert len(_search(db, "walnut")) == 25 and _backlog(db) == 0
    _index_is_consistent(db)


def test_edits_and_deletes_of_backlogged_messages_keep_the_index_consistent(db):
    _conversation(db)
    with db.engine.begin() as conn:  # an ordinary, indexed message alongside
        conn.exec_driver_sql("INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', 'pecan pie')",
                             (CONV,))
    _store_unindexed(db, ["hazel one", "hazel two", "hazel three"])
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE messages SET content = 'almond one' WHERE content = 'hazel one'")
        conn.exec_driver_sql("DELETE FROM messages WHERE content = 'hazel two'")
        conn.exec_driver_sql("UPDATE messages SET content = 'pecan tart' WHERE content = 'pecan pie'")
    assert _backlog(db) == 2  # the deleted one left the backlog with its row
    # A new message may reuse the deleted rowid: it is indexed at once, and never indexed twice.
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', 'hazel four')",
                             (CONV,))
    with db.engine.begin() as conn:
        assert index_backlog(conn, limit=100) == 2
    assert _search(db, "hazel") == ["hazel four", "hazel three"]
    assert _search(db, "almond") == ["almond one"]
    assert _search(db, "pecan") == ["pecan tart"]
    _index_is_consistent(db)


def test_rebuild_empties_the_backlog(db):
    _conversation(db)
    _store_unindexed(db, ["cashew"])
    with db.engine.begin() as conn:
        rebuild_search_index(conn)
    assert _backlog(db) == 0 and _search(db, "cashew") == ["cashew"]
    _index_is_consistent(db)


def test_a_first_sync_interrupted_before_v3_puts_every_message_on_the_backlog(db_path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=2)
    conn.execute("INSERT INTO conversations (id, title) VALUES (?, 't')", (CONV,))
    conn.execute("INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', 'indexed chestnut')",
                 (CONV,))
    conn.execute("DROP TRIGGER messages_fts_insert")  # how v2's first sync skipped the index
    conn.execute("INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', 'missed chestnut')",
                 (CONV,))
    conn.execute("INSERT INTO sync_meta (key, value) VALUES ('fts_rebuild_needed', '1')")
    conn.close()  # the process died before it recreated the trigger and rebuilt
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
                 "INSERT INTO messages_fts (rowid, content) VALUES (NEW.rowid, NEW.content); END")
    conn.close()
    db = open_database(db_path)
    try:
        assert _backlog(db) == 2
        with db.engine.connect() as c:
            assert c.exec_driver_sql("SELECT value FROM sync_meta WHERE key = 'fts_rebuild_needed'").scalar() == "0"
        with db.engine.begin() as c:
            index_backlog(c, limit=100)
        assert _search(db, "chestnut") == ["indexed chestnut", "missed chestnut"]
        _index_is_consistent(db)
        with db.session() as session:  # and the ordinary path still works
            session.execute(text("INSERT INTO messages (conversation_id, role, content) VALUES (:c, 'user', 'x')"),
                            {"c": CONV})
            session.commit()
    finally:
        db.close()
