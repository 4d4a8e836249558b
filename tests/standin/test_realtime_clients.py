"""The official Realtime clients against the stand-in: supabase-js (installed with npm, as bench/bench_sync.py
installs RxDB, into a cached folder) and supabase-py's async client. Each joins the private topic the server
pokes, hears a poke after an insert with nothing but table names in it, is refused another user's topic,
and loses (or keeps, with a refresh) its channel when its token expires."""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def supabase_js(supabase_js_folder) -> Path:
    """The shared supabase-js folder (tests/standin/conftest.py) with this test's probe script."""
    shutil.copy(HERE / "realtime_js_probe.mjs", supabase_js_folder / "realtime_js_probe.mjs")
    return supabase_js_folder


class Probe:
    """`node realtime_js_probe.mjs …` with its JSON lines collected as they come."""

    def __init__(self, folder: Path, stack, user, who: str = "self", seconds: float = 15, refresh_after: float = 0):
        email, password, _ = user
        self.proc = subprocess.Popen(["node", "realtime_js_probe.mjs", stack.url, stack.anon_key, email, password,
                                      who, str(seconds), str(refresh_after)], cwd=folder, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started = time.monotonic()
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"type": "unreadable", "line": line})

    def wait_for(self, predicate, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(item)
            assert item["type"] not in ("fatal", "unreadable"), item
            if predicate(item):
                return item
        raise AssertionError(f"not heard in {timeout} s; heard {self.seen}; stderr: {self._stderr()}")

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def probe(supabase_js, supabase_stack):
    started = []

    def start(user, **options) -> Probe:
        p = Probe(supabase_js, supabase_stack, user, **options)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


def post_as(stack, user, table: str, row: dict) -> None:
    token = httpx.post(f"{stack.url}/auth/v1/token?grant_type=password", json={"email": user[0], "password": user[1]},
                       headers={"apikey": stack.anon_key}, timeout=30).json()["access_token"]
    response = httpx.post(f"{stack.url}/rest/v1/{table}", json=[row], timeout=30,
                          headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


def subscribed(item) -> bool:
    return item["type"] == "status" and item["status"] == "SUBSCRIBED"


def test_supabase_js_joins_its_own_topic_and_hears_a_poke_that_carries_only_table_names(probe, supabase_stack):
    user = supabase_stack.new_user()
    p = probe(user)
    p.wait_for(subscribed)
    post_as(supabase_stack, user, "conversations", {"id": str(uuid.uuid4()), "title": "a private title"})
    poke = p.wait_for(lambda i: i["type"] == "broadcast", timeout=5)
    assert poke["event"] == "changed" and poke["payload"]["tables"] == ["conversations"]
    assert set(poke["payload"]) <= {"tables", "id"} and "private title" not in json.dumps(poke)


def test_supabase_js_is_refused_another_users_topic(probe, supabase_stack):
    user, other = supabase_stack.new_user(), supabase_stack.new_user()
    p = probe(user, who=other[2])
    refused = p.wait_for(lambda i: i["type"] == "status" and i["status"] != "SUBSCRIBED" and i["error"])
    assert refused["status"] == "CHANNEL_ERROR"
    assert f"Unauthorized: You do not have permissions to read from this Channel topic: sync:{other[2]}" \
        in refused["error"]
    post_as(supabase_stack, other, "tasks", {"id": str(uuid.uuid4()), "title": "not for you"})
    time.sleep(1.0)
    while not p.lines.empty():
        assert p.lines.get()["type"] != "broadcast"


def test_supabase_js_loses_its_channel_when_its_token_expires(probe, supabase_stack):
    user = supabase_stack.new_user()
    supabase_stack.set_access_token_ttl(3)
    p = probe(user, seconds=12)
    p.wait_for(subscribed)
    closing = p.wait_for(lambda i: i["type"] == "system" and i.get("status") == "error", timeout=8)
    assert "Token has expired" in closing["message"]
    p.wait_for(lambda i: i["type"] == "status" and i["status"] in ("CLOSED", "CHANNEL_ERROR"), timeout=5)


def test_supabase_js_keeps_its_channel_across_a_token_refresh(probe, supabase_stack):
    user = supabase_stack.new_user()
    supabase_stack.set_access_token_ttl(5)
    refreshes = supabase_stack.stats()["realtime"].get("token_refreshes", 0)
    p = probe(user, seconds=15, refresh_after=2)  # supabase-js sends the new token as `access_token`
    p.wait_for(subscribed)
    p.wait_for(lambda i: i["type"] == "refreshed", timeout=10)
    time.sleep(max(0.0, 6.5 - (time.monotonic() - p.started)))  # past the first token's expiry
    post_as(supabase_stack, user, "tasks", {"id": str(uuid.uuid4()), "title": "after the refresh"})
    poke = p.wait_for(lambda i: i["type"] == "broadcast", timeout=5)
    assert poke["payload"]["tables"] == ["tasks"]
    assert supabase_stack.stats()["realtime"]["token_refreshes"] == refreshes + 1
    assert not any(i["type"] == "system" or i.get("status") in ("CLOSED", "CHANNEL_ERROR") for i in p.seen), p.seen


def test_supabase_py_async_client_joins_hears_a_poke_and_is_refused_another_topic(supabase_stack):
    from supabase import AsyncClientOptions, acreate_client

    user, other = supabase_stack.new_user(), supabase_stack.new_user()

    async def main():
        client = await acreate_client(supabase_stack.url, supabase_stack.anon_key,
                                      options=AsyncClientOptions(auto_refresh_token=False, persist_session=False))
        await client.auth.sign_in_with_password({"email": user[0], "password": user[1]})
        await asyncio.sleep(0.1)  # the client hands the new token to realtime in a task of its own
        heard, states = asyncio.Queue(), []
        own = client.channel(f"sync:{user[2]}", {"config": {"private": True}})
        own.on_broadcast("changed", lambda message: heard.put_nowait(message))
        await own.subscribe(lambda state, error: states.append((str(state), str(error) if error else None)))
        assert states[-1][0].endswith("SUBSCRIBED"), states
        await asyncio.to_thread(post_as, supabase_stack, user, "tasks", {"id": str(uuid.uuid4()), "title": "t"})
        message = await asyncio.wait_for(heard.get(), 5)
        assert message["payload"]["tables"] == ["tasks"] and message["event"] == "changed"
        theirs = client.channel(f"sync:{other[2]}", {"config": {"private": True}})
        refused = []
        await theirs.subscribe(lambda state, error: refused.append((str(state), str(error) if error else "")))
        assert refused[-1][0].endswith("CHANNEL_ERROR") and "Unauthorized" in refused[-1][1], refused
        await client.realtime.close()

    asyncio.run(main())
