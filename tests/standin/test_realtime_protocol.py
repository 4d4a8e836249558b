"""The stand-in's Realtime at the frame level (supabase/realtime's behaviour, realtime_frames.py's two
serializers): the gateway's apikey check before the upgrade, heartbeats, join refusals with Realtime's
reasons, public and private delivery of database broadcasts, a client's own broadcast (also as a 2.0.0
binary frame), and a token refresh that revokes the read."""

from __future__ import annotations

import json
import struct
import time

import jwt
import psycopg
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

PRIVATE = {"config": {"private": True, "broadcast": {"self": False}}}


def sign_in(stack, user) -> str:
    import httpx

    return httpx.post(f"{stack.url}/auth/v1/token?grant_type=password", json={"email": user[0], "password": user[1]},
                      headers={"apikey": stack.anon_key}, timeout=30).json()["access_token"]


class Socket:
    def __init__(self, stack, vsn: str = "1.0.0", key: str | None = None):
        self.vsn, self.ref = vsn, 0
        self.ws = connect(f"{stack.realtime_url}?apikey={key or stack.anon_key}&vsn={vsn}", open_timeout=10)

    def send(self, topic: str, event: str, payload, join_ref: str | None = None) -> str:
        self.ref += 1
        ref = str(self.ref)
        if self.vsn == "1.0.0":
            self.ws.send(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref,
                                     "join_ref": join_ref}))
        else:
            self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        return ref

    def recv(self, timeout: float = 5.0) -> dict:
        raw = json.loads(self.ws.recv(timeout))
        if self.vsn == "1.0.0":
            return raw
        join_ref, ref, topic, event, payload = raw
        return {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}

    def join(self, topic: str, payload: dict) -> dict:
        ref = self.send(f"realtime:{topic}", "phx_join", payload, join_ref=str(self.ref + 1))
        message = self.recv()
        assert message["event"] == "phx_reply" and message["ref"] == ref, message
        return message["payload"]

    def silent(self, seconds: float = 0.5) -> bool:
        try:
            self.ws.recv(seconds)
        except TimeoutError:
            return True
        return False

    def close(self):
        self.ws.close()


@pytest.fixture
def sockets(supabase_stack):
    made = []

    def make(**options) -> Socket:
        s = Socket(supabase_stack, **options)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def send_from_database(stack, topic: str, private: bool, payload: dict | None = None) -> None:
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        conn.execute("select realtime.send(%s::jsonb, 'changed', %s, %s)",
                     [json.dumps(payload or {"tables": ["tasks"]}), topic, private])


@pytest.mark.parametrize("key, message", [("", "No API key found in request"), ("not-a-key", "Invalid API key")])
def test_the_socket_needs_the_projects_api_key(supabase_stack, key, message):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{supabase_stack.realtime_url}?apikey={key}&vsn=1.0.0", open_timeout=10)
    assert refused.value.response.status_code == 401 and message in refused.value.response.body.decode()


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_heartbeats_joins_and_database_broadcasts_in_both_serializers(sockets, supabase_stack, vsn):
    user = supabase_stack.new_user()
    s = sockets(vsn=vsn)
    ref = s.send("phoenix", "heartbeat", {})
    assert s.recv() == {"topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}},
                        "ref": ref, "join_ref": None}
    assert s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": sign_in(supabase_stack, user)}) == \
        {"status": "ok", "response": {"postgres_changes": []}}
    send_from_database(supabase_stack, f"sync:{user[2]}", private=True)
    message = s.recv()
    assert message["event"] == "broadcast" and message["topic"] == f"realtime:sync:{user[2]}"
    body = message["payload"]
    assert body["type"] == "broadcast" and body["event"] == "changed" and body["payload"]["tables"] == ["tasks"]
    assert body["meta"]["id"] == body["payload"]["id"]  # realtime.send's id, as Realtime passes it on


def test_join_refusals_carry_realtimes_reasons(sockets, supabase_stack):
    user, other = supabase_stack.new_user(), supabase_stack.new_user()
    token = sign_in(supabase_stack, user)
    s = sockets()
    refused = {
        "another user's topic": s.join(f"sync:{other[2]}", {**PRIVATE, "access_token": token}),
        "no user token (the anon key's role)": s.join(f"sync:{user[2]}", PRIVATE),
        "malformed": s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": "x.y"}),
        "signed with another secret": s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": jwt.encode(
            {"sub": user[2], "role": "authenticated", "exp": int(time.time()) + 60}, "another-secret-" * 3)}),
        "expired": s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": jwt.encode(
            {"sub": user[2], "role": "authenticated", "exp": int(time.time()) - 5}, supabase_stack.jwt_secret)}),
        "no exp": s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": jwt.encode(
            {"sub": user[2], "role": "authenticated"}, supabase_stack.jwt_secret)}),
        "no topic": s.join("", {**PRIVATE, "access_token": token}),
    }
    reasons = {what: reply["response"]["reason"] for what, reply in refused.items()}
    assert all(reply["status"] == "error" for reply in refused.values())
    assert reasons["another user's topic"] == \
        f"Unauthorized: You do not have permissions to read from this Channel topic: sync:{other[2]}"
    assert reasons["no user token (the anon key's role)"].startswith("Unauthorized: ")
    assert reasons["malformed"] == "MalformedJWT: The token provided is not a valid JWT"
    assert reasons["signed with another secret"] == "JwtSignatureError: Failed to validate JWT signature"
    assert reasons["expired"].startswith("InvalidJWTToken: Token has expired ")
    assert reasons["no exp"] == "InvalidJWTToken: Fields `role` and `exp` are required in JWT"
    assert reasons["no topic"] == "TopicNameRequired: You must provide a topic name"
    ref = s.send("realtime:never-joined", "broadcast", {"type": "broadcast", "event": "x", "payload": {}})
    assert s.recv()["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}
    assert ref


def test_private_messages_reach_only_private_channels_and_public_only_public(sockets, supabase_stack):
    user = supabase_stack.new_user()
    topic = f"sync:{user[2]}"
    private, public = sockets(), sockets()
    private.join(topic, {**PRIVATE, "access_token": sign_in(supabase_stack, user)})
    public.join(topic, {"config": {"private": False}})  # anyone may join a public channel of that name
    send_from_database(supabase_stack, topic, private=True)
    assert private.recv()["event"] == "broadcast" and public.silent()
    send_from_database(supabase_stack, topic, private=False)
    assert public.recv()["event"] == "broadcast" and private.silent()


def test_a_clients_broadcast_reaches_the_others_also_from_a_binary_200_frame(sockets, supabase_stack):
    listener, sender = sockets(), sockets(vsn="2.0.0")
    listener.join("room-1", {"config": {"private": False}})
    sender.join("room-1", {"config": {"private": False, "broadcast": {"self": True, "ack": True}}})
    join_ref, ref, topic, event = "1", "9", "realtime:room-1", "hello"
    body = json.dumps({"n": 1}).encode()
    header = struct.pack("7B", 3, len(join_ref), len(ref), len(topic), len(event), 0, 1)
    sender.ws.send(header + (join_ref + ref + topic + event).encode() + body)  # realtime-js' userBroadcastPush
    heard = listener.recv()
    assert heard["event"] == "broadcast" and heard["payload"] == {"type": "broadcast", "event": "hello",
                                                                  "payload": {"n": 1}}
    echoed, acked = sender.recv(), sender.recv()  # self: true, ack: true
    assert {echoed["event"], acked["event"]} == {"broadcast", "phx_reply"}


def test_a_private_channel_may_not_broadcast_without_an_insert_policy(sockets, supabase_stack):
    user = supabase_stack.new_user()
    token = sign_in(supabase_stack, user)
    a, b = sockets(), sockets()
    a.join(f"sync:{user[2]}", {**PRIVATE, "access_token": token})
    b.join(f"sync:{user[2]}", {**PRIVATE, "access_token": token})
    a.send(f"realtime:sync:{user[2]}", "broadcast", {"type": "broadcast", "event": "changed", "payload": {}})
    assert b.silent()  # only the database pokes this topic


def test_a_new_token_that_may_not_read_closes_the_channel(sockets, supabase_stack):
    user, other = supabase_stack.new_user(), supabase_stack.new_user()
    s = sockets()
    s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": sign_in(supabase_stack, user)})
    s.send(f"realtime:sync:{user[2]}", "access_token", {"access_token": sign_in(supabase_stack, other)})
    system, closed = s.recv(), s.recv()
    assert system["event"] == "system" and system["payload"]["status"] == "error"
    assert system["payload"]["message"] == f"You no longer have permission to read from this Channel topic: sync:{user[2]}"
    assert closed["event"] == "phx_close"
    send_from_database(supabase_stack, f"sync:{user[2]}", private=True)
    assert s.silent()


def test_a_database_broadcast_too_big_for_notify_is_read_by_id(sockets, supabase_stack):
    user = supabase_stack.new_user()
    s = sockets()
    s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": sign_in(supabase_stack, user)})
    send_from_database(supabase_stack, f"sync:{user[2]}", private=True, payload={"big": "x" * 20_000})
    assert s.recv()["payload"]["payload"]["big"] == "x" * 20_000


def test_joining_a_topic_again_closes_the_first_join(sockets, supabase_stack):
    user = supabase_stack.new_user()
    token = sign_in(supabase_stack, user)
    s = sockets()
    s.join(f"sync:{user[2]}", {**PRIVATE, "access_token": token})
    ref = s.send(f"realtime:sync:{user[2]}", "phx_join", {**PRIVATE, "access_token": token}, join_ref="7")
    closed, joined = s.recv(), s.recv()
    assert closed["event"] == "phx_close" and closed["join_ref"] == "1"  # (Phoenix closes the old one)
    assert joined["ref"] == ref and joined["payload"]["status"] == "ok"
    send_from_database(supabase_stack, f"sync:{user[2]}", private=True)
    assert s.recv()["event"] == "broadcast" and s.silent()  # delivered once, not twice
