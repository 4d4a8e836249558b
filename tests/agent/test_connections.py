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
