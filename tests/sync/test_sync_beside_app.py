"""Sync committing while the app writes: every app write goes through LocalDatabase.write() (BEGIN
IMMEDIATE), so a pull landing between a writer's read and its write makes it wait, never fail."""

from __future__ import annotations

import threading
import uuid

from agent.chat.threads import new_thread, thread_messages_in
from agent.chat.turn import DONE, ChatTurn
from local_schema.database import open_database
from local_schema.models import AgentConnection


def test_a_reply_streams_while_a_5000_row_pull_lands(devices, api, fake_llm):
    conversation = str(uuid.uuid4())
    with api.tx() as cur:
        # The seeding is the test's own setup: a loaded host must not hit the role's 8 s statement timeout.
        cur.execute("set local statement_timeout = 0")
        cur.execute("insert into public.conversations (id, title) values (%s, 'elsewhere')", (conversation,))
        cur.execute("insert into public.messages (conversation_id, role, content) "
                    "select %s, 'user', 'pulled ' || i from generate_series(1, 5000) i", (conversation,))
    device = devices("a")
    app_db = open_database(device.db.path)  # the window's own handle, as today: a second engine
    try:
        with app_db.write() as s:
            connection = AgentConnection(name="fake", provider="custom", base_url=fake_llm.base_url, model="m")
            s.add(connection)
        thread = new_thread(app_db, connection.id)
        tokens = [f"t{i} " for i in range(300)]
        fake_llm.reply(tokens=tokens, token_delay=0.004)
        # flush_interval=0: the reply row is rewritten on every token, the most writes a turn can make.
        turn = ChatTurn(app_db, thread.id, flush_interval=0)
        first_token = threading.Event()
        turn.on_delta = lambda _d: first_token.set()
        outcome: dict = {}

        def send() -> None:
            try:
                outcome["result"] = turn.send("question")
            except Exception as exc:  # e.g. "database is locked" from a deferred read-then-write
                outcome["error"] = exc
                first_token.set()

        chat = threading.Thread(target=send)
        chat.start()
        assert first_token.wait(10)
        cycles = []
        while chat.is_alive() or not cycles:  # pull (and push the turn's own rows) while the reply streams
            cycles.append(device.engine.run_cycle())
        chat.join(30)
        assert "error" not in outcome, outcome
        result = outcome["result"]
        assert result.status == DONE and result.error is None
        assert [c.error for c in cycles] == [None] * len(cycles), cycles
        assert sum(c.pulled for c in cycles) >= 5001
        with app_db.session() as s:
            transcript = [(m.role, m.content) for m in thread_messages_in(s, thread.id)]
        assert transcript == [("user", "question"), ("assistant", "".join(tokens))]
        assert device.sync().pulled >= 0  # one more cycle settles the last flushes
        assert device.scalar("SELECT count(*) FROM messages WHERE conversation_id = ?", conversation) == 5000
        assert device.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'") == 0
    finally:
        app_db.close()
