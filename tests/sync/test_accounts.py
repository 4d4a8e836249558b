"""Which database is active: claim on first sign-in, one database per account, sign-out keeps data."""

import uuid

from local_schema import paths
from local_schema.database import open_database
from local_schema.models import Conversation, Message
from local_schema.outbox import count_pending
from sync import accounts


def _add_rows(path, n=3):
    db = open_database(path)
    with db.session() as s:
        conv = Conversation(title="offline notes")
        s.add(conv)
        s.flush()
        for i in range(n):
            s.add(Message(conversation_id=conv.id, role="user", content=f"m{i}"))
        s.commit()
    db.close()


def test_first_sign_in_claims_signed_out_rows_then_other_accounts_start_empty(tmp_path):
    _add_rows(paths.database_path(tmp_path))
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())

    path = accounts.signed_in(tmp_path, alice, "alice@example.com")
    assert path == paths.database_path(tmp_path, alice) and path.exists()
    assert not paths.database_path(tmp_path).exists()
    db = open_database(path)
    with db.engine.connect() as conn:
        owners = conn.exec_driver_sql("SELECT DISTINCT user_id FROM messages").scalars().all()
        assert owners == [alice]
        assert count_pending(conn) == 4  # the inserts made while signed out are still queued
    db.close()

    accounts.signed_out(tmp_path)
    assert accounts.active_database_path(tmp_path) == path  # data kept and still shown
    assert accounts.load_state(tmp_path).signed_in is False

    bob_path = accounts.signed_in(tmp_path, bob, "bob@example.com")
    assert bob_path != path
    db = open_database(bob_path)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 0
        assert count_pending(conn) == 0
    db.close()

    # Alice comes back: her database (and its queue) is hers again; Bob's is untouched.
    assert accounts.signed_in(tmp_path, alice, "alice@example.com") == path
    accounts.signed_out(tmp_path, remove_data=True)
    assert not path.exists() and bob_path.exists()
    assert accounts.active_database_path(tmp_path) == paths.database_path(tmp_path)


def test_first_sign_in_never_moves_the_database_under_an_open_app(tmp_path):
    import pytest

    from sync.errors import SyncError

    _add_rows(paths.database_path(tmp_path))
    app = accounts.app_lock(tmp_path)
    app.acquire(timeout=0)  # what the desktop app holds while its database is open
    try:
        with pytest.raises(SyncError, match="MIRARI is open on this data folder"):
            accounts.signed_in(tmp_path, str(uuid.uuid4()), "alice@example.com")
        assert paths.database_path(tmp_path).exists()  # nothing moved, nothing recorded
        assert accounts.load_state(tmp_path).signed_in is False
    finally:
        app.release()
    alice = str(uuid.uuid4())
    assert accounts.signed_in(tmp_path, alice, "alice@example.com") == paths.database_path(tmp_path, alice)


def test_removing_an_accounts_data_waits_for_the_app_and_takes_the_backups_too(tmp_path):
    import pytest

    from local_schema.safety import backups_of
    from sync.errors import SyncError

    alice = str(uuid.uuid4())
    path = accounts.signed_in(tmp_path, alice, "alice@example.com")
    _add_rows(path)
    backup = path.with_name(f"{path.name}.20260101T000000Z.v1.bak")
    backup.write_bytes(b"an older copy")
    assert backups_of(path) == [backup]

    app = accounts.app_lock(tmp_path)
    app.acquire(timeout=0)  # the window has the database open
    try:
        with pytest.raises(SyncError, match="you are signed out; your data is still here"):
            accounts.signed_out(tmp_path, remove_data=True)
        assert path.exists() and backup.exists()
        assert accounts.load_state(tmp_path).signed_in is False
    finally:
        app.release()
    accounts.signed_out(tmp_path, remove_data=True)
    assert not path.exists() and backups_of(path) == []
    assert accounts.active_database_path(tmp_path) == paths.database_path(tmp_path)
