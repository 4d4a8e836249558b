"""A reply that is not PostgREST's is not a refusal: a mistyped project URL, a proxy's redirect, an HTML
403 or a gateway's 404 ends the cycle with "server unreachable or misconfigured" and the reason, and
every change keeps waiting (nothing is parked). Only a PostgREST/PostgreSQL error parks a change."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local_schema.models import Skill, Task
from sync import config, parked
from tests.sync.helpers import server_rows

PGRST125 = {"code": "PGRST125", "details": None, "hint": None, "message": "Invalid path specified in request URL"}
HTML_403 = "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><hr>nginx</body></html>"


class _Answer(BaseHTTPRequestHandler):
    reply: tuple[int, dict[str, str], bytes] = (500, {}, b"")

    def log_message(self, *_args) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, body = self.reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture
def wrong_server():
    """A real HTTP server that answers every request with `server.answer(status, body, headers)`."""
    class Handler(_Answer):
        pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def answer(status: int, body: object, headers: dict[str, str] | None = None) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        kind = "text/html" if isinstance(body, str) else "application/json"
        Handler.reply = (status, {"Content-Type": kind, **(headers or {})}, raw)

    server.answer = answer
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _point_at(device, url: str) -> None:
    """What the user does in the settings: change the project URL (the session in the keychain stays)."""
    config.set_value(device.data_dir, "supabase.url", url)
    device.engine._config = None
    if device.engine._rest_client is not None:
        device.engine._rest_client.close()
        device.engine._rest_client = None


@pytest.mark.parametrize("status,body,headers,reason", [
    (404, PGRST125, None, "with no path"),  # the URL was given with /rest/v1 appended
    (301, "", {"Location": "https://abc.supabase.co/rest/v1/tasks"}, "redirected to https://abc.supabase.co"),
    (403, HTML_403, None, "403 Forbidden nginx"),
    (404, {"message": "no Route matched with those values"}, None, "no Route matched"),
    (500, "<html><body>Internal error at the proxy</body></html>", None, "Internal error at the proxy"),
], ids=["pgrst125-path", "redirect", "html-403", "gateway-404", "html-500"])
def test_a_reply_that_is_not_postgrests_parks_nothing(devices, wrong_server, supabase_stack, user,
                                                      status, body, headers, reason):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="waits"))
        s.add(Skill(name="waits too"))
    good_url = supabase_stack.url
    wrong_server.answer(status, body, headers)
    _point_at(a, wrong_server.url)
    for _ in range(2):  # however often it is tried
        result = a.sync(expect_state="error")
        assert "server unreachable or misconfigured" in result.error and reason in result.error, result.error
        assert result.parked == 0 and parked.list_parked(a.db) == []
        assert a.engine.status()["pending"] == 2
    _point_at(a, good_url)  # the user fixes the URL: everything that waited goes out, nothing by hand
    fixed = a.sync()
    assert fixed.pushed == 2 and fixed.state == "idle"
    assert [r["title"] for r in server_rows(supabase_stack, "tasks", user[2])] == ["waits"]


def test_a_postgrest_refusal_still_parks_the_change(devices, supabase_stack):
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="refused"))
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 403, {
        "code": "42501", "message": 'new row violates row-level security policy for table "tasks"',
        "details": None, "hint": None})
    result = a.sync()
    assert result.parked == 1
    [item] = parked.list_parked(a.db)
    assert item.code == "42501" and "row-level security" in item.message


def test_a_json_error_without_a_postgrest_code_is_not_a_refusal(devices, supabase_stack):
    """A gateway that answers JSON of its own (here a 400 with no SQLSTATE) does not park anything."""
    a = devices("a")
    with a.db.write() as s:
        s.add(Task(title="not refused"))
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 400, {"error": "bad gateway config"})
    result = a.sync(expect_state="error")
    assert result.parked == 0 and "misconfigured" in result.error
    assert a.sync().pushed == 1
