"""A chat turn is a check of its connection: a reply sets it online, a failed call offline or error with
the reason and the time, by Bind's Test rules (agent.connections.check.result_of). Real HTTP, real SQLite."""

import threading

import pytest

from agent.chat.turn import DONE, FAILED, STOPPED, ChatTurn
from agent.connections.check import result_of
from agent.llm.errors import LLMError
from local_schema.models import AgentConnection, ConnectionCheck
from tests.agent.conftest import add_connection, add_thread


@pytest.fixture
def thread(db, fake_llm):
    with db.session() as s:
        return add_thread(s, add_connection(s, base_url=fake_llm.base_url))


def status(db, thread) -> tuple[str, str | None, str | None, str | None]:
    with db.session() as s:
        connection = s.get(AgentConnection, thread.agent_connection_id)
        check = s.get(ConnectionCheck, connection.id)
        return connection.status, *((check.status, check.error, check.checked_at) if check else (None, None, None))


def test_a_reply_sets_the_connection_online_and_a_refused_call_offline(db, fake_llm, thread):
    assert status(db, thread)[0] == "offline"  # a new connection's default, never checked
    result = ChatTurn(db, thread.id).send("hello")
    assert result.status == DONE and result.connection_status_changed
    synced, checked, error, when = status(db, thread)
    assert (synced, checked, error) == ("online", "online", None) and when

    again = ChatTurn(db, thread.id).send("hello again")
    assert again.status == DONE and not again.connection_status_changed  # no sync traffic for the same state

    fake_llm.stop()
    failed = ChatTurn(db, thread.id).send("are you there?")
    assert failed.status == FAILED and failed.connection_status_changed
    synced, checked, error, when2 = status(db, thread)
    assert (synced, checked) == ("offline", "offline") and "refused" in error.lower() and when2 >= when


def test_an_http_error_is_error_with_the_servers_reason(db, fake_llm, thread):
    fake_llm.required_key = "sk-right"
    result = ChatTurn(db, thread.id, api_key="sk-wrong-000000").send("hello")
    assert result.status == FAILED
    synced, checked, error, _when = status(db, thread)
    assert (synced, checked) == ("error", "error") and "HTTP 401" in error and "sk-wrong" not in error
    fake_llm.required_key = None
    fake_llm.reply(status=500, error_json={"error": {"message": "upstream exploded"}})
    ChatTurn(db, thread.id).send("and now?")
    assert status(db, thread)[:3] == ("error", "error", "The server failed (HTTP 500): upstream exploded.")


def test_a_timeout_is_offline(db, fake_llm, thread):
    fake_llm.reply(header_delay=2)
    result = ChatTurn(db, thread.id, read_timeout=0.3).send("hello")
    assert result.status == FAILED and result.error.kind == "timeout"
    synced, checked, error, _when = status(db, thread)
    assert (synced, checked) == ("offline", "offline") and "stopped answering" in error


def test_a_stream_that_breaks_off_is_error_and_a_later_reply_online_again(db, fake_llm, thread):
    fake_llm.reply(tokens=["a ", "b ", "c "], end_after=2, abrupt=True)
    result = ChatTurn(db, thread.id).send("hello")
    assert result.status == FAILED and result.text == "a b "
    assert status(db, thread)[:2] == ("error", "error")
    fake_llm.reply(text="fine now")
    assert ChatTurn(db, thread.id).retry().status == DONE
    assert status(db, thread)[:3] == ("online", "online", None)


def test_stop_before_the_first_token_says_nothing_about_the_endpoint(db, fake_llm, thread):
    fake_llm.reply(header_delay=5)
    turn = ChatTurn(db, thread.id)
    threading.Timer(0.2, turn.cancel).start()
    result = turn.send("never mind")
    assert result.status == STOPPED and result.reply_message_id is None
    assert status(db, thread) == ("offline", None, None, None)  # untouched: still "never checked"


def test_the_rules_are_binds():
    assert result_of(None).status == "online"
    assert result_of(LLMError("offline", "refused")).status == "offline"
    assert result_of(LLMError("timeout", "slow")).status == "offline"
    for kind in ("auth", "not_found", "rate_limited", "server", "http", "malformed", "incomplete"):
        assert result_of(LLMError(kind, "x")).status == "error", kind


def test_mirari_chat_updates_the_status_too(tmp_path, capsys, monkeypatch, memory_keyring, fake_llm):
    import json

    from mirari.main import main

    monkeypatch.delenv("MIRARI_API_KEY", raising=False)
    data = str(tmp_path / "cli")

    def run(*argv):
        code = main(["--data-dir", data, *argv])
        return code, *capsys.readouterr()

    code, out, err = run("connections", "add", "--name", "Fake", "--base-url", fake_llm.base_url, "--model", "m")
    cid = out.strip()
    assert run("chat", "--connection", cid, "hello")[0] == 0
    [row] = json.loads(run("connections", "list", "--json")[1])
    assert row["status"] == "online" and row["checked_at"]
    fake_llm.stop()  # the endpoint dies: connection refused
    code, out, err = run("chat", "--connection", cid, "hello?")
    assert code != 0 and "refused" in err
    [row] = json.loads(run("connections", "list", "--json")[1])
    assert row["status"] == "offline" and "refused" in row["last_error"]
