"""A real HTTP server in front of the stand-in that misbehaves on request, the way a broken network path
does: it accepts a connection and never answers, sends its reply one byte at a time, or answers with
other headers (no Date, a Date in year 9999) or another body. Everything else is forwarded unchanged.

Real sockets on purpose: what is tested is how our HTTP stack (httpx, httpcore, sockets, timeouts) lives
with such a server, which a mock transport would skip.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host",
               "accept-encoding", "date", "server"}


@dataclass
class _Rule:
    action: str  # hang | dribble | headers | body
    method: str | None
    path: str
    times: int | None
    delay: float = 0.0
    headers: dict | None = None  # name -> value (None removes it)
    status: int = 200
    body: bytes = b""


class FaultyProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.hung = 0  # connections accepted and left unanswered
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _any(self):
                proxy._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-proxy", daemon=True)
        self._thread.start()

    # -- rules -----------------------------------------------------------------------------------------
    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def hang(self, path: str = "/", method: str | None = None, times: int | None = None) -> None:
        """Accept the request and never answer (until `clear` or `close`)."""
        self._add(_Rule("hang", method, path, times))

    def dribble(self, path: str = "/", method: str | None = None, delay: float = 0.05,
                times: int | None = None) -> None:
        """Forward, then send the whole reply (status line and headers too) one byte every `delay` s."""
        self._add(_Rule("dribble", method, path, times, delay=delay))

    def headers(self, path: str, headers: dict, method: str | None = None, times: int | None = 1) -> None:
        """Forward, but answer with these headers changed (a value None removes the header)."""
        self._add(_Rule("headers", method, path, times, headers=headers))

    def answer(self, path: str, status: int, body: bytes, method: str | None = None, times: int | None = 1) -> None:
        """Answer with this status and body instead of forwarding (a JSON content type)."""
        self._add(_Rule("body", method, path, times, status=status, body=body))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self._release.set()
        self._release = threading.Event()

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _take(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if (rule.method is None or rule.method == method) and path.startswith(rule.path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    # -- serving ---------------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = request.path.split("?")[0]
        rule = self._take(request.command, path)
        release = self._release  # `clear` sets this one
        if rule is not None and rule.action == "hang":
            with self._lock:
                self.hung += 1
            release.wait()
            request.close_connection = True
            return
        if rule is not None and rule.action == "body":
            status, headers, content = rule.status, {"Content-Type": "application/json"}, rule.body
        else:
            sent = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
            reply = self._client.request(request.command, self.upstream + request.path, headers=sent, content=body)
            status, content = reply.status_code, reply.content
            headers = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Date"] = reply.headers.get("Date", "")
        if rule is not None and rule.action == "headers":
            for name, value in rule.headers.items():
                headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
                if value is not None:
                    headers[name] = value
        raw = [f"HTTP/1.1 {status} {httpx.codes.get_reason_phrase(status) or 'Status'}"]
        raw += [f"{k}: {v}" for k, v in headers.items() if v != ""]
        raw += [f"Content-Length: {len(content)}", "Connection: close", "", ""]
        data = "\r\n".join(raw).encode("latin-1") + content
        request.close_connection = True
        try:
            if rule is not None and rule.action == "dribble":
                for i in range(len(data)):
                    if release.is_set():
                        return
                    request.wfile.write(data[i:i + 1])
                    request.wfile.flush()
                    time.sleep(rule.delay)
            else:
                request.wfile.write(data)
        except OSError:
            pass  # the client gave up (its deadline): that is the point


@pytest.fixture
def faulty_proxy(supabase_stack):
    """A FaultyProxy in front of the stand-in; configure a device with `faulty_proxy.url`."""
    proxy = FaultyProxy(supabase_stack.url)
    yield proxy
    proxy.close()


__all__ = ["FaultyProxy", "faulty_proxy"]
