"""The SSE parser must give the same events however the bytes are cut."""

import pytest

from agent.llm.sse import SSEParser

STREAM = (
    ": keep-alive\r\n\r\n"
    'data: {"a": "héllo ✶"}\r\n\r\n'
    "event: message\nid: 7\ndata: line one\ndata: line two\n\n"
    "data:nospace\r\r"
    "data: [DONE]\n\n"
).encode()
EXPECTED = ['{"a": "héllo ✶"}', "line one\nline two", "nospace", "[DONE]"]


def _parse(pieces):
    parser = SSEParser()
    out = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    out.extend(parser.close())
    return out


def test_whole_stream_at_once():
    assert _parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_every_split_size_gives_the_same_events(size):
    # size 1 cuts between \r and \n and through the middle of multi-byte UTF-8 characters
    assert _parse([STREAM[i:i + size] for i in range(0, len(STREAM), size)]) == EXPECTED


def test_every_single_cut_point():
    for cut in range(len(STREAM)):
        assert _parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_final_event_without_blank_line_is_flushed_at_close():
    assert _parse([b'data: {"x": 1}']) == ['{"x": 1}']


def test_comments_only_give_nothing():
    assert _parse([b": ping\n\n: ping\n\n"]) == []
