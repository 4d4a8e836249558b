"""A real local HTTP server speaking the OpenAI `/v1/chat/completions` protocol, for tests and demos.

It runs on 127.0.0.1 on a random port in a background thread. Each request is answered from a
scriptable `Reply` (queued per request, else the default), so a test can ask for slow tokens, a
2,000-token burst, error bodies (JSON, HTML), 429 with Retry-After, a stream that stops early, SSE
lines split at odd byte offsets, a plain JSON reply to a streaming request, and so on. Every request
is recorded so tests can assert the exact messages that were sent.

Tools: a reply may call tools (`Reply(tool_calls=[{"id", "name", "arguments"}])`): streamed, each call's
name and arguments are split over many chunks (`tool_split` characters each), as real endpoints send
them, and the reply finishes with "tool_calls". Every request's `tools` and its assistant/tool messages are
checked as OpenAI checks them (a function name outside [a-zA-Z0-9_-]{1,64}, a tool message that answers
no call, a call left unanswered: 400 with OpenAI's kind of message), so a malformed conversation fails
the test that sent it.

A threaded stdlib server is used on purpose: it is instant to start (one per test) and gives byte-level
control of what goes on the wire (our own chunked encoding, flushes, abrupt closes).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """How the fake answers one request. Defaults: a short streamed (or plain) reply, status 200."""

    text: str = "Hello from the fake model."
    tokens: list[str] | None = None  # explicit token split; default splits `text` after spaces
    token_delay: float = 0.0  # seconds between streamed tokens ("slow tokens")
    header_delay: float = 0.0  # seconds before the status line is sent (read-timeout tests)
    status: int = 200
    error_json: Any = None  # body for status != 200, sent as JSON
    html: str | None = None  # body sent as text/html (any status, incl. 200)
    body_text: str | None = None  # raw body sent as text/plain
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers (e.g. Retry-After)
    ignore_stream: bool = False  # answer plain JSON even when the request asked to stream
    keepalive: bool = False  # send ": keep-alive" SSE comments between tokens
    end_after: int | None = None  # stop the stream after N tokens, without finish_reason or [DONE]
    abrupt: bool = False  # with end_after: drop the TCP connection instead of ending the chunked body
    split_every: int | None = None  # re-chunk the SSE bytes into N-byte TCP writes (splits lines)
    error_after: int | None = None  # after N tokens send an SSE `{"error": ...}` event and finish
    content_type: str = "text/event-stream"  # content type of a streamed reply
    send_done: bool = True  # False: finish_reason is sent but no `data: [DONE]` (older llama.cpp)
    # [{"id": "call_1", "name": "srv__tool", "arguments": "{...}"}]: the reply calls these tools (after its text)
    tool_calls: list[dict] | None = None
    tool_split: int = 3  # characters of a name or arguments per streamed chunk

    def token_list(self) -> list[str]:
        if self.tokens is not None:
            return list(self.tokens)
        words = self.text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]] if self.text else []


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON or None
    raw: bytes
    finished: threading.Event = field(default_factory=threading.Event)  # the handler is done
    client_gone: bool = False  # the client closed the connection while we were still writing

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages", [])

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def tools(self) -> list[dict]:
        return (self.body or {}).get("tools") or []

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name") for t in self.tools]

    @property
    def tool_messages(self) -> list[dict]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("role") == "tool"]


class FakeLLM:
    """The server plus its script. Use as a context manager or call start()/stop()."""

    def __init__(self, models: set[str] | None = None, port: int = 0) -> None:
        self.requested_port = port  # 0 = any free port
        self.default = Reply()
        self.models: set[str] | None = models  # None = accept any model; else unknown model -> 404
        self.required_key: str | None = None  # set -> requests without `Bearer <key>` get 401
        # A function of the request (its messages) choosing the reply; None = use the queue/default.
        # Lets a test answer differently when, say, a skill's prompt is in the system message.
        self.responder: Callable[[RecordedRequest], Reply | dict | str | None] | None = None
        # True: a request carrying `response_format` gets 400, as endpoints that do not know it answer
        self.reject_response_format = False
        self.requests: list[RecordedRequest] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._request_seen = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeLLM:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.requested_port), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-llm",
                                        daemon=True)  # short poll interval: stop() returns quickly
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping between slow tokens
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The root that `/chat/completions` is appended to, like `http://127.0.0.1:1234/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -------------------------------------------------------------------------------
    def reply(self, **kwargs: Any) -> Reply:
        """Set the default reply (used when the queue is empty)."""
        self.default = Reply(**kwargs)
        return self.default

    def enqueue(self, *replies: Reply | dict) -> None:
        """Queue replies for the next requests, in order; after them the default applies again."""
        with self._lock:
            self._queue.extend(r if isinstance(r, Reply) else Reply(**r) for r in replies)

    def fast_tokens(self, n: int, token: str = "tok ") -> Reply:
        """Default reply = N tokens streamed as fast as the socket takes them (benchmarks)."""
        return self.reply(tokens=[token] * n)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._request_seen:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake LLM saw {len(self.requests)} requests, wanted {n}")
                self._request_seen.wait(left)
            return list(self.requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- used by the handler ---------------------------------------------------------------------
    def _record(self, req: RecordedRequest) -> None:
        with self._request_seen:
            self.requests.append(req)
            self._request_seen.notify_all()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default

    def _reply_for(self, req: RecordedRequest) -> Reply:
        if self.responder is not None:
            chosen = self.responder(req)
            if isinstance(chosen, str):
                return Reply(text=chosen)
            if isinstance(chosen, dict):
                return Reply(**chosen)
            if chosen is not None:
                return chosen
        return self._next_reply()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Each write should leave as its own TCP segment so split-line tests really split.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- routing ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        req = self._read_request()
        try:
            if self.path.rstrip("/") == "/v1/models":
                models = sorted(self.fake.models or {"fake-model"})
                self._send_json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
            else:
                self._send_body(404, b"404 page not found", "text/plain")
        finally:
            req.finished.set()

    def do_POST(self) -> None:
        req = self._read_request()
        try:
            self._answer(req)
        except (BrokenPipeError, ConnectionResetError):
            req.client_gone = True
        finally:
            req.finished.set()

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
        self.fake._record(req)
        return req

    def _answer(self, req: RecordedRequest) -> None:
        fake = self.fake
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_body(404, b"404 page not found", "text/plain")
            return
        if fake.required_key is not None and req.authorization != f"Bearer {fake.required_key}":
            self._send_json(401, {"error": {"message": "Incorrect API key provided.",
                                            "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if not isinstance(req.body, dict) or not isinstance(req.body.get("messages"), list):
            self._send_json(400, {"error": {"message": "messages must be a list", "type": "invalid_request_error"}})
            return
        model = req.body.get("model")
        if fake.models is not None and model not in fake.models:
            self._send_json(404, {"error": {"message": f"The model `{model}` does not exist.",
                                            "type": "invalid_request_error", "code": "model_not_found"}})
            return
        problem = tools_problem(req.body)
        if problem:
            self._send_json(400, {"error": {"message": problem, "type": "invalid_request_error"}})
            return
        if fake.reject_response_format and "response_format" in req.body:
            self._send_json(400, {"error": {"message": "Unrecognized request argument supplied: response_format",
                                            "type": "invalid_request_error"}})
            return
        reply = fake._reply_for(req)
        if reply.header_delay and fake._stopping.wait(reply.header_delay):
            return
        if reply.html is not None:
            self._send_body(reply.status, reply.html.encode(), "text/html; charset=utf-8", reply.headers)
        elif reply.body_text is not None:
            self._send_body(reply.status, reply.body_text.encode(), "text/plain", reply.headers)
        elif reply.status != 200:
            self._send_json(reply.status, reply.error_json if reply.error_json is not None else
                            {"error": {"message": f"fake error {reply.status}"}}, reply.headers)
        else:
            tokens = reply.token_list()
            max_tokens = req.body.get("max_tokens")
            if isinstance(max_tokens, int) and max_tokens > 0:
                tokens = tokens[:max_tokens]
            if req.body.get("stream") and not reply.ignore_stream:
                self._stream(req, reply, model, tokens)
            else:
                self._send_json(200, _completion(model, "".join(tokens), reply.tool_calls), reply.headers)

    # -- writing ---------------------------------------------------------------------------------
    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_body(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_body(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _stream(self, req: RecordedRequest, reply: Reply, model: str, tokens: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        stopping = self.fake._stopping
        for i, event in enumerate(_sse_events(reply, model, tokens)):
            if i > 1 and reply.token_delay and stopping.wait(reply.token_delay):
                return
            if event is None:  # end early: abrupt close or a clean end of the chunked body
                if reply.abrupt:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                break
            step = reply.split_every or len(event)
            for start in range(0, len(event), step):
                self._chunk(event[start:start + step])
                if reply.split_every:
                    time.sleep(0.0005)  # let each piece arrive as its own read
        self._chunk(b"")  # terminating chunk

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _sse_events(reply: Reply, model: str, tokens: list[str]) -> Iterator[bytes | None]:
    """The SSE byte events of one streamed reply; None marks "stop here without finishing"."""
    cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for i, token in enumerate(tokens):
        if reply.end_after is not None and i == reply.end_after:
            yield None
            return
        if reply.error_after is not None and i == reply.error_after:
            yield b'data: {"error": {"message": "upstream model crashed", "code": 500}}\n\n'
            return
        if reply.keepalive:
            yield b": keep-alive\n\n"
        yield chunk({"content": token})
    if reply.end_after is not None and reply.end_after >= len(tokens):
        yield None
        return
    for index, call in enumerate(reply.tool_calls or []):
        step = max(1, reply.tool_split)
        name, arguments = call.get("name", ""), call.get("arguments", "")
        yield chunk({"tool_calls": [{"index": index, "id": call.get("id"), "type": "function",
                                     "function": {"name": name[:step], "arguments": ""}}]})
        for start in range(step, len(name), step):
            yield chunk({"tool_calls": [{"index": index, "function": {"name": name[start:start + step]}}]})
        for start in range(0, len(arguments), step):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[start:start + step]}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if reply.send_done:
        yield b"data: [DONE]\n\n"


def _completion(model: str, text: str, tool_calls: list[dict] | None = None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if tool_calls else "")}
    if tool_calls:
        message["tool_calls"] = [{"id": c.get("id"), "type": "function",
                                  "function": {"name": c.get("name"), "arguments": c.get("arguments", "")}}
                                 for c in tool_calls]
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": len(text.split()), "total_tokens": 1}}


_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tools_problem(body: dict) -> str | None:
    """What OpenAI would refuse in the request's `tools` and tool messages, or None."""
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "Invalid 'tools': expected a non-empty array."
        names = []
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
                return f"Invalid 'tools[{i}]': expected an object with type 'function'."
            name = function.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                return f"Invalid 'tools[{i}].function.name': string does not match pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
            parameters = function.get("parameters")
            if parameters is not None and (not isinstance(parameters, dict) or parameters.get("type") != "object"):
                return f"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"'."
            names.append(name)
        if len(set(names)) != len(names):
            return "Invalid 'tools': function names must be unique."
    waiting: list[str] = []  # ids of the last assistant message's calls not answered yet
    for i, message in enumerate(body.get("messages") or []):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in waiting:
                return (f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                        f"with 'tool_calls' (messages[{i}], tool_call_id {call_id!r}).")
            waiting.remove(call_id)
            if not isinstance(message.get("content"), str):
                return f"Invalid 'messages[{i}].content': expected a string."
            continue
        if waiting:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(waiting)}")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                function = call.get("function") if isinstance(call, dict) else None
                if (not isinstance(call, dict) or call.get("type") != "function" or not isinstance(function, dict)
                        or not isinstance(call.get("id"), str) or not isinstance(function.get("arguments"), str)
                        or not _FUNCTION_NAME.match(str(function.get("name")))):
                    return f"Invalid 'messages[{i}].tool_calls': {call!r}"
                waiting.append(call["id"])
    if waiting:
        return f"The following tool_call_ids did not have response messages: {', '.join(waiting)}"
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m standin.model [--port N] [--token-delay S] [--text T]`: serve until Ctrl-C (demos,
    screenshots, benchmarks). Prints the base URL as the first line."""
    import argparse

    parser = argparse.ArgumentParser(description="A local fake OpenAI-compatible endpoint.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-delay", type=float, default=0.03)
    parser.add_argument("--text", default="Hello! I am a **fake** model.\n\n```python\nprint('hi')\n```\n")
    args = parser.parse_args(argv)
    with FakeLLM(port=args.port) as fake:
        fake.reply(text=args.text, token_delay=args.token_delay)
        print(fake.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
