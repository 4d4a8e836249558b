"""OpenAI-compatible chat client on httpx: streaming (SSE) with a plain-JSON fallback, cancellable.

`LLMClient.stream_chat()` is a plain generator of text deltas, meant to run in a worker thread.
Another thread stops it with `CancelToken.cancel()`: the flag is checked between chunks and the
connection's socket is shut down so a read blocked on a silent server returns at once.

Every failure is raised as one `LLMError` (see agent.llm.errors) with a kind and a single sentence for
the user; a stream that breaks off raises `INCOMPLETE` with the text received so far in `.partial`.
Cancellation is not an error: the generator just ends (check `token.cancelled`).

The text is cleaned as it arrives (agent.storable.StreamCleaner): the server cannot store U+0000 or a
lone surrogate, so a reply holding one (a `\u0000` escape, half an emoji) would be stored here and
never sync. NUL is dropped, a surrogate pair split across two events is joined, a lone half becomes
U+FFFD. Every caller — the Console, structured answers, skill tests, dreams — gets clean text.

Tools (agent.tools.loop): `stream_chat(..., tools=[…], events=True)` sends OpenAI `tools` and yields,
besides the text, the fragments of streamed `tool_calls` (`ToolCallDelta`: index, id, and pieces of the
name and the arguments, as they arrive) and the choice's `Finish` reason (`"tool_calls"` when the model
waits for results). A plain JSON reply gives the same events, each call in one piece.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent.llm import errors
from agent.llm.errors import LLMError
from agent.llm.sse import SSEParser
from agent.storable import StreamCleaner, clean_text

_tls_lock = threading.Lock()
_tls_context = None


def shared_tls_context():
    """One verifying TLS context for every model client. Building one loads the CA bundle (15-35 ms of
    CPU; the GIL is released meanwhile) and every turn makes its own client: the context is built once, on
    the first turn's worker thread. An SSLContext is safe to share between connections and threads."""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = httpx.create_ssl_context()
        return _tls_context

_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of one streamed tool call: `index` says which call; id, name and arguments are pieces
    (None when this fragment carries none) to be joined in order (agent.tools.assemble)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


@dataclass(frozen=True)
class Finish:
    """Why the model stopped: "stop", "length", "tool_calls", …"""

    reason: str


class CancelToken:
    """Thread-safe stop switch for one call. `cancel()` may be called from any thread, any time."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            sock = self._socket
        if sock is not None:
            _shutdown(sock)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if cancelled meanwhile."""
        return self._event.wait(seconds)

    def _attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._socket = sock
            cancelled = self._event.is_set()
        if cancelled and sock is not None:
            _shutdown(sock)

    def _detach(self) -> None:
        with self._lock:
            self._socket = None


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: wake the reader without touching TLS state.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _socket_tracer(cancel: CancelToken):
    def trace(event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            cancel._attach(info["return_value"].get_extra_info("socket"))
    return trace


def chat_url(base_url: str) -> str:
    """`{base_url}/chat/completions`; raises LLMError(INVALID) for a URL that is not http(s) with a host."""
    parts = urlsplit((base_url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LLMError(errors.INVALID, "The base URL must start with http:// or https:// and name a host.")
    return base_url.strip().rstrip("/") + "/chat/completions"


class LLMClient:
    def __init__(self, base_url: str, model: str, api_key: str | None = "", *,
                 connect_timeout: float = 10.0, read_timeout: float = 120.0,
                 max_retry_wait: float = 10.0) -> None:
        self.url = chat_url(base_url)
        self.model = model
        self._key = (api_key or "").strip()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retry_wait = max_retry_wait  # a 429 asking us to wait longer than this is reported
        # No pooled keep-alive connections: every call opens its own, so the connect trace below
        # always hands its socket to the CancelToken (Stop works even before the first byte).
        self._http = httpx.Client(verify=shared_tls_context(),
                                  timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                                  limits=httpx.Limits(max_keepalive_connections=0), follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the key
        return f"LLMClient({self.url!r}, model={self.model!r}, key={'set' if self._key else 'none'})"

    def headers(self) -> dict[str, str]:
        h = {"Accept": "text/event-stream, application/json", "Content-Type": "application/json"}
        if self._key:  # a blank key (local runners) sends no Authorization header at all
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def complete(self, messages: list[dict], **kwargs: Any) -> str:
        """The whole reply as one string (same robustness as stream_chat)."""
        return "".join(self.stream_chat(messages, **kwargs))

    def stream_chat(self, messages: list[dict], *, temperature: float = 0.7, max_tokens: int | None = None,
                    stop: list[str] | None = None, stream: bool = True, cancel: CancelToken | None = None,
                    response_format: dict | None = None, tools: list[dict] | None = None,
                    tool_choice: str | None = None, events: bool = False) -> Iterator[Any]:
        """Yield the reply's text deltas as they arrive. `response_format` (e.g. {"type": "json_object"})
        is sent as given; endpoints that do not know it may refuse the request (see agent.llm.structured).
        `max_tokens` and `stop` are sent only when given (a thread's settings, agent.chat.tree).
        `tools`: OpenAI function definitions, sent as given (with `tool_choice`, e.g. "none", when given).
        `events=True` also yields ToolCallDelta and Finish objects between the text deltas (str)."""
        cancel = cancel or CancelToken()
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                   "stream": stream}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if stop:
            payload["stop"] = list(stop)
        if response_format is not None:
            payload["response_format"] = response_format
        if tools:
            payload["tools"] = tools
            if tool_choice is not None:
                payload["tool_choice"] = tool_choice
        for attempt in range(2):
            received: list[str] = []
            try:
                with self._http.stream("POST", self.url, json=payload, headers=self.headers(),
                                       extensions={"trace": _socket_tracer(cancel)}) as resp:
                    stream_ext = resp.extensions.get("network_stream")
                    cancel._attach(stream_ext.get_extra_info("socket") if stream_ext else None)
                    if cancel.cancelled:
                        return
                    if resp.status_code != 200:
                        err = self._error_from(resp, cancel)
                        wait = err.retry_after
                        if (err.kind == errors.RATE_LIMITED and attempt == 0 and wait is not None
                                and wait <= self.max_retry_wait):
                            resp.close()
                            if cancel.wait(wait):
                                return
                            continue
                        raise err
                    for delta in _read_reply(resp, cancel, self._key):
                        if isinstance(delta, str):
                            received.append(delta)
                        elif not events:
                            continue
                        yield delta
                    return
            except httpx.TransportError as exc:
                if cancel.cancelled:
                    return
                raise self._transport_error(exc, "".join(received)) from None
            finally:
                cancel._detach()

    def _error_from(self, resp: httpx.Response, cancel: CancelToken) -> LLMError:
        body = bytearray()
        try:
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > _MAX_ERROR_BODY or cancel.cancelled:
                    break
        except httpx.TransportError:
            pass  # the status alone still says what went wrong
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        return errors.http_error(resp.status_code, bytes(body), resp.headers.get("content-type", ""),
                                 self._key, retry_after)

    def _transport_error(self, exc: httpx.TransportError, partial: str) -> LLMError:
        host = urlsplit(self.url).netloc
        if isinstance(exc, httpx.ConnectTimeout):
            return LLMError(errors.TIMEOUT, f"Could not connect to {host} within {self.connect_timeout:g} seconds.")
        if isinstance(exc, httpx.TimeoutException):
            msg = f"The server stopped answering for {self.read_timeout:g} seconds"
            return LLMError(errors.TIMEOUT, msg + ("; the partial reply was kept." if partial else "."),
                            partial=partial)
        if isinstance(exc, httpx.ConnectError):
            text = str(exc).lower()
            if any(s in text for s in ("name or service", "nodename", "getaddrinfo", "name resolution")):
                return LLMError(errors.OFFLINE, f"Could not resolve the host name in {host}.")
            if "refused" in text:
                return LLMError(errors.OFFLINE, f"Could not connect to {host}: the connection was refused.")
            return LLMError(errors.OFFLINE, f"Could not connect to {host}.")
        if partial:
            return LLMError(errors.INCOMPLETE, "The connection dropped before the reply was finished; "
                                               "the partial reply was kept.", partial=partial)
        return LLMError(errors.OFFLINE, f"The connection to {host} was closed before the server answered.")


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _read_reply(resp: httpx.Response, cancel: CancelToken, key: str) -> Iterator[Any]:
    """Decide from the content type (or the first bytes) whether this is SSE or one JSON reply."""
    chunks = resp.iter_bytes()
    head = b""
    for chunk in chunks:  # sniff the first non-blank byte
        head += chunk
        if head.strip() or cancel.cancelled:
            break
    body = _chain(head, chunks)
    ctype = resp.headers.get("content-type", "").lower()
    first = head.lstrip()[:1]
    if "event-stream" in ctype or first in (b"d", b":"):
        yield from _read_sse(body, cancel, key)
    elif first in (b"{", b"["):
        yield from _read_json(body, cancel, key)
    elif cancel.cancelled:
        return
    else:
        what = "a web page" if first == b"<" or "html" in ctype else "something that is not an API reply"
        raise LLMError(errors.MALFORMED, f"The server answered with {what} instead of a chat reply — "
                                         "check the base URL.")


def _chain(head: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def _read_sse(body: Iterable[bytes], cancel: CancelToken, key: str) -> Iterator[Any]:
    parser = SSEParser()
    cleaner = StreamCleaner()  # the server cannot store NUL or a lone surrogate: never let one in
    text: list[str] = []
    finished = False

    def events(datas: Iterable[str]) -> Iterator[Any]:
        """Each event's cleaned delta ("" for none) and its tool-call fragments; None at [DONE]."""
        nonlocal finished
        for data in datas:
            if data.strip() == "[DONE]":
                yield None
                return
            delta, done, extra = _event(data, "".join(text), key)
            finished = finished or done
            yield cleaner.feed(delta) if delta else ""
            yield from extra

    for chunk in body:
        if cancel.cancelled:
            return
        for delta in events(parser.feed(chunk)):
            if delta is None:
                yield from _flushed(cleaner, text)
                return
            if isinstance(delta, str):
                if delta:
                    text.append(delta)
                    yield delta
            else:
                yield delta
    for delta in events(parser.close()):
        if delta is None:
            break
        if isinstance(delta, str):
            if delta:
                text.append(delta)
                yield delta
        else:
            yield delta
    yield from _flushed(cleaner, text)
    if not finished and not cancel.cancelled:
        raise LLMError(errors.INCOMPLETE, "The reply stopped before it was finished; the partial reply was kept.",
                       partial="".join(text))


def _flushed(cleaner: StreamCleaner, text: list[str]) -> Iterator[str]:
    """A half surrogate pair held back at the very end of the reply, as U+FFFD."""
    tail = cleaner.flush()
    if tail:
        text.append(tail)
        yield tail


def _event(data: str, partial: str, key: str) -> tuple[str, bool, list]:
    """(text delta, finished?, tool-call fragments and the finish reason) of one SSE data payload."""
    try:
        obj = json.loads(data)
    except ValueError:
        if "\n" in data:  # some servers put one JSON chunk per data line without blank lines between
            lines = [line for line in data.split("\n") if line.strip()]
            results = [_event(line, partial, key) for line in lines if line.strip() != "[DONE]"]
            done = any(d for _, d, _ in results) or any(line.strip() == "[DONE]" for line in lines)
            return "".join(text for text, _, _ in results), done, [e for _, _, extra in results for e in extra]
        raise LLMError(errors.MALFORMED, "The server sent a streamed chunk that is not valid JSON.",
                       partial=partial) from None
    if isinstance(obj, dict) and obj.get("error"):
        detail = errors.redact(errors.server_detail(json.dumps(obj).encode(), "application/json")[0], key)
        raise LLMError(errors.SERVER, f"The server reported an error mid-reply: {detail or 'unknown error'}.",
                       partial=partial)
    choice = _first_choice(obj)
    if choice is None:
        return "", False, []  # e.g. a usage-only chunk
    delta = choice.get("delta") or choice.get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if content is None:
        content = choice.get("text")  # legacy completions shape
    extra: list = _tool_call_deltas(delta.get("tool_calls") if isinstance(delta, dict) else None)
    reason = choice.get("finish_reason")
    if isinstance(reason, str) and reason:
        extra.append(Finish(reason))
    return (content if isinstance(content, str) else ""), bool(reason), extra


def _tool_call_deltas(calls: Any) -> list[ToolCallDelta]:
    """The fragments of a `tool_calls` list (streamed or whole); what is not a fragment is skipped."""
    if not isinstance(calls, list):
        return []
    out = []
    for position, call in enumerate(calls):
        if not isinstance(call, dict):
            continue
        index = call.get("index")
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):  # some servers send the arguments parsed
            arguments = json.dumps(arguments, ensure_ascii=False)

        def text(value: Any) -> str | None:
            return clean_text(value) if isinstance(value, str) else None

        out.append(ToolCallDelta(index if isinstance(index, int) and not isinstance(index, bool) else position,
                                 text(call.get("id")), text(function.get("name")), text(arguments)))
    return out


def _first_choice(obj: Any) -> dict | None:
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def _read_json(body: Iterable[bytes], cancel: CancelToken, key: str) -> Iterator[Any]:
    raw = bytearray()
    for chunk in body:
        if cancel.cancelled:
            return
        raw += chunk
    try:
        obj = json.loads(bytes(raw))
    except ValueError:
        raise LLMError(errors.MALFORMED, "The server sent a reply that is not valid JSON.") from None
    if isinstance(obj, dict) and obj.get("error"):
        detail = errors.redact(errors.server_detail(bytes(raw), "application/json")[0], key)
        raise LLMError(errors.SERVER, f"The server reported an error: {detail or 'unknown error'}.")
    choice = _first_choice(obj)
    message = choice.get("message") if choice else None
    content = message.get("content") if isinstance(message, dict) else (choice or {}).get("text")
    calls = _tool_call_deltas(message.get("tool_calls")) if isinstance(message, dict) else []
    if content is None and calls:
        content = ""  # a reply that only calls tools has null content
    if not isinstance(content, str):
        raise LLMError(errors.MALFORMED, "The server's reply has no message content.")
    content = clean_text(content)
    if content:
        yield content
    yield from calls
    reason = (choice or {}).get("finish_reason")
    if isinstance(reason, str) and reason:
        yield Finish(reason)
