"""A cycle tells the database's listeners which rows it applied; an engine can sync a database the app
already has open, and refuses it once it is no longer the active account's."""

from __future__ import annotations

import pytest

from local_schema.models import Conversation, Message
from sync.engine import SyncEngine
from sync.errors import SyncError


def test_a_cycle_announces_the_rows_it_applied(devices):
    a, b = devices("a"), devices("b")
    with a.session() as s:
        conversation = Conversation(title="t")
        s.add(conversation)
        s.flush()
        messages = [Message(conversation_id=conversation.id, role="user", content=str(i)) for i in range(3)]
        s.add_all(messages)
        s.commit()
    a.sync()
    heard = []
    b.db.add_change_listener(lambda tables, origin: heard.append((set(tables), origin, dict(tables.rows))))
    b.sync()
    assert heard == [({"conversations", "messages"}, "sync",
                      {"conversations": frozenset({conversation.id}),
                       "messages": frozenset(m.id for m in messages)})]
    heard.clear()
    b.sync()
    assert heard == []  # an idle cycle applied nothing and says nothing

    a.execute("DELETE FROM conversations WHERE id = ?", conversation.id)
    a.sync()
    b.sync()
    [(tables, origin, rows)] = heard
    # The tombstone cascaded locally: messages changed too, and so may their attachments (the cascade goes
    # on to them); ids not listed (rows of it = unknown).
    assert tables == {"conversations", "messages", "attachments"} and "messages" not in rows
    assert "attachments" not in rows


def test_an_engine_syncs_the_open_database_and_refuses_another_accounts(devices, supabase_stack, tmp_path):
    from local_schema.database import open_database
    from sync import accounts

    a = devices("a")
    db = open_database(accounts.active_database_path(a.data_dir))
    try:
        engine = SyncEngine(a.data_dir, database=db)
        assert engine.database() is db and engine.run_cycle().state == "idle"
        engine.close()
        assert db.engine.pool is not None  # the engine never closes a database it was given
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        other = open_database(tmp_path / "other.sqlite3")
        stray = SyncEngine(a.data_dir, database=other)
        with pytest.raises(SyncError, match="not the active account's"):
            stray.database()
        assert stray.run_cycle().state == "error"  # and a cycle reports it instead of pushing
        other.close()
    finally:
        db.close()
