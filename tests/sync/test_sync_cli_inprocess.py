"""The CLI's account and parked-change commands, driven in-process (same engine, same keychain)."""

import json
import uuid

from mirari.main import main

from local_schema.models import Task
from tests.sync.helpers import Device, server_rows


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_signup_sync_and_parked_commands(supabase_stack, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIRARI_SUPABASE_URL", supabase_stack.url)
    monkeypatch.setenv("MIRARI_SUPABASE_ANON_KEY", supabase_stack.anon_key)
    monkeypatch.setenv("MIRARI_PASSWORD", "a-long-password")
    email = f"cli-{uuid.uuid4().hex[:8]}@example.test"
    d = str(tmp_path)
    code, out, err = run(capsys, "--data-dir", d, "account", "signup", "--email", email)
    assert code == 0 and f"signed in as {email}" in out, err
    code, out, _ = run(capsys, "--data-dir", d, "account", "status", "--json")
    user_id = json.loads(out)["user_id"]

    dev = Device(supabase_stack, tmp_path)
    with dev.session() as s:
        s.add_all([Task(title="fine"), Task(title="refused", status="not-a-status")])
        s.commit()
    dev.close()
    code, out, err = run(capsys, "--data-dir", d, "sync", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["pushed"] == 1 and summary["parked"] == 1, err

    code, out, _ = run(capsys, "--data-dir", d, "parked", "list", "--json")
    [item] = json.loads(out)
    assert item["code"] == "23514" and item["table"] == "tasks"
    code, out, _ = run(capsys, "--data-dir", d, "parked", "list")
    assert f"#{item['op_seq']} insert tasks" in out
    code, out, _ = run(capsys, "--data-dir", d, "parked", "retry", str(item["op_seq"]))
    assert code == 0 and "queued again" in out
    code, out, _ = run(capsys, "--data-dir", d, "sync", "--json")
    assert json.loads(out)["parked"] == 1  # still refused: the value was not fixed
    [item] = json.loads(run(capsys, "--data-dir", d, "parked", "list", "--json")[1])
    code, out, _ = run(capsys, "--data-dir", d, "parked", "discard", str(item["op_seq"]))
    assert code == 0 and "removed locally" in out
    code, out, err = run(capsys, "--data-dir", d, "parked", "discard", "999999")
    assert code == 1 and err.strip() == "mirari: error: no parked change #999999"
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user_id)] == ["fine"]
    status = json.loads(run(capsys, "--data-dir", d, "status", "--json")[1])
    assert (status["pending"], status["parked"], status["state"]) == (0, 0, "idle")

    code, out, err = run(capsys, "--data-dir", d, "account", "signup", "--email", email)
    assert code == 1 and "an account with this email already exists" in err.lower()
    code, out, _ = run(capsys, "--data-dir", d, "account", "logout", "--remove-data")
    assert code == 0 and "account data removed" in out
    assert not (tmp_path / "accounts" / f"{user_id}.sqlite3").exists()
    status = json.loads(run(capsys, "--data-dir", d, "status", "--json")[1])
    assert status["account"] is None and status["database"].endswith("local.sqlite3")


def test_refused_delete_is_parked_and_discard_restores_the_row(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    tid = str(uuid.uuid4())
    with a.session() as s:
        s.add(Task(id=tid, title="keep?"))
        s.commit()
    a.sync()
    b.sync()
    a.execute("DELETE FROM tasks WHERE id = ?", tid)
    b.execute("UPDATE tasks SET title = 'edited on b' WHERE id = ?", tid)
    b.sync()
    supabase_stack.faults.fail_next("PATCH", "/rest/v1/tasks", 403, {
        "code": "42501", "message": "permission denied for table tasks", "details": None, "hint": None})
    result = a.sync()
    assert result.parked == 1
    # The pull brought b's newer version, but the row stays deleted here while the delete is parked.
    assert tid not in a.rows("tasks")
    from sync import parked

    [item] = parked.list_parked(a.db)
    assert (item.kind, item.code) == ("delete", "42501")
    parked.discard(a.engine, item.op_seq)
    assert a.rows("tasks")[tid]["title"] == "edited on b"
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1


def test_without_a_keychain_the_command_line_keeps_the_session_in_the_key_file(
        supabase_stack, tmp_path, capsys, monkeypatch):
    """`mirari account login` where no OS keychain exists: MIRARI_KEY_PASSPHRASE creates the encrypted
    key file (the window's) and the session lives there; without it, each command says what to set."""
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        email, password, _ = supabase_stack.new_user()
        d = str(tmp_path)
        monkeypatch.setenv("MIRARI_SUPABASE_URL", supabase_stack.url)
        monkeypatch.setenv("MIRARI_SUPABASE_ANON_KEY", supabase_stack.anon_key)
        monkeypatch.setenv("MIRARI_PASSWORD", password)
        monkeypatch.delenv("MIRARI_KEY_PASSPHRASE", raising=False)
        code, _, err = run(capsys, "--data-dir", d, "account", "login", "--email", email)
        assert code == 1 and "set MIRARI_KEY_PASSPHRASE to keep it in the encrypted key file" in err
        assert not (tmp_path / "api-keys.enc").exists()
        monkeypatch.setenv("MIRARI_KEY_PASSPHRASE", "correct horse battery")
        code, out, err = run(capsys, "--data-dir", d, "account", "login", "--email", email)
        assert code == 0 and f"signed in as {email}" in out, err
        assert (tmp_path / "api-keys.enc").exists()
        code, out, err = run(capsys, "--data-dir", d, "sync")
        assert code == 0 and out.startswith("idle:"), err
        monkeypatch.delenv("MIRARI_KEY_PASSPHRASE")
        code, out, err = run(capsys, "--data-dir", d, "sync")
        assert code == 2 and out.startswith("locked:")
        assert err.strip().endswith("set MIRARI_KEY_PASSPHRASE or run the command in a terminal")
        monkeypatch.setenv("MIRARI_KEY_PASSPHRASE", "wrong horse battery")
        code, out, err = run(capsys, "--data-dir", d, "sync")
        assert code == 1 and err == "mirari: error: That passphrase does not unlock the key file.\n"
    finally:
        keyring.set_keyring(previous)
