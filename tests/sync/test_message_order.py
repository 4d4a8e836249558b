"""Message order sync never rewrites: two devices whose clocks are a day apart chat in one thread.

created_at is each writing device's own clock (and push adoption used to replace it with the server's
stamp), so ordering by created_at put a reply written on a device whose clock is behind (or pushed
before its question) in the wrong place, and Regenerate then replaced the wrong reply. messages.seq is chosen once by the writing device and
never rewritten: on every device, at every moment, each reply follows its question."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from agent.chat.export import thread_to_json_in
from agent.chat.threads import new_thread, thread_messages_in
from agent.chat.tree import active_path_in
from agent.chat.turn import DONE, ChatTurn
from agent.prompt import assemble_prompt_in
from local_schema import timestamps
from local_schema.models import AgentConnection
from local_schema.timestamps import to_micros


@contextmanager
def clock(monkeypatch, offset: timedelta):
    """This process plays a device whose clock is `offset` away from the real time."""
    with monkeypatch.context() as patch:
        patch.setattr(timestamps, "_now", lambda: datetime.now(UTC) + offset)
        yield


DAY = timedelta(days=1)


def transcript(device, thread_id) -> list[tuple[str, str]]:
    """What the thread shows: its active path (a regenerated reply's sibling is off it)."""
    with device.db.session() as s:
        return [(m.role, m.content) for m in active_path_in(s, thread_id)]


def ask(device, thread_id, text, fake_llm, reply, *, sync_mid_turn=False):
    """One turn; with sync_mid_turn the question is pushed (its created_at replaced by the server's
    stamp) while the model is still thinking, before the reply row exists."""
    fake_llm.reply(tokens=[reply], header_delay=0.3 if sync_mid_turn else 0)
    turn = ChatTurn(device.db, thread_id)
    if not sync_mid_turn:
        return turn.send(text) if text else turn.regenerate()
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", turn.send(text)))
    worker.start()
    fake_llm.wait_for_requests(len(fake_llm.requests) + 1)
    device.sync()
    worker.join(10)
    return box["r"]


@pytest.fixture
def pair(devices, fake_llm):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="fake", provider="custom", base_url=fake_llm.base_url, model="m")
        s.add(connection)
    thread = new_thread(a.db, connection.id)
    return a, b, thread.id


def test_replies_follow_their_questions_on_every_device_with_clocks_a_day_apart(pair, fake_llm, monkeypatch):
    a, b, thread = pair
    with clock(monkeypatch, timedelta(0)):
        assert ask(a, thread, "q1", fake_llm, "r1").status == DONE
        a.sync()
    with clock(monkeypatch, -DAY):  # b's clock is a day behind
        b.sync()
        ask(b, thread, "q2", fake_llm, "r2")
        assert transcript(b, thread)[-4:] == [("user", "q1"), ("assistant", "r1"), ("user", "q2"),
                                              ("assistant", "r2")]  # before anything is pushed
        ask(b, thread, "q3", fake_llm, "r3", sync_mid_turn=True)  # q3 is pushed before r3 exists
        assert transcript(b, thread)[-2:] == [("user", "q3"), ("assistant", "r3")]
        b.sync()
    expected = [("user", f"q{i}") if j == 0 else ("assistant", f"r{i}") for i in (1, 2, 3) for j in (0, 1)]
    with clock(monkeypatch, DAY):  # and a's is now a day ahead
        a.sync()
        assert transcript(a, thread) == expected
        assert transcript(b, thread) == expected
        # The prompt history for a new question is the thread in this order too.
        with a.db.session() as s:
            prompt = assemble_prompt_in(s, None, thread, "next")
        assert [m["content"] for m in prompt.messages] == ["q1", "r1", "q2", "r2", "q3", "r3", "next"]
        # Regenerate replaces r3 (the reply to the last question), not whatever has the newest stamp.
        regenerated = ask(a, thread, None, fake_llm, "r3, again")
        assert regenerated.status == DONE and len(regenerated.superseded_ids) == 1  # kept as its sibling
        assert transcript(a, thread) == expected[:-1] + [("assistant", "r3, again")]
        assert fake_llm.chat_requests[-1].messages[-1] == {"role": "user", "content": "q3"}
        a.sync()
    with clock(monkeypatch, -DAY):
        b.sync()
        assert transcript(b, thread) == expected[:-1] + [("assistant", "r3, again")]
        ask(b, thread, None, fake_llm, "r3, third try")  # regenerate on the device that is a day behind
        b.sync()
    a.sync()
    final = expected[:-1] + [("assistant", "r3, third try")]
    assert transcript(a, thread) == transcript(b, thread) == final
    with a.db.session() as s:
        exported = [m["content"] for m in __import__("json").loads(thread_to_json_in(s, thread))["messages"]]
    assert exported == [text for _, text in final]


def test_seq_survives_push_adoption_and_pull(pair, fake_llm, monkeypatch):
    """seq and created_at are sent once and come back unchanged (created_at to the microsecond: the server
    keeps the writing device's time, here a day behind, though it renders it its own way)."""
    a, b, thread = pair
    with clock(monkeypatch, -DAY):
        ask(a, thread, "q", fake_llm, "r")
        with a.db.session() as s:
            before = {m.id: (m.seq, m.created_at) for m in thread_messages_in(s, thread)}
    a.sync()
    b.sync()
    for device in (a, b):
        with device.db.session() as s:
            after = {m.id: (m.seq, m.created_at) for m in thread_messages_in(s, thread)}
        assert {i: seq for i, (seq, _) in after.items()} == {i: seq for i, (seq, _) in before.items()}
        assert {i: to_micros(at) for i, (_, at) in after.items()} == {i: to_micros(at) for i, (_, at) in before.items()}
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0
