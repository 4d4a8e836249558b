"""The client against a real local HTTP server: every robustness case of issue 5, no httpx mocks."""

import json
import socket
import threading
import time

import pytest

from agent.llm import errors
from agent.llm.client import CancelToken, LLMClient, parse_retry_after
from agent.llm.errors import LLMError
from standin.model import Reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def client(fake, key="", **kw):
    return LLMClient(fake.base_url, "fake-model", key, **kw)


def failure(fake, key="", **kw) -> LLMError:
    with pytest.raises(LLMError) as info, client(fake, key, **kw) as c:
        list(c.stream_chat(MESSAGES))
    return info.value


def test_streams_deltas_and_sends_the_exact_request(fake_llm):
    fake_llm.reply(tokens=["Hel", "lo", ", ", "wörld"])
    with client(fake_llm) as c:
        assert list(c.stream_chat(MESSAGES)) == ["Hel", "lo", ", ", "wörld"]
    (req,) = fake_llm.requests
    assert req.path == "/v1/chat/completions"
    assert req.body == {"model": "fake-model", "messages": MESSAGES, "temperature": 0.7, "stream": True}
    assert req.authorization is None  # blank key: no Authorization header at all


def test_key_is_sent_as_bearer_and_wrong_key_is_a_clear_401(fake_llm):
    fake_llm.required_key = "sk-right-key-123456"
    with client(fake_llm, "sk-right-key-123456") as c:
        assert c.complete(MESSAGES) == "Hello from the fake model."
    assert fake_llm.requests[-1].authorization == "Bearer sk-right-key-123456"
    err = failure(fake_llm, "sk-wrong-key-999999")
    assert (err.kind, err.status) == (errors.AUTH, 401)
    assert err.message == "The server rejected the API key (HTTP 401): Incorrect API key provided."
    assert "sk-wrong" not in err.message and "sk-wrong" not in repr(err)
    assert failure(fake_llm, "").kind == errors.AUTH  # no key at all


def test_server_echoing_the_key_is_redacted(fake_llm):
    fake_llm.reply(status=401, error_json={"error": {"message": "Incorrect API key provided: sk-secret-abcdef123."}})
    err = failure(fake_llm, "sk-secret-abcdef123")
    assert "secret" not in err.message and "[redacted]" in err.message


def test_unknown_model_and_wrong_path_are_404_with_a_hint(fake_llm):
    fake_llm.models = {"fake-model"}
    with LLMClient(fake_llm.base_url, "nope", "") as c, pytest.raises(LLMError) as info:
        list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.NOT_FOUND
    assert info.value.message == ("Not found (HTTP 404) — check the base URL and the model name "
                                  "(The model `nope` does not exist).")
    with LLMClient(fake_llm.base_url.removesuffix("/v1"), "fake-model") as c, pytest.raises(LLMError) as info:
        list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.NOT_FOUND and "404 page not found" in info.value.message


def test_keepalive_comments_and_lines_split_at_every_byte(fake_llm):
    text = "Ünïcode ✶ splits, keep-alives ignored."
    fake_llm.reply(text=text, keepalive=True, split_every=1)
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == text


@pytest.mark.parametrize("split", [2, 3, 7, 50])
def test_odd_split_sizes(fake_llm, split):
    fake_llm.reply(text="one two three four five six", split_every=split)
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == "one two three four five six"


def test_endpoint_that_ignores_stream_answers_plain_json(fake_llm):
    fake_llm.reply(text="a plain reply", ignore_stream=True)
    with client(fake_llm) as c:
        assert list(c.stream_chat(MESSAGES)) == ["a plain reply"]
    assert fake_llm.requests[-1].body["stream"] is True


def test_non_streaming_request(fake_llm):
    with client(fake_llm) as c:
        assert list(c.stream_chat(MESSAGES, stream=False, max_tokens=2)) == ["Hello from "]
    assert fake_llm.requests[-1].body["stream"] is False and fake_llm.requests[-1].body["max_tokens"] == 2


def test_event_stream_served_without_the_right_content_type_is_still_parsed(fake_llm):
    fake_llm.reply(text="sniffed", content_type="text/plain")
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == "sniffed"


def test_error_json_body_is_quoted(fake_llm):
    fake_llm.reply(status=400, error_json={"error": {"message": "context length exceeded."}})
    err = failure(fake_llm)
    assert (err.kind, err.message) == (errors.HTTP, "The server refused the request (HTTP 400): context length exceeded.")


def test_error_with_plain_detail_shape(fake_llm):
    fake_llm.reply(status=422, error_json={"detail": [{"msg": "field required"}]})
    assert failure(fake_llm).message == "The server refused the request (HTTP 422): field required."


def test_html_error_page(fake_llm):
    fake_llm.reply(status=502, html="<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")
    err = failure(fake_llm)
    assert err.kind == errors.SERVER and err.status == 502
    assert err.message == ("The server answered HTTP 502 with a web page instead of an API reply — "
                           "check the base URL.")


def test_html_page_with_status_200(fake_llm):
    fake_llm.reply(html="<html><body>Welcome to my router</body></html>")
    err = failure(fake_llm)
    assert err.kind == errors.MALFORMED and "web page" in err.message


def test_5xx_json(fake_llm):
    fake_llm.reply(status=503, error_json={"error": "model is loading"}, headers={"Retry-After": "30"})
    err = failure(fake_llm)
    assert (err.kind, err.status, err.retry_after) == (errors.SERVER, 503, 30.0)
    assert err.message == "The server failed (HTTP 503): model is loading."


def test_429_short_retry_after_is_waited_out_once(fake_llm):
    fake_llm.enqueue(Reply(status=429, headers={"Retry-After": "0.3"},
                           error_json={"error": {"message": "Rate limit reached"}}))
    fake_llm.reply(text="after the wait")
    start = time.monotonic()
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == "after the wait"
    assert time.monotonic() - start >= 0.3
    assert len(fake_llm.requests) == 2


def test_429_twice_is_reported_with_retry_after(fake_llm):
    fake_llm.reply(status=429, headers={"Retry-After": "0"}, error_json={"error": {"message": "Rate limit reached"}})
    err = failure(fake_llm)
    assert (err.kind, err.retry_after) == (errors.RATE_LIMITED, 0.0)
    assert len(fake_llm.requests) == 2  # one retry, then report


def test_429_long_retry_after_is_reported_not_waited(fake_llm):
    fake_llm.reply(status=429, headers={"Retry-After": "120"}, error_json={"error": {"message": "Slow down"}})
    err = failure(fake_llm, max_retry_wait=5)
    assert err.retry_after == 120.0 and len(fake_llm.requests) == 1
    assert err.message == "The server is rate-limiting requests (HTTP 429): Slow down; try again in 120 seconds."


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None
    assert parse_retry_after(" 7 ") == 7.0


def test_stream_ending_early_without_done_keeps_the_partial_text(fake_llm):
    fake_llm.reply(tokens=["a", "b", "c", "d"], end_after=2)
    got = []
    with pytest.raises(LLMError) as info, client(fake_llm) as c:
        for delta in c.stream_chat(MESSAGES):
            got.append(delta)
    assert got == ["a", "b"]
    assert (info.value.kind, info.value.partial) == (errors.INCOMPLETE, "ab")
    assert info.value.message == "The reply stopped before it was finished; the partial reply was kept."


def test_connection_dropped_mid_stream_keeps_the_partial_text(fake_llm):
    fake_llm.reply(tokens=["x", "y", "z"], end_after=1, abrupt=True)
    with pytest.raises(LLMError) as info, client(fake_llm) as c:
        list(c.stream_chat(MESSAGES))
    assert (info.value.kind, info.value.partial) == (errors.INCOMPLETE, "x")


def test_error_event_inside_the_stream(fake_llm):
    fake_llm.reply(tokens=["p", "q", "r"], error_after=2)
    with pytest.raises(LLMError) as info, client(fake_llm) as c:
        list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.SERVER and info.value.partial == "pq"
    assert info.value.message == "The server reported an error mid-reply: upstream model crashed."


def test_read_timeout_before_the_first_byte(fake_llm):
    fake_llm.reply(header_delay=2)
    err = failure(fake_llm, read_timeout=0.3)
    assert (err.kind, err.message) == (errors.TIMEOUT, "The server stopped answering for 0.3 seconds.")


def test_read_timeout_between_tokens_keeps_partial(fake_llm):
    fake_llm.reply(tokens=["first ", "second"], token_delay=2)
    err = failure(fake_llm, read_timeout=0.3)
    assert err.kind == errors.TIMEOUT and err.partial == "first "


def test_refused_connection():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LLMClient(f"http://127.0.0.1:{port}/v1", "m") as c, pytest.raises(LLMError) as info:
        list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.OFFLINE
    assert info.value.message == f"Could not connect to 127.0.0.1:{port}: the connection was refused."


def test_unknown_host():
    with LLMClient("http://no-such-host.invalid/v1", "m") as c, pytest.raises(LLMError) as info:
        list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.OFFLINE and "resolve" in info.value.message


def test_bad_base_url_is_rejected_before_any_request():
    for url in ("ftp://x/v1", "localhost:11434/v1", "", "http:///v1"):
        with pytest.raises(LLMError) as info:
            LLMClient(url, "m")
        assert info.value.kind == errors.INVALID


def test_cancel_from_another_thread_stops_a_slow_stream(fake_llm):
    fake_llm.reply(tokens=[f"t{i} " for i in range(50)], token_delay=0.2)
    token = CancelToken()
    got = []
    with client(fake_llm) as c:
        start = time.monotonic()
        for delta in c.stream_chat(MESSAGES, cancel=token):
            got.append(delta)
            if len(got) == 2:
                threading.Timer(0.05, token.cancel).start()
        elapsed = time.monotonic() - start
    assert got[:2] == ["t0 ", "t1 "] and len(got) < 5
    assert elapsed < 2  # the blocked read returned at once, not after all 50 tokens
    req = fake_llm.requests[-1]
    assert req.finished.wait(3) and req.client_gone  # the server saw the connection go away


def test_cancel_while_waiting_for_the_first_byte(fake_llm):
    fake_llm.reply(header_delay=60)
    token = CancelToken()
    cancelled_at = []

    def cancel_once_sent():
        # The server has the whole request and is holding back the status line: the client is blocked
        # reading. (A timer could fire before the request is even sent under load.)
        fake_llm.wait_for_requests(1, timeout=30)
        cancelled_at.append(time.monotonic())
        token.cancel()

    threading.Thread(target=cancel_once_sent, daemon=True).start()
    with client(fake_llm) as c:
        assert list(c.stream_chat(MESSAGES, cancel=token)) == []
    # The blocked read returned on the cancel, far before the server's 60 s (or the 120 s read timeout).
    assert time.monotonic() - cancelled_at[0] < 10
    assert len(fake_llm.requests) == 1


class _WatchedToken(CancelToken):
    """A CancelToken that tells the test when the client starts its Retry-After wait and how it ended."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.waits: list[tuple[float, bool]] = []  # (seconds asked, cancelled meanwhile)
        self.cancelled_at = self.woke_at = 0.0

    def cancel(self) -> None:
        self.cancelled_at = time.monotonic()
        super().cancel()

    def wait(self, seconds: float) -> bool:
        self.waiting.set()
        cancelled = super().wait(seconds)
        self.woke_at = time.monotonic()
        self.waits.append((seconds, cancelled))
        return cancelled


def test_cancel_during_429_wait(fake_llm):
    # Cancel once the client is inside its Retry-After wait (not on a timer: under load a timer can fire
    # before the request is even sent, which tests cancelling a connect instead).
    fake_llm.reply(status=429, headers={"Retry-After": "10"})
    token = _WatchedToken()

    def cancel_when_waiting():
        if token.waiting.wait(30):
            token.cancel()

    canceller = threading.Thread(target=cancel_when_waiting, daemon=True)
    canceller.start()
    with client(fake_llm, max_retry_wait=10) as c:
        assert list(c.stream_chat(MESSAGES, cancel=token)) == []
    canceller.join()
    # One wait of the server's 10 s, ended by the cancel (at once, not after sleeping it out); no retry.
    assert token.waits == [(10.0, True)]
    assert token.woke_at - token.cancelled_at < 5
    assert len(fake_llm.requests) == 1


def test_two_thousand_fast_tokens(fake_llm):
    fake_llm.fast_tokens(2000)
    with client(fake_llm) as c:
        deltas = list(c.stream_chat(MESSAGES))
    assert len(deltas) == 2000 and "".join(deltas) == "tok " * 2000


def test_repr_never_shows_the_key(fake_llm):
    c = client(fake_llm, "sk-supersecret-000000")
    assert "supersecret" not in repr(c)
    c.close()


def test_connect_timeout():
    # A listener that never accepts, with its backlog already full: the kernel drops further SYNs.
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        with LLMClient(f"http://127.0.0.1:{port}/v1", "m", connect_timeout=0.3) as c, \
                pytest.raises(LLMError) as info:
            list(c.stream_chat(MESSAGES))
    assert info.value.kind == errors.TIMEOUT
    assert info.value.message == f"Could not connect to 127.0.0.1:{port} within 0.3 seconds."


def test_finish_reason_without_done_is_a_complete_reply(fake_llm):
    fake_llm.reply(text="done without DONE", send_done=False)
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == "done without DONE"


def _chunk(text):
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


def test_data_lines_without_blank_lines_between_them(fake_llm):
    fake_llm.reply(body_text="\n".join([_chunk("one "), _chunk("two"), "data: [DONE]", ""]))
    with client(fake_llm) as c:
        assert c.complete(MESSAGES) == "one two"


def test_garbage_chunk_is_malformed_and_keeps_partial(fake_llm):
    fake_llm.reply(body_text=_chunk("kept") + "\n\ndata: {not json\n\n")
    err = failure(fake_llm)
    assert (err.kind, err.partial) == (errors.MALFORMED, "kept")
    assert err.message == "The server sent a streamed chunk that is not valid JSON."


def test_plain_json_without_content_is_malformed(fake_llm):
    fake_llm.reply(body_text='{"choices": []}')
    assert failure(fake_llm).message == "The server's reply has no message content."


def test_every_client_shares_one_verifying_tls_context():
    """Building a TLS context reads the CA bundle (15-35 ms a turn): clients share one, and it still
    verifies certificates and host names."""
    import ssl

    from agent.llm.client import LLMClient, shared_tls_context

    first, second = LLMClient("https://example.invalid/v1", "m"), LLMClient("http://127.0.0.1:9/v1", "m")
    try:
        context = shared_tls_context()
        assert context is shared_tls_context()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        for client in (first, second):
            pool = client._http._transport._pool
            assert pool._ssl_context is context
    finally:
        first.close()
        second.close()
