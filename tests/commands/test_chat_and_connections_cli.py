"""`mirari connections add|list|test` and `mirari chat` against the fake OpenAI endpoint."""

import json

from tests.commands.conftest import one_error_line


def add(mirari, fake_llm, *extra):
    result = mirari("connections", "add", "--name", "Fake Hermes", "--base-url", fake_llm.base_url + "/",
                    "--model", "fake-model", *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def test_add_keeps_the_key_in_the_keychain_not_the_database(mirari, fake_llm, monkeypatch, memory_keyring):
    monkeypatch.setenv("MIRARI_API_KEY", "sk-secret-1")
    fake_llm.required_key = "sk-secret-1"
    cid = add(mirari, fake_llm, "--provider", "hermes")
    assert memory_keyring.secrets[("MIRARI", cid)] == "sk-secret-1"
    assert b"sk-secret-1" not in (mirari.data_dir / "local.sqlite3").read_bytes()
    [row] = json.loads(mirari("connections", "list", "--json").out)
    assert (row["id"], row["name"], row["provider"], row["base_url"], row["status"]) == (
        cid, "Fake Hermes", "hermes", fake_llm.base_url, "offline")
    assert row["checked_at"] is None and "deleted_at" in row and "system_prompt" in row

    tested = mirari("connections", "test", cid[:8])
    assert (tested.code, tested.out) == (0, "online\n")
    assert fake_llm.chat_requests[-1].authorization == "Bearer sk-secret-1"
    [row] = json.loads(mirari("connections", "list", "--json").out)
    assert row["status"] == "online" and row["checked_at"] and row["last_error"] is None
    assert "online (checked" in mirari("connections", "list").out


def test_test_reports_a_refused_key_and_an_unreachable_endpoint(mirari, fake_llm, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "sk-wrong")
    fake_llm.required_key = "sk-right"
    cid = add(mirari, fake_llm)
    assert one_error_line(mirari("connections", "test", cid)).startswith("error: ")
    monkeypatch.setenv("MIRARI_API_KEY", "")
    dead = mirari("connections", "add", "--name", "Dead", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert one_error_line(mirari("connections", "test", dead.out.strip(), "--timeout", "2")).startswith("offline: ")
    statuses = {r["name"]: r["status"] for r in json.loads(mirari("connections", "list", "--json").out)}
    assert statuses == {"Fake Hermes": "error", "Dead": "offline"}


def test_add_refuses_bad_input_and_writes_nothing(mirari, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "sk-x")
    bad = mirari("connections", "add", "--name", " ", "--base-url", "localhost:11434", "--model", "a b")
    message = one_error_line(bad)
    assert "Give the connection a name." in message and "http://" in message and "spaces" in message
    bad = mirari("connections", "add", "--name", "N", "--base-url", "http://x/v1", "--model", "m", "--provider", "x")
    assert "Choose a provider" in one_error_line(bad)
    assert json.loads(mirari("connections", "list", "--json").out) == []


def test_add_without_a_keychain_needs_the_passphrase_and_writes_nothing(mirari, monkeypatch):
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    keyring.set_keyring(NoKeyring())  # the memory_keyring fixture puts the test keychain back afterwards
    monkeypatch.setenv("MIRARI_API_KEY", "sk-x")
    bad = mirari("connections", "add", "--name", "N", "--base-url", "http://x/v1", "--model", "m")
    assert "MIRARI_KEY_PASSPHRASE" in one_error_line(bad)
    assert json.loads(mirari("connections", "list", "--json").out) == []
    monkeypatch.setenv("MIRARI_KEY_PASSPHRASE", "a long passphrase")
    cid = mirari("connections", "add", "--name", "N", "--base-url", "http://x/v1", "--model", "m").out.strip()
    from sync.keyfile import FILE_NAME
    from sync.secrets import SecretStore

    assert (mirari.data_dir / FILE_NAME).exists()

    store = SecretStore(mirari.data_dir)
    store.use_encrypted_file("a long passphrase")
    assert store.get_key(cid) == "sk-x"


def test_chat_streams_stores_both_messages_and_continues_a_thread(mirari, fake_llm, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm, "--system-prompt", "You are Hermes.")
    mirari("memory", "add", "Lives in Lisbon Portugal", "--strength", "0.8")
    fake_llm.reply(text="Since you live in Lisbon, Portugal has great trams.")
    first = mirari("chat", "--connection", cid, "Where should I go?")
    assert first.code == 0 and first.out == "Since you live in Lisbon, Portugal has great trams.\n"
    assert first.err.startswith("(thread ") and "continue it with --thread" in first.err
    thread = first.err.split()[1].rstrip(":")
    system = fake_llm.chat_requests[-1].messages[0]
    assert system["role"] == "system" and "- Lives in Lisbon Portugal (fact)" in system["content"]
    assert json.loads(mirari("memory", "list", "--json").out)[0]["strength"] == 0.85  # the reply used it

    fake_llm.reply(text="Try the Alfama.")
    second = mirari("chat", "--connection", cid, "--thread", thread[:8], "--json", "And then?")
    data = json.loads(second.out)
    assert second.code == 0 and (data["status"], data["thread_id"], data["text"]) == ("done", thread, "Try the Alfama.")
    assert (data["connection_id"], data["model"]) == (cid, "fake-model")  # who wrote the reply
    sent = [m["content"] for m in fake_llm.chat_requests[-1].messages[1:]]
    assert sent == ["Where should I go?", "Since you live in Lisbon, Portugal has great trams.", "And then?"]

    from agent.chat.threads import thread_messages_in
    from local_schema.database import open_database

    db = open_database(mirari.data_dir / "local.sqlite3")
    try:
        with db.session() as s:
            stored = [(m.role, m.content) for m in thread_messages_in(s, thread)]
            signed = [(m.agent_connection_id, m.model) for m in thread_messages_in(s, thread) if m.role == "assistant"]
    finally:
        db.close()
    assert stored == [("user", "Where should I go?"), ("assistant", "Since you live in Lisbon, Portugal has great trams."),
                      ("user", "And then?"), ("assistant", "Try the Alfama.")]
    assert signed == [(cid, "fake-model")] * 2


def test_chat_failures(mirari, fake_llm, monkeypatch):
    monkeypatch.setenv("MIRARI_API_KEY", "")
    cid = add(mirari, fake_llm)
    fake_llm.reply(status=401, error_json={"error": {"message": "bad key"}})
    failed = mirari("chat", "--connection", cid, "hello?")
    assert failed.code == 1 and failed.out == ""
    assert failed.err.splitlines()[-1].startswith("mirari: error: ")  # after the "(thread …)" note
    assert "no connection" in one_error_line(mirari("chat", "--connection", "nope", "hi"))
    assert "no thread" in one_error_line(mirari("chat", "--connection", cid, "--thread", "ffffffff", "hi"))
    assert "Type a message first" in one_error_line(mirari("chat", "--connection", cid, "   "))
    from local_schema.database import open_database

    db = open_database(mirari.data_dir / "local.sqlite3")
    try:
        with db.engine.connect() as conn:
            threads = conn.exec_driver_sql("SELECT count(*) FROM conversations").scalar()
            messages = conn.exec_driver_sql("SELECT role, content, status, error FROM messages ORDER BY seq").all()
    finally:
        db.close()
    # The failed turn keeps the question, and the failure as a reply with its reason (Retry: --retry).
    assert threads == 1 and [tuple(m[:3]) for m in messages] == [("user", "hello?", "done"), ("assistant", "", "error")]
    assert "bad key" in messages[1][3]
