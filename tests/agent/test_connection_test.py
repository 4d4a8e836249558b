import socket

from sqlalchemy import text

from agent.connections.check import ERROR, OFFLINE, ONLINE, check_and_record, check_connection, last_check_in
from local_schema.models import AgentConnection
from standin.model import Reply
from tests.agent.conftest import add_connection


def test_online_sends_one_token_request(fake_llm):
    result = check_connection(fake_llm.base_url, "fake-model", "")
    assert (result.status, result.reason) == (ONLINE, "")
    body = fake_llm.requests[-1].body
    assert body["max_tokens"] == 1 and len(body["messages"]) == 1 and body["messages"][0]["role"] == "user"


def test_bad_key_is_an_error_with_the_reason(fake_llm):
    fake_llm.required_key = "sk-good-000000"
    result = check_connection(fake_llm.base_url, "fake-model", "sk-bad-111111")
    assert (result.status, result.http_status) == (ERROR, 401)
    assert result.reason == "The server rejected the API key (HTTP 401): Incorrect API key provided."


def test_wrong_model_and_wrong_url_are_errors(fake_llm):
    fake_llm.models = {"fake-model"}
    assert "check the base URL and the model name" in check_connection(fake_llm.base_url, "gpt-x").reason
    wrong_url = check_connection(fake_llm.base_url + "/extra", "fake-model")
    assert (wrong_url.status, wrong_url.http_status) == (ERROR, 404)


def test_html_page_is_an_error(fake_llm):
    fake_llm.reply(html="<html>captive portal</html>")
    assert check_connection(fake_llm.base_url, "m").status == ERROR


def test_refused_and_timeout_are_offline(fake_llm):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = check_connection(f"http://127.0.0.1:{port}/v1", "m")
    assert refused.status == OFFLINE and "refused" in refused.reason
    fake_llm.reply(header_delay=3)
    slow = check_connection(fake_llm.base_url, "m", timeout=0.3)
    assert (slow.status, slow.kind) == (OFFLINE, "timeout")


def test_429_is_reported_not_waited(fake_llm):
    fake_llm.enqueue(Reply(status=429, headers={"Retry-After": "1"}))
    result = check_connection(fake_llm.base_url, "m")
    assert result.status == ERROR and "try again in 1 second" in result.reason
    assert len(fake_llm.requests) == 1


def test_results_are_stored_and_unchanged_status_causes_no_sync(db, fake_llm):
    with db.session() as s:
        conn = add_connection(s, base_url=fake_llm.base_url)
        assert conn.status == "offline"
    fake_llm.reply(status=500, error_json={"error": {"message": "down"}})
    failed = check_and_record(db, conn.id)
    with db.session() as s:
        assert s.get(AgentConnection, conn.id).status == ERROR
        check = last_check_in(s, conn.id)
        assert (check.status, check.error, check.checked_at) == (ERROR, "The server failed (HTTP 500): down.",
                                                                  failed.checked_at)
        updates = s.execute(text("SELECT count(*) FROM sync_outbox WHERE kind='update'")).scalar()
    check_and_record(db, conn.id)  # same outcome again: no new outbox entry
    fake_llm.reply()
    ok = check_and_record(db, conn.id)
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM sync_outbox WHERE kind='update'")).scalar() == updates + 1
        assert s.get(AgentConnection, conn.id).status == ONLINE
        check = last_check_in(s, conn.id)
        assert (check.status, check.error, check.checked_at) == (ONLINE, None, ok.checked_at)
