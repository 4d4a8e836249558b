"""Sync never re-dates history: a row's created_at is the moment the user made it on the device that made
it. Rows written offline on device A over weeks, then synced, read the same to the microsecond on A, on
the server and on device B — before, the first sign-in dated every one of them at the push."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from agent.chat.threads import new_thread
from agent.chat.turn import DONE, ChatTurn
from local_schema import timestamps
from local_schema.models import SYNCED_TABLES, AgentConnection, MemoryNode, Message, Skill, Task
from local_schema.timestamps import to_micros
from tests.sync.helpers import server_rows


@contextmanager
def device_clock(monkeypatch, moment: datetime):
    """This process plays a device whose clock reads `moment` (ticking on from there)."""
    started = datetime.now(UTC)
    with monkeypatch.context() as patch:
        patch.setattr(timestamps, "_now", lambda: moment + (datetime.now(UTC) - started))
        yield


def created(device) -> dict[str, dict[str, int]]:
    return {t: {i: to_micros(r["created_at"]) for i, r in device.rows(t).items()} for t in SYNCED_TABLES}


def on_server(stack, user_id) -> dict[str, dict[str, int]]:
    return {t: {str(r["id"]): to_micros(r["created_at"].isoformat()) for r in server_rows(stack, t, user_id)}
            for t in SYNCED_TABLES}


@pytest.fixture
def offline_a(devices, fake_llm, monkeypatch):
    """Device A, never signed in, used for two weeks: a connection, a chat, memory, a task, a skill."""
    a = devices("a", sign_in=False)
    weeks_ago = datetime.now(UTC) - timedelta(days=14, microseconds=123_457)
    with device_clock(monkeypatch, weeks_ago):
        with a.db.write() as s:
            connection = AgentConnection(name="fake", provider="custom", base_url=fake_llm.base_url, model="m")
            s.add(connection)
        thread = new_thread(a.db, connection.id)
        fake_llm.reply(tokens=["a ", "streamed ", "reply"], token_delay=0.05)
        assert ChatTurn(a.db, thread.id, flush_interval=0).send("written two weeks ago").status == DONE
    with device_clock(monkeypatch, weeks_ago + timedelta(days=3, hours=5, microseconds=7)), a.db.write() as s:
        s.add(MemoryNode(label="Prefers tea", category="preference"))
        s.add(Skill(name="Summarise", template_prompt="Be brief."))
    with device_clock(monkeypatch, datetime.now(UTC) - timedelta(minutes=33, microseconds=1)), a.db.write() as s:
        s.add(Task(title="written offline at 18:31"))
        s.add(Message(conversation_id=thread.id, role="user", content="and a late one"))
    return a


def test_rows_written_offline_keep_their_time_on_every_device(offline_a, devices, supabase_stack, user):
    a = offline_a
    before = created(a)
    assert sum(map(len, before.values())) >= 8
    a.engine.sign_in(user[0], user[1])  # the first sign-in claims them; the first sync pushes them
    a.sync()
    b = devices("b")
    b.sync()
    server = on_server(supabase_stack, user[2])
    assert created(a) == before  # not re-dated by the push reply
    assert server == before
    assert created(b) == before
    # The strings agree too: A stores the server's rendering of its own time, B pulls the same text.
    for table in SYNCED_TABLES:
        assert {i: r["created_at"] for i, r in a.rows(table).items()} == \
            {i: r["created_at"] for i, r in b.rows(table).items()}


def test_an_edit_on_another_device_keeps_the_time_the_row_was_made(offline_a, devices, supabase_stack, user):
    a = offline_a
    a.engine.sign_in(user[0], user[1])
    a.sync()
    b = devices("b")
    b.sync()
    made = created(a)
    b.execute("UPDATE messages SET content = content || ' (edited)'")
    b.execute("UPDATE tasks SET status = 'done'")
    b.sync()
    a.sync()
    assert a.scalar("SELECT count(*) FROM messages WHERE content LIKE '%(edited)'") == 3
    assert created(a) == created(b) == on_server(supabase_stack, user[2]) == made


def test_a_clock_far_ahead_is_clamped_once_and_then_agreed_on(devices, supabase_stack, user, monkeypatch):
    """Nobody dates a row in the future: the server stores at most its time + 5 minutes, and A adopts it."""
    a = devices("a")
    with device_clock(monkeypatch, datetime.now(UTC) + timedelta(days=2)), a.db.write() as s:
        s.add(Task(title="from a clock two days ahead"))
    a.sync()
    b = devices("b")
    b.sync()
    (task,) = server_rows(supabase_stack, "tasks", user[2])
    assert task["created_at"] == task["updated_at"] + timedelta(minutes=5)
    assert created(a)["tasks"] == created(b)["tasks"] == {str(task["id"]): to_micros(task["created_at"].isoformat())}
