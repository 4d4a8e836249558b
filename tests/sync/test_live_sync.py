"""Live sync against the stand-in's Realtime: the socket hears pokes, survives drops, a hung server, a
restart and token expiry, and a poke storm becomes a handful of cycles (sync.realtime, sync.live)."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from local_schema.models import Task
from sync.live import LiveSync
from sync.realtime import RealtimeLink, poke_tables, reconnect_delay
from sync.scheduler import SyncScheduler


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Recorder:
    """What a link told us, in order, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pokes: list = []
        self.joined = 0
        self.states: list[tuple[bool, str | None]] = []

    def poke(self, tables):
        with self.lock:
            self.pokes.append((time.monotonic(), tables))

    def join(self):
        with self.lock:
            self.joined += 1

    def state(self, live, detail):
        with self.lock:
            self.states.append((live, detail))


def link_for(device, recorder: Recorder, **options) -> RealtimeLink:
    sessions = device.engine.sessions
    return RealtimeLink(device.engine.config.url, device.engine.config.anon_key, sessions.current().user_id,
                        sessions.access_token, refresh=sessions.refresh, on_poke=recorder.poke,
                        on_joined=recorder.join, on_state=recorder.state, **options)


def rest_insert(stack, device, table: str, rows: list[dict]) -> None:
    """Another device's write: a POST through PostgREST under the same user's token."""
    token = device.engine.sessions.access_token()
    response = httpx.post(f"{stack.url}/rest/v1/{table}", json=rows, timeout=30,
                          headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


@pytest.fixture
def linked(devices):
    """(device, recorder, started link) — the link is stopped afterwards."""
    made = []

    def make(name="a", **options):
        device, recorder = devices(name), Recorder()
        link = link_for(device, recorder, **options)
        link.start()
        made.append(link)
        wait_for(lambda: link.live, what="the first join")
        return device, recorder, link

    yield make
    for link in made:
        link.stop()


def test_a_write_elsewhere_is_poked_with_the_table_name_and_nothing_else(linked, supabase_stack):
    device, recorder, link = linked()
    assert recorder.joined == 1 and recorder.states[-1] == (True, None)
    sent = time.monotonic()
    rest_insert(supabase_stack, device, "conversations", [{"id": str(uuid.uuid4()), "title": "secret title"}])
    wait_for(lambda: recorder.pokes, timeout=5, what="the poke")
    at, tables = recorder.pokes[0]
    assert tables == frozenset({"conversations"}) and at - sent < 1.0


def test_the_link_rejoins_after_the_network_drops_and_asks_for_a_full_cycle(linked, supabase_stack):
    device, recorder, link = linked()
    assert supabase_stack.drop_realtime_sockets() >= 1
    wait_for(lambda: recorder.joined == 2, timeout=10, what="the rejoin")
    assert any(not live for live, _ in recorder.states) and link.live
    rest_insert(supabase_stack, device, "tasks", [{"id": str(uuid.uuid4()), "title": "after the drop"}])
    wait_for(lambda: any(t == frozenset({"tasks"}) for _, t in recorder.pokes), timeout=5, what="a poke after")


def test_the_watchdog_reconnects_when_heartbeats_go_unanswered(linked, supabase_stack):
    device, recorder, link = linked(heartbeat=0.3, reply_timeout=0.5)
    supabase_stack.mute_heartbeats(True)
    wait_for(lambda: any(d and "heartbeat" in d for live, d in recorder.states if not live), timeout=5,
             what="the watchdog")
    supabase_stack.mute_heartbeats(False)
    wait_for(lambda: link.live and recorder.joined >= 2, timeout=10, what="the rejoin")


def test_after_a_server_restart_the_link_joins_again_within_seconds(linked, supabase_stack):
    device, recorder, link = linked()
    started = time.monotonic()
    supabase_stack.restart(down_for=1.0)
    wait_for(lambda: recorder.joined == 2 and link.live, timeout=15, what="the rejoin after the restart")
    assert time.monotonic() - started < 10


def test_a_token_refresh_reaches_the_channel_before_the_old_token_expires(devices, supabase_stack):
    supabase_stack.set_access_token_ttl(8)  # the refresh comes 2 s before expiry (a quarter of it)
    supabase_stack.set_jwt_clock_skew(0)
    device, recorder = devices("a"), Recorder()
    device.engine.sessions.refresh(device.engine.sessions.access_token())  # an 8-second token now
    link = link_for(device, recorder, token_check=0.3)
    link.start()
    try:
        wait_for(lambda: link.live, what="the join")
        time.sleep(9)  # past the first token's expiry: the server would have closed the channel
        assert recorder.joined == 1 and link.live, recorder.states
        assert supabase_stack.stats()["realtime"].get("token_refreshes", 0) >= 1
        rest_insert(supabase_stack, device, "tasks", [{"id": str(uuid.uuid4()), "title": "still heard"}])
        wait_for(lambda: recorder.pokes, timeout=5, what="a poke on the refreshed channel")
    finally:
        link.stop()


def test_a_channel_closed_for_an_expired_token_rejoins_with_a_fresh_one(devices, supabase_stack):
    supabase_stack.set_access_token_ttl(3)
    supabase_stack.set_jwt_clock_skew(0)
    device, recorder = devices("a"), Recorder()
    sessions = device.engine.sessions
    sessions.refresh(sessions.access_token())
    link = link_for(device, recorder, token_check=60)  # never checked in time: the server closes it
    link.start()
    try:
        wait_for(lambda: recorder.joined >= 2, timeout=15, what="the rejoin after expiry")
        assert any(d and "expired" in d for live, d in recorder.states if not live), recorder.states
    finally:
        link.stop()


def test_a_link_for_another_users_topic_is_refused_and_says_why(devices, supabase_stack):
    device, recorder = devices("a"), Recorder()
    sessions = device.engine.sessions
    link = RealtimeLink(supabase_stack.url, supabase_stack.anon_key, str(uuid.uuid4()), sessions.access_token,
                        on_poke=recorder.poke, on_joined=recorder.join, on_state=recorder.state)
    link.start()
    try:
        wait_for(lambda: recorder.states and recorder.states[-1][1] and "Unauthorized" in recorder.states[-1][1],
                 what="the refusal")
        assert recorder.joined == 0 and not link.live
        assert "does not let this account" in recorder.states[-1][1]
    finally:
        link.stop()


def test_untrusted_poke_payloads_are_bounded_to_known_tables():
    assert poke_tables({"tables": ["messages", "messages", "nope", 3]}) == frozenset({"messages"})
    assert poke_tables({"tables": "messages"}) is None and poke_tables(None) is None
    assert poke_tables({"tables": ["x"] * 10_000}) is None  # nothing we know: every table is checked
    assert [round(reconnect_delay(n), 1) <= c for n, c in ((1, 0.5), (3, 2.0), (10, 3.0), (40, 30.0))] == [True] * 4


def test_a_poke_storm_becomes_a_handful_of_cycles_and_every_row_arrives(devices, supabase_stack):
    a, b = devices("a"), devices("b")
    b.sync()
    cycles = []
    scheduler = SyncScheduler(b.engine, interval=3600, debounce=1.0)
    original = b.engine.run_cycle

    def counted():
        cycles.append(scheduler.trigger)
        return original()

    b.engine.run_cycle = counted
    live = LiveSync(b.engine, scheduler, poll_live=3600, poll_offline=3600)
    scheduler.start()
    live.start()
    try:
        wait_for(lambda: live.live and len(cycles) >= 1 and scheduler.last_result is not None, what="b is live")
        time.sleep(0.5)
        before = len(cycles)
        token = a.engine.sessions.access_token()
        ids = [str(uuid.uuid4()) for _ in range(100)]
        started = time.monotonic()
        with httpx.Client(headers={"apikey": supabase_stack.anon_key, "Authorization": f"Bearer {token}"}) as c:
            for task_id in ids:  # 100 transactions, 100 pokes, as fast as the server takes them
                c.post(f"{supabase_stack.url}/rest/v1/tasks", json=[{"id": task_id, "title": "storm"}]).raise_for_status()
        storm = time.monotonic() - started
        wait_for(lambda: b.scalar("SELECT count(*) FROM tasks") == 100, timeout=10, what="every row in b")
        time.sleep(1.2)  # any cycle still gathering
        ran = cycles[before:]
        assert set(ran) == {"poke"} and len(ran) <= 2 + int(storm / scheduler.poke_max_wait), (ran, storm)
    finally:
        live.stop()
        scheduler.stop()


def test_live_sync_polls_every_60_s_while_live_and_15_s_without(devices, supabase_stack):
    a = devices("a")
    scheduler = SyncScheduler(a.engine, interval=15, debounce=1.0)
    live = LiveSync(a.engine, scheduler, heartbeat=0.2, reply_timeout=0.3)
    scheduler.start()
    live.start()
    try:
        wait_for(lambda: live.live and scheduler.interval == 60, what="the live interval")
        supabase_stack.mute_heartbeats(True)  # a hung server: the watchdog drops the socket
        wait_for(lambda: scheduler.interval == 15, timeout=10, what="back to 15 s")
    finally:
        supabase_stack.mute_heartbeats(False)
        live.stop()
        scheduler.stop()


def test_a_local_change_is_not_pushed_early_by_its_own_echo(devices, supabase_stack):
    a = devices("a")
    scheduler = SyncScheduler(a.engine, interval=3600, debounce=1.0)
    live = LiveSync(a.engine, scheduler, poll_live=3600, poll_offline=3600)
    scheduler.start()
    live.start()
    try:
        wait_for(lambda: live.live and scheduler.cycles >= 1, what="live")
        time.sleep(0.3)
        with a.db.write() as s:
            s.add(Task(title="typed"))
        scheduler.notify_local_change()
        scheduler.notify_poke(frozenset({"tasks"}))  # e.g. another device's change meanwhile
        started, cycles = time.monotonic(), scheduler.cycles
        wait_for(lambda: scheduler.cycles > cycles, timeout=5, what="the debounced cycle")
        assert time.monotonic() - started >= 0.9 and scheduler.trigger == "local"
    finally:
        live.stop()
        scheduler.stop()
