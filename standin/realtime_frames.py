"""Phoenix channel frames as Supabase Realtime reads and writes them.

Two serializers, chosen by the socket's `vsn` query parameter (realtime-js `src/lib/serializer.ts`):
- 1.0.0 (supabase-py, older supabase-js): JSON objects {"topic","event","payload","ref","join_ref"};
- 2.0.0 (supabase-js' default): JSON arrays [join_ref, ref, topic, event, payload], and a binary frame
  for a client's own broadcast ("userBroadcastPush", kind 3). The server answers with JSON arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VSN_1, VSN_2 = "1.0.0", "2.0.0"
VERSIONS = (VSN_1, VSN_2)
USER_BROADCAST_PUSH = 3
JSON_ENCODING = 1


class FrameError(ValueError):
    """A frame the server cannot read (the socket is closed, as Phoenix does)."""


@dataclass
class Frame:
    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None


def _text(value, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FrameError(f"{what} must be a string")


def decode(data: str | bytes, vsn: str) -> Frame:
    if isinstance(data, bytes):
        if vsn != VSN_2:
            raise FrameError("binary frames need vsn 2.0.0")
        return _decode_user_broadcast_push(data)
    try:
        message = json.loads(data)
    except ValueError:
        raise FrameError("not JSON") from None
    if vsn == VSN_1:
        if not isinstance(message, dict):
            raise FrameError("a 1.0.0 frame is a JSON object")
        join_ref, ref = message.get("join_ref"), message.get("ref")
        topic, event, payload = message.get("topic"), message.get("event"), message.get("payload")
    else:
        if not isinstance(message, list) or len(message) != 5:
            raise FrameError("a 2.0.0 frame is a JSON array of 5")
        join_ref, ref, topic, event, payload = message
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    return Frame(topic, event, payload, _text(ref, "ref"), _text(join_ref, "join_ref"))


def _decode_user_broadcast_push(data: bytes) -> Frame:
    """kind, join_ref/ref/topic/event/metadata lengths, encoding, the five strings, then the payload."""
    if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise FrameError("unknown binary frame")
    sizes, encoding = data[1:6], data[6]
    offset, parts = 7, []
    for size in sizes:
        parts.append(data[offset:offset + size].decode("utf-8", "replace"))
        offset += size
    if offset > len(data):
        raise FrameError("binary frame cut short")
    join_ref, ref, topic, user_event, metadata = parts
    body = data[offset:]
    if encoding == JSON_ENCODING:
        try:
            user_payload = json.loads(body)
        except ValueError:
            raise FrameError("broadcast payload is not JSON") from None
    else:
        user_payload = {"binary_bytes": len(body)}  # kept as a size: the stand-in never relays binary data
    payload = {"type": "broadcast", "event": user_event, "payload": user_payload}
    if metadata:
        try:
            extra = json.loads(metadata)
        except ValueError:
            raise FrameError("broadcast metadata is not JSON") from None
        if isinstance(extra, dict):
            payload.update({k: v for k, v in extra.items() if k not in payload})
    return Frame(topic, "broadcast", payload, ref or None, join_ref or None)


def encode(frame: Frame, vsn: str) -> str:
    if vsn == VSN_1:
        return json.dumps({"topic": frame.topic, "event": frame.event, "payload": frame.payload,
                           "ref": frame.ref, "join_ref": frame.join_ref}, separators=(",", ":"))
    return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload], separators=(",", ":"))


def reply(to: Frame, status: str, response: dict | None = None) -> Frame:
    return Frame(to.topic, "phx_reply", {"status": status, "response": response or {}}, to.ref, to.join_ref)
