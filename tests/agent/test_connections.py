"""agent.connections.rows: the key goes to the key store first, the row second, and never half of it."""

import pytest

from agent.connections.rows import ConnectionInvalid, add_connection, list_connections
from sync.secrets import SecretStore


def test_add_keeps_key_and_row_together(db, tmp_path, memory_keyring, monkeypatch):
    store = SecretStore(tmp_path, backend=memory_keyring)
    row = add_connection(db, store, name=" Local ", base_url="http://localhost:11434/v1/", model="hermes3",
                         api_key="sk-1", system_prompt="  ")
    assert (row.name, row.base_url, row.system_prompt) == ("Local", "http://localhost:11434/v1", None)
    assert store.get_key(row.id) == "sk-1" and [r.connection.id for r in list_connections(db)] == [row.id]

    with pytest.raises(ConnectionInvalid, match="Enter the model name"):
        add_connection(db, store, name="x", base_url="http://h/v1", model=" ", api_key="sk-2")

    def broken_write(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(db, "write", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        add_connection(db, store, name="y", base_url="http://h/v1", model="m", api_key="sk-3")
    assert sorted(memory_keyring.secrets.values()) == ["sk-1"]  # the orphan key was taken back


def test_live_connections_is_the_one_read_every_picker_uses(db):
    """Bind, Tasks, the Skill Forge, the Mirror (oldest first) and Dream (by name) read the same rows:
    the deleted ones never, and only the two orders there are."""
    from local_schema.models import AgentConnection
    from local_schema.timestamps import utc_now

    with db.write() as s:
        for name, created in (("Zeta", "2026-01-01T00:00:00+00:00"), ("Alpha", "2026-02-01T00:00:00+00:00"),
                              ("Gone", "2026-03-01T00:00:00+00:00")):
            s.add(AgentConnection(id=name.lower(), name=name, provider="custom", base_url="http://x", model="m",
                                  created_at=created, deleted_at=utc_now() if name == "Gone" else None))
    from agent.connections.rows import live_connections

    assert [c.name for c in live_connections(db)] == ["Zeta", "Alpha"]
    assert [c.name for c in live_connections(db, order="name")] == ["Alpha", "Zeta"]
    assert [r.connection.name for r in list_connections(db)] == ["Zeta", "Alpha"]
    with pytest.raises(ValueError, match="order"):
        live_connections(db, order="newest")
