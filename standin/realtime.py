"""Supabase Realtime's Broadcast, as supabase-js and supabase-py speak it: Phoenix channels over WebSocket.

`ws://<stand-in>/realtime/v1/websocket?apikey=<key>&vsn=1.0.0|2.0.0` (frames: realtime_frames.py). As
Realtime does it (supabase/realtime `realtime_channel.ex`, `tenants/authorization.ex`):
- the apikey is checked as the gateway checks it (401 before the upgrade); heartbeats on topic `phoenix`
  are answered; a socket silent for 60 s is closed (Phoenix's transport timeout);
- `phx_join` on `realtime:<name>` with `{config: {private, broadcast: {self, ack}, …}, access_token}`: the
  token must be signed with the project's secret and carry `role` and `exp` (else `phx_reply` error
  "InvalidJWTToken: …"); a private channel is authorised through the project's RLS policies on
  realtime.messages: two probe rows (broadcast, presence) are inserted for the topic, then selected as the
  token's role with its claims and `realtime.topic` set, and the transaction rolled back; no row visible
  → "Unauthorized: You do not have permissions to read from this Channel topic: <name>";
- the channel closes when its token expires (a `system` error, then `phx_close`) unless an `access_token`
  message brought a new one first, which is checked again (a revoked read closes the channel too);
- broadcasts from the database (realtime.send: a row in realtime.messages, NOTIFYed by the scaffolding's
  trigger at commit) go to the channels of that topic: private messages to private channels allowed to
  read, public ones to public channels, as `{"type": "broadcast", "event", "payload", "meta": {"id"}}`;
- a client's own broadcast goes to the topic's other channels (and back to itself with `self: true`); on a
  private channel only if the RLS policies let its role insert into realtime.messages.
Not served: presence and postgres_changes (a join asking for them gets a `system` error about it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import jwt
import psycopg
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from standin.realtime_frames import VERSIONS, VSN_1, Frame, FrameError, decode, encode, reply

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 60.0  # Phoenix closes a socket that sent nothing (not even a heartbeat) for this long
OUTBOX = 2000  # frames queued for one socket before it is dropped as too slow
MAX_CHANNELS = 100  # per socket, as a Supabase project's default

_READ_PROBE = """
insert into realtime.messages (topic, extension) values (%(topic)s, 'broadcast'), (%(topic)s, 'presence')
returning id, extension
"""
_AS_CALLER = """
select set_config('role', %s, true), set_config('realtime.topic', %s, true),
       set_config('request.jwt.claims', %s, true), set_config('request.headers', %s, true)
"""


def _unauthorized(topic: str) -> str:
    return f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"


@dataclass(eq=False)
class _Channel:
    socket: _Socket
    topic: str  # "realtime:<name>"
    name: str  # what the database calls the topic
    join_ref: str | None
    private: bool
    broadcast_self: bool
    ack: bool
    token: str
    claims: dict
    can_read: bool = True
    can_write: bool | None = None  # asked on the first broadcast of a private channel
    expiry: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Socket:
    ws: WebSocket
    vsn: str
    apikey: str
    headers: dict
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(OUTBOX))
    channels: dict[str, _Channel] = field(default_factory=dict)
    closed: bool = False

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(encode(frame, self.vsn))
        except asyncio.QueueFull:
            log.warning("realtime: a socket fell %d frames behind; dropping it", OUTBOX)
            self.abort()

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (a network drop, from the client's side)."""
        from standin.gateway import _TRANSPORTS

        self.closed = True
        client = self.ws.scope.get("client")
        transport = _TRANSPORTS.get(tuple(client)) if client else None
        if transport is not None:
            transport.abort()


class RealtimeHub:
    def __init__(self, pool, listen_dsn: str, jwt_secret: str, api_keys: set[str]):
        self.pool, self.listen_dsn, self.jwt_secret, self.api_keys = pool, listen_dsn, jwt_secret, api_keys
        self.idle_timeout = IDLE_TIMEOUT
        self.sockets: set[_Socket] = set()
        self.topics: dict[str, set[_Channel]] = {}
        self.stats: Counter = Counter()
        self.mute_heartbeats = False  # a fault: heartbeats go unanswered (a hung server)
        self.listening = asyncio.Event()
        self._listener: asyncio.Task | None = None

    # -- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._listener = asyncio.ensure_future(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        for sock in list(self.sockets):  # 1012: service restart, as Phoenix says it when it shuts down
            sock.closed = True
            with contextlib.suppress(Exception):
                await sock.ws.close(1012)

    def drop_sockets(self) -> int:
        """A fault: every socket's TCP connection is cut (call on the server's loop)."""
        socks = list(self.sockets)
        for sock in socks:
            sock.abort()
        return len(socks)

    # -- the database's broadcasts -----------------------------------------------------------------
    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.listen_dsn, autocommit=True) as conn:
                    await conn.execute("LISTEN realtime_messages")
                    self.listening.set()
                    async for note in conn.notifies():
                        await self._from_database(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted or the connection broke: messages meanwhile are lost
                log.warning("realtime: LISTEN connection lost; reconnecting", exc_info=True)
                self.listening.clear()
                await asyncio.sleep(1.0)

    async def _from_database(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            if message.get("by_id"):  # too big for NOTIFY: read the row
                async with self.pool.connection() as conn:
                    cur = await conn.execute(
                        "select id::text, topic, event, private, payload from realtime.messages"
                        " where id = %s and inserted_at = %s", [message["id"], message["inserted_at"]])
                    row = await cur.fetchone()
                if row is None:
                    return
                message = dict(zip(("id", "topic", "event", "private", "payload"), row, strict=True))
            self.stats["db_messages"] += 1
            self.broadcast(message["topic"], message["event"], message["payload"], bool(message["private"]),
                           message_id=message["id"])
        except Exception:  # one bad message must not stop the listener
            log.exception("realtime: could not deliver a database broadcast")

    def broadcast(self, name: str, event, payload, private: bool, *, message_id=None, sender=None) -> int:
        body = {"type": "broadcast", "event": event, "payload": payload}
        if message_id is not None:
            body["meta"] = {"id": message_id}
        sent = 0
        for ch in list(self.topics.get(name, ())):
            if ch.private != private or (private and not ch.can_read) or (ch is sender and not ch.broadcast_self):
                continue
            ch.socket.push(Frame(ch.topic, "broadcast", body))
            sent += 1
        self.stats["broadcasts_delivered"] += sent
        return sent

    # -- sockets -----------------------------------------------------------------------------------
    async def endpoint(self, websocket: WebSocket) -> None:
        apikey = websocket.headers.get("apikey") or websocket.query_params.get("apikey")
        if not apikey or apikey not in self.api_keys:
            message = "No API key found in request" if not apikey else "Invalid API key"
            hint = ("No `apikey` request header or url param was found." if not apikey
                    else "Double check your Supabase `anon` or `service_role` API key.")
            await websocket.send_denial_response(JSONResponse({"message": message, "hint": hint}, 401))
            return
        vsn = websocket.query_params.get("vsn") or VSN_1
        if vsn not in VERSIONS:
            await websocket.send_denial_response(JSONResponse({"message": f"unsupported vsn {vsn}"}, 403))
            return
        await websocket.accept()
        headers = {k: v for k, v in websocket.headers.items() if k not in ("authorization", "apikey", "cookie")}
        sock = _Socket(websocket, vsn, apikey, headers)
        self.sockets.add(sock)
        self.stats["sockets"] += 1
        writer = asyncio.ensure_future(self._write(sock))
        try:
            await self._read(sock)
        finally:
            sock.closed = True
            writer.cancel()
            for ch in list(sock.channels.values()):
                self._forget(ch)
            self.sockets.discard(sock)

    async def _write(self, sock: _Socket) -> None:
        with contextlib.suppress(Exception):
            while True:
                await sock.ws.send_text(await sock.queue.get())

    async def _read(self, sock: _Socket) -> None:
        while not sock.closed:
            try:
                message = await asyncio.wait_for(sock.ws.receive(), self.idle_timeout)
            except TimeoutError:
                with contextlib.suppress(Exception):
                    await sock.ws.close(1000)
                return
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes")
            if data is None:
                continue
            try:
                frame = decode(data, sock.vsn)
            except FrameError as exc:
                log.info("realtime: closing a socket that sent an unreadable frame: %s", exc)
                with contextlib.suppress(Exception):
                    await sock.ws.close(1003)
                return
            self.stats["frames_in"] += 1
            try:
                await self._handle(sock, frame)
            except Exception:  # a bug here: the trace goes to the log, the socket goes on
                log.exception("realtime: failed on %s %s", frame.topic, frame.event)

    # -- channel events ----------------------------------------------------------------------------
    async def _handle(self, sock: _Socket, frame: Frame) -> None:
        if frame.topic == "phoenix" and frame.event == "heartbeat":
            self.stats["heartbeats"] += 1
            if not self.mute_heartbeats:
                sock.push(reply(frame, "ok"))
            return
        if frame.event == "phx_join":
            await self._join(sock, frame)
            return
        ch = sock.channels.get(frame.topic)
        if ch is None:
            sock.push(reply(frame, "error", {"reason": "unmatched topic"}))
            return
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        if frame.event == "phx_leave":
            self._forget(ch)
            sock.push(reply(frame, "ok"))
        elif frame.event == "access_token":
            await self._new_token(ch, payload.get("access_token"))
        elif frame.event == "broadcast":
            await self._client_broadcast(ch, frame, payload)
        else:  # presence and the rest: Realtime logs "Unexpected message from client" and answers nothing
            log.info("realtime: ignored %s on %s", frame.event, frame.topic)

    def _confirm(self, token) -> tuple[dict | None, str | None]:
        """RealtimeChannel.confirm_token: the claims, or the reason the join or refresh is refused."""
        if not isinstance(token, str) or token.count(".") != 2:
            return None, "MalformedJWT: The token provided is not a valid JWT"
        try:
            claims = jwt.decode(token, self.jwt_secret, algorithms=["HS256", "HS384", "HS512"],
                                options={"verify_exp": False, "verify_aud": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.InvalidSignatureError:
            return None, "JwtSignatureError: Failed to validate JWT signature"
        except jwt.PyJWTError:
            return None, "MalformedJWT: The token provided is not a valid JWT"
        if not isinstance(claims, dict) or "role" not in claims or "exp" not in claims:
            return None, "InvalidJWTToken: Fields `role` and `exp` are required in JWT"
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int):
            return None, "InvalidJWTToken: Token expiration time is invalid"
        now = int(time.time())
        if exp <= now:
            return None, f"InvalidJWTToken: Token has expired {now - exp} seconds ago"
        return claims, None

    async def _join(self, sock: _Socket, frame: Frame) -> None:
        if not frame.topic.startswith("realtime:"):
            sock.push(reply(frame, "error", {"reason": "unmatched topic"}))
            return
        name = frame.topic[len("realtime:"):]
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
        broadcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        private = config.get("private") is True
        token = payload.get("access_token") or payload.get("user_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            token = sock.apikey  # no user token: the channel acts with the API key's role
        refused = None
        if not name:
            refused = "TopicNameRequired: You must provide a topic name"
        elif frame.topic not in sock.channels and len(sock.channels) >= MAX_CHANNELS:
            refused = "ChannelRateLimitReached: Too many channels"
        claims, problem = self._confirm(token)
        refused = refused or problem
        can_read = True
        if refused is None and private:
            can_read, can_presence = await self._read_policies(name, claims, sock.headers)
            if not (can_read or can_presence):
                refused = _unauthorized(name)
        if refused is not None:
            self.stats["joins_refused"] += 1
            sock.push(reply(frame, "error", {"reason": refused}))
            return
        old = sock.channels.get(frame.topic)
        if old is not None:  # a second join of the same topic replaces the first (Phoenix closes it)
            self._forget(old)
            sock.push(Frame(old.topic, "phx_close", {}, old.join_ref, old.join_ref))
        ch = _Channel(sock, frame.topic, name, frame.join_ref or frame.ref, private, broadcast.get("self") is True,
                      broadcast.get("ack") is True, token, claims, can_read=can_read)
        sock.channels[frame.topic] = ch
        self.topics.setdefault(name, set()).add(ch)
        self._arm_expiry(ch)
        self.stats["joins"] += 1
        changes = config.get("postgres_changes") if isinstance(config.get("postgres_changes"), list) else []
        listed = [{**c, "id": abs(hash(json.dumps(c, sort_keys=True))) % 2**31} for c in changes if isinstance(c, dict)]
        sock.push(reply(frame, "ok", {"postgres_changes": listed}))
        if listed:
            self._system(ch, "postgres_changes", "error", "postgres_changes is not served by the Supabase stand-in")

    async def _read_policies(self, name: str, claims: dict, headers: dict) -> tuple[bool, bool]:
        """(may read broadcasts, may read presence) on private topic `name`, by the project's RLS policies."""
        try:
            async with self.pool.connection() as conn, conn.transaction(force_rollback=True):
                probes = await (await conn.execute(_READ_PROBE, {"topic": name})).fetchall()
                ids = {extension: row_id for row_id, extension in probes}
                await conn.execute(_AS_CALLER, [str(claims.get("role")), name, json.dumps(claims), json.dumps(headers)])
                cur = await conn.execute(
                    "select extension from realtime.messages where topic = %s and ((extension = 'broadcast' and id = %s)"
                    " or (extension = 'presence' and id = %s))", [name, ids["broadcast"], ids["presence"]])
                seen = {extension for (extension,) in await cur.fetchall()}
        except psycopg.Error as exc:  # e.g. a role that does not exist, a policy that fails: refused
            log.info("realtime: read policy check failed for %s: %s", name, exc)
            return False, False
        return "broadcast" in seen, "presence" in seen

    async def _can_write(self, ch: _Channel) -> bool:
        try:
            async with self.pool.connection() as conn, conn.transaction(force_rollback=True):
                await conn.execute(_AS_CALLER, [str(ch.claims.get("role")), ch.name, json.dumps(ch.claims),
                                                json.dumps(ch.socket.headers)])
                await conn.execute("insert into realtime.messages (topic, extension) values (%s, 'broadcast')",
                                   [ch.name])
        except psycopg.Error:
            return False
        return True

    def _arm_expiry(self, ch: _Channel) -> None:
        if ch.expiry is not None:
            ch.expiry.cancel()
        delay = max(0.0, ch.claims["exp"] - time.time())
        ch.expiry = asyncio.get_running_loop().call_later(delay, self._expired, ch)

    def _expired(self, ch: _Channel) -> None:
        if ch.socket.channels.get(ch.topic) is ch:
            self._shutdown(ch, f"Token has expired {max(0, int(time.time()) - ch.claims['exp'])} seconds ago")

    async def _new_token(self, ch: _Channel, token) -> None:
        if not isinstance(token, str) or token.startswith("sb_") or token == ch.token:
            return
        claims, problem = self._confirm(token)
        if problem is not None:
            self._shutdown(ch, problem.split(": ", 1)[-1])
            return
        if ch.private:
            can_read, can_presence = await self._read_policies(ch.name, claims, ch.socket.headers)
            if ch.can_read and not can_read:
                self._shutdown(ch, f"You no longer have permission to read from this Channel topic: {ch.name}")
                return
            ch.can_read, ch.can_write = can_read, None
        ch.token, ch.claims = token, claims
        self._arm_expiry(ch)
        self.stats["token_refreshes"] += 1

    async def _client_broadcast(self, ch: _Channel, frame: Frame, payload: dict) -> None:
        event = payload.get("event")
        if isinstance(event, str):
            allowed = True
            if ch.private:
                if ch.can_write is None:
                    ch.can_write = await self._can_write(ch)
                allowed = ch.can_write
            if allowed:
                self.broadcast(ch.name, event, payload.get("payload"), ch.private, sender=ch)
        if ch.ack:
            ch.socket.push(reply(frame, "ok"))

    def _system(self, ch: _Channel, extension: str, status: str, message: str) -> None:
        ch.socket.push(Frame(ch.topic, "system", {"extension": extension, "status": status, "message": message,
                                                   "channel": ch.name}, None, ch.join_ref))

    def _shutdown(self, ch: _Channel, message: str) -> None:
        """RealtimeChannel.shutdown_response: a system error, then the channel closes."""
        self._system(ch, "system", "error", message)
        self._forget(ch)
        ch.socket.push(Frame(ch.topic, "phx_close", {}, ch.join_ref, ch.join_ref))

    def _forget(self, ch: _Channel) -> None:
        if ch.expiry is not None:
            ch.expiry.cancel()
            ch.expiry = None
        if ch.socket.channels.get(ch.topic) is ch:
            del ch.socket.channels[ch.topic]
        members = self.topics.get(ch.name)
        if members is not None:
            members.discard(ch)
            if not members:
                del self.topics[ch.name]
