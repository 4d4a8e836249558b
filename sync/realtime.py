"""One Supabase Realtime socket for one signed-in user: it hears the server's sync pokes (no Qt).

After every commit that changes a user's rows the server broadcasts `changed` {"tables": [...]} on the
private topic `sync:<user id>` (supabase/migrations …400000_sync_pokes.sql). `RealtimeLink` keeps one
Phoenix-channel WebSocket to `/realtime/v1/websocket` (serializer 1.0.0), joins that topic with the user's
access token and calls `on_poke(tables)` for each poke. It never reads rows from a poke: the sync cycle
pulls them under RLS, and a poke is only a hint (at most once: one missed while away is covered by the
full cycle `on_joined` asks for after every join, and by the backstop poll).

It owns its reconnects (supabase-py's own is unreliable, supabase-py#1311):
- heartbeats every 25 s (Realtime's clients' interval); a heartbeat unanswered for 10 s, a socket that
  closes, or a channel the server closes (token expired, read revoked) ends the session, and the link
  connects and joins again after a short backoff (0.5 s doubling to 3 s while the server is briefly gone,
  then up to 30 s), with jitter;
- the token is checked every few seconds through the `token` callable (SessionManager.access_token, which
  refreshes shortly before expiry, single-flight): a new one is sent as `access_token`, so the channel
  outlives every token; a join refused as expired refreshes once and joins again at once;
- a join refused as unauthorised means the project does not let this user join (its migrations lack the
  poke policy): said in `on_state`, tried again every 5 minutes.
Callbacks run on the link's own thread ("mirari-realtime") and must return quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from sync.heads import SYNCED_TABLES

log = logging.getLogger(__name__)

HEARTBEAT = 25.0  # seconds between heartbeats (realtime-js and realtime-py send one every 25 s)
REPLY_TIMEOUT = 10.0  # a heartbeat or join unanswered this long: the socket is dead
TOKEN_CHECK = 5.0  # how often the access token is compared with the one the channel has
REFUSED_RETRY = 300.0  # after a join refused as unauthorised
SIGN_IN_RETRY = 30.0  # while no token can be had (signed out, keychain locked)
MAX_FRAME = 1_000_000  # bytes: a poke is tiny; anything this big is not ours to read
MAX_TABLES = 64


class _SessionEnded(Exception):
    """The socket or the channel is gone; `detail` says why (shown while reconnecting)."""


class _Refused(_SessionEnded):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def socket_url(project_url: str, anon_key: str) -> str:
    parts = urlsplit(project_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path + "/realtime/v1/websocket",
                       urlencode({"apikey": anon_key, "vsn": "1.0.0"}), ""))


def reconnect_delay(failures: int) -> float:
    """Seconds before the next connection attempt after `failures` failed ones in a row (jittered)."""
    if failures <= 0:
        return 0.0
    ceiling = min(3.0, 0.5 * 2 ** (failures - 1)) if failures <= 20 else min(30.0, 3.0 * (failures - 19))
    return ceiling * random.uniform(0.8, 1.0)


def poke_tables(payload) -> frozenset[str] | None:
    """The synced tables a poke names; None when it names none we know (then every table is checked)."""
    tables = payload.get("tables") if isinstance(payload, dict) else None
    if not isinstance(tables, list):
        return None
    known = frozenset(t for t in tables[:MAX_TABLES] if isinstance(t, str) and t in SYNCED_TABLES)
    return known or None


def _noop(*_args) -> None:
    pass


class RealtimeLink:
    def __init__(self, project_url: str, anon_key: str, user_id: str, token: Callable[[], str], *,
                 refresh: Callable[[str], str] | None = None,
                 on_poke: Callable[[frozenset[str] | None], None] = _noop,
                 on_joined: Callable[[], None] = _noop,
                 on_state: Callable[[bool, str | None], None] = _noop,
                 heartbeat: float = HEARTBEAT, reply_timeout: float = REPLY_TIMEOUT,
                 token_check: float = TOKEN_CHECK):
        self.url = socket_url(project_url, anon_key)
        self.topic = f"realtime:sync:{user_id}"
        self._token, self._refresh = token, refresh
        self.on_poke, self.on_joined, self.on_state = on_poke, on_joined, on_state
        self.heartbeat, self.reply_timeout, self.token_check = heartbeat, reply_timeout, token_check
        self.live = False
        self.detail: str | None = "connecting"
        self.joins = 0  # successful joins (the first and every rejoin)
        self.pokes = 0
        self._refs = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None
        self._ws = None
        self._joined_at: float | None = None
        self._started = threading.Event()

    # -- any thread ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mirari-realtime", daemon=True)
            self._thread.start()
            self._started.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(self._stop_soon)
        thread.join(timeout)
        self._thread = None

    def reconnect(self) -> None:
        """Drop the socket now and connect again (the network came back, the machine woke up)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._drop)

    # -- the link's thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # noqa: BLE001 - never let the thread die silently
            log.exception("the realtime link stopped")
        finally:
            self._set_live(False, "stopped")

    def _stop_soon(self) -> None:
        if self._halt is not None:
            self._halt.set()
        self._drop()

    def _drop(self) -> None:
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close())

    def _set_live(self, live: bool, detail: str | None) -> None:
        changed = (live, detail) != (self.live, self.detail)
        self.live, self.detail = live, detail
        if changed:
            try:
                self.on_state(live, detail)
            except Exception:  # noqa: BLE001 - a listener's bug must not end the link
                log.exception("realtime state listener failed")

    async def _main(self) -> None:
        self._loop, self._halt = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        failures = 0
        while not self._halt.is_set():
            delay, self._joined_at = None, None
            try:
                await self._session()
                detail = "disconnected"
            except _Refused as exc:
                detail = exc.reason
                if exc.reason.startswith("Unauthorized"):
                    detail = ("the project does not let this account hear its changes (apply the sync pokes "
                              f"migration, docs/server-schema.md): {exc.reason}")
                    delay = REFUSED_RETRY
            except _SessionEnded as exc:
                detail = str(exc)
            except TokenUnavailable as exc:
                detail, delay = str(exc), SIGN_IN_RETRY
            except Exception as exc:  # noqa: BLE001 - network, handshake, protocol: reconnect
                detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._ws = None
            if self._halt.is_set():
                break
            self._set_live(False, detail)
            joined_for = time.monotonic() - self._joined_at if self._joined_at is not None else 0.0
            failures = 1 if joined_for > 30.0 else failures + 1  # a long-lived socket that broke: retry soon
            if delay is None:
                delay = reconnect_delay(failures)
            log.info("realtime: %s; reconnecting in %.1f s", detail, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), delay)

    async def _current_token(self, stale: str | None = None) -> str:
        loop = asyncio.get_running_loop()
        try:
            if stale is not None and self._refresh is not None:
                return await loop.run_in_executor(None, self._refresh, stale)
            return await loop.run_in_executor(None, self._token)
        except Exception as exc:  # noqa: BLE001 - signed out, keychain locked, auth server down
            raise TokenUnavailable(f"no access token for the live connection: {exc}") from exc

    def _frame(self, topic: str, event: str, payload: dict, join_ref: str | None) -> tuple[str, str]:
        """(ref, text) of a frame; a join is its own join_ref, a heartbeat has none."""
        ref = str(next(self._refs))
        return ref, json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref,
                                "join_ref": ref if join_ref == "self" else join_ref})

    async def _session(self) -> None:
        """Connect, join and listen until the socket or the channel ends (always by an exception)."""
        from websockets.asyncio.client import connect

        token = await self._current_token()
        async with connect(self.url, open_timeout=self.reply_timeout, ping_interval=None, close_timeout=2,
                           max_size=MAX_FRAME, user_agent_header="mirari-desktop realtime") as ws:
            self._ws = ws
            if self._halt.is_set():
                return
            join_ref, token = await self._join(ws, token)
            self._joined_at = time.monotonic()
            self.joins += 1
            self._set_live(True, None)
            try:
                self.on_joined()
            except Exception:  # noqa: BLE001
                log.exception("realtime joined listener failed")
            await self._listen(ws, join_ref, token)

    async def _join(self, ws, token: str) -> tuple[str, str]:
        refreshed = False
        while True:
            payload = {"config": {"broadcast": {"ack": False, "self": False}, "presence": {"key": "", "enabled": False},
                                  "postgres_changes": [], "private": True}, "access_token": token}
            join_ref, text = self._frame(self.topic, "phx_join", payload, "self")
            await ws.send(text)
            deadline = time.monotonic() + self.reply_timeout
            while True:
                message = await self._receive(ws, deadline - time.monotonic(), "no answer to joining")
                if message.get("event") == "phx_reply" and message.get("ref") == join_ref:
                    break
            answer = message.get("payload") if isinstance(message.get("payload"), dict) else {}
            if answer.get("status") == "ok":
                return join_ref, token
            response = answer.get("response") if isinstance(answer.get("response"), dict) else {}
            reason = str(response.get("reason") or answer.get("status") or "refused")[:500]
            if "expired" in reason.lower() and not refreshed:
                token, refreshed = await self._current_token(stale=token), True  # our clock thought it valid
                continue
            raise _Refused(reason)

    async def _receive(self, ws, timeout: float, silence: str) -> dict:
        try:
            raw = await asyncio.wait_for(ws.recv(), max(0.0, timeout))
        except TimeoutError:
            raise _SessionEnded(f"{silence} in {self.reply_timeout:.0f} s") from None
        try:
            message = json.loads(raw)
        except (ValueError, TypeError):
            return {}
        return message if isinstance(message, dict) else {}

    async def _listen(self, ws, join_ref: str, token: str) -> None:
        tokens = asyncio.ensure_future(self._keep_token(ws, join_ref, token))
        try:
            await self._receive_loop(ws)
        finally:
            tokens.cancel()
            with contextlib.suppress(BaseException):
                await tokens

    async def _keep_token(self, ws, join_ref: str, token: str) -> None:
        """Every few seconds: a token other than the channel's (refreshed by a cycle, or by this very call
        shortly before expiry) is sent to the channel. Apart from the receive loop, so a slow auth server
        never holds up the heartbeats."""
        while True:
            await asyncio.sleep(self.token_check)
            try:
                fresh = await self._current_token()
            except TokenUnavailable as exc:  # keep the old one: the server says when it is too old
                log.info("realtime: %s", exc)
                continue
            if fresh != token:
                _ref, text = self._frame(self.topic, "access_token", {"access_token": fresh}, join_ref)
                await ws.send(text)
                token = fresh

    async def _receive_loop(self, ws) -> None:
        next_beat, pending = time.monotonic() + self.heartbeat, None  # pending: (ref, sent at)
        system_detail = None
        while True:
            now = time.monotonic()
            deadlines = [next_beat] + ([pending[1] + self.reply_timeout] if pending else [])
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.0, min(deadlines) - now))
            except TimeoutError:
                raw = None
            if raw is not None:
                try:
                    message = json.loads(raw)
                except (ValueError, TypeError):
                    message = None
                if isinstance(message, dict):
                    topic, event = message.get("topic"), message.get("event")
                    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
                    if topic == "phoenix" and event == "phx_reply" and pending and message.get("ref") == pending[0]:
                        pending = None
                    elif topic == self.topic and event == "broadcast" and payload.get("event") == "changed":
                        self.pokes += 1
                        try:
                            self.on_poke(poke_tables(payload.get("payload")))
                        except Exception:  # noqa: BLE001 - a listener's bug must not drop the socket
                            log.exception("realtime poke listener failed")
                    elif topic == self.topic and event == "system" and payload.get("status") == "error":
                        system_detail = str(payload.get("message") or "")[:500] or None
                    elif topic == self.topic and event in ("phx_close", "phx_error"):
                        raise _SessionEnded("the server closed the channel" + (f": {system_detail}" if system_detail
                                                                               else ""))
            now = time.monotonic()
            if pending and now >= pending[1] + self.reply_timeout:
                raise _SessionEnded(f"no heartbeat reply in {self.reply_timeout:.0f} s")
            if now >= next_beat:
                if pending is None:
                    ref, text = self._frame("phoenix", "heartbeat", {}, None)
                    await ws.send(text)
                    pending = (ref, now)
                next_beat = now + self.heartbeat


class TokenUnavailable(Exception):
    """No access token could be had (signed out, keychain locked, auth server unreachable)."""
