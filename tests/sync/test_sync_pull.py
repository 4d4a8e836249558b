"""Pull: exact paging, the long-transaction hole, quarantine of rows that cannot be stored, idle cost."""

import threading
import time
import uuid

import pytest

from local_schema.models import Task
from standin.impersonate import ApiSession


def test_1500_rows_in_one_transaction_pull_exactly_once(devices, api):
    conv = str(uuid.uuid4())
    with api.tx() as cur:
        cur.execute("insert into public.conversations (id, title) values (%s, 'bulk')", (conv,))
        cur.execute("insert into public.messages (conversation_id, role, content) "
                    "select %s, 'user', 'message ' || i from generate_series(1, 1500) i", (conv,))
    b = devices("b")
    first = b.sync()
    assert first.pulled == 1501
    # heads; conversations; messages in two pages: 1000 + 500 (short: stop), and after the first full page of
    # a table's first pull, the page bounds (sync.pages; not needed here, as it turned out)
    assert first.requests == 1 + 1 + 2 + 1
    assert b.scalar("SELECT count(*) FROM messages") == 1500
    assert b.scalar("SELECT count(DISTINCT content) FROM messages") == 1500
    # The search index was built once after the load (not per row) and covers every message.
    from local_schema.search import search_messages

    with b.db.engine.connect() as conn:
        assert len(search_messages(conn, "message", limit=5000)) == 1500
        assert len(search_messages(conn, "1499")) == 1
    assert b.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts_insert'") == 1
    assert b.scalar("SELECT count(*) FROM messages_fts_backlog") == 0  # deferred, then built in chunks
    # The secondary indexes dropped for the load are back.
    assert b.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'messages_conversation_created'") == 1
    assert b.scalar("SELECT count(*) FROM sync_meta WHERE key LIKE 'deferred_indexes:%'") == 0
    # The cursor is the server's exact string for the last row; nothing comes back twice.
    again = b.sync()
    assert again.pulled == 0 and again.requests == 1


def test_long_transaction_committing_after_a_pulled_one_is_still_pulled(devices, api, supabase_stack, user):
    b = devices("b")
    slow = ApiSession(supabase_stack.db_url, user[2])
    try:
        slow_id, fast_id = str(uuid.uuid4()), str(uuid.uuid4())
        with slow.tx() as slow_cur:
            slow_cur.execute("select now()")  # the slow transaction has started: now() is fixed from here
            time.sleep(0.05)
            api.all("insert into public.tasks (id, title) values (%s, 'fast')", (fast_id,))
            assert b.sync().pulled == 1  # the client's cursor is now past the slow transaction's start
            slow_cur.execute("insert into public.tasks (id, title) values (%s, 'slow')", (slow_id,))
            # ...and the writer holding the per-user stamp lock makes other writers wait until it commits:
            blocked = threading.Thread(
                target=api.all, args=("insert into public.tasks (title) values ('queued')",))
            blocked.start()
            time.sleep(0.3)
            assert b.sync().pulled == 0  # nothing committed yet, nothing skipped either
        blocked.join(10)
        result = b.sync()
        assert result.pulled == 2
        assert {r["title"] for r in b.rows("tasks").values()} == {"fast", "slow", "queued"}
    finally:
        slow.close()


def test_rolled_back_transaction_leaves_no_phantom_and_no_stuck_cursor(devices, api):
    b = devices("b")
    with pytest.raises(RuntimeError), api.tx() as cur:
        cur.execute("insert into public.tasks (title) values ('ghost')")
        raise RuntimeError("abort")
    api.all("insert into public.tasks (title) values ('real')")
    assert b.sync().pulled == 1
    assert [r["title"] for r in b.rows("tasks").values()] == ["real"]


def test_row_that_cannot_be_stored_halts_the_cursor_and_is_quarantined(devices, api, supabase_stack, user):
    b = devices("b")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, row_id in enumerate(ids):
        api.all("insert into public.tasks (id, title) values (%s, %s)", (row_id, f"t{i}"))
    good = api.all("select * from public.tasks where id = any(%s) order by updated_at", (ids,))
    rows = [{k: (str(v) if k in ("id", "user_id") and v else v.isoformat() if hasattr(v, "isoformat") else v)
             for k, v in r.items()} for r in good]
    rows[1]["updated_at"] = "yesterday-ish"  # a row this client cannot make sense of
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, rows)
    result = b.sync()
    assert result.quarantined == 1 and b.alerts and "tasks" in b.alerts[0]
    assert list(b.rows("tasks")) == [ids[0]]  # applied up to the bad row, not past it
    assert b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'tasks'") == rows[0]["updated_at"]
    assert b.scalar("SELECT count(*) FROM sync_quarantine") == 1
    # Once the server sends sane data again, the rows after it are not lost, and the row is no longer
    # reported as quarantined (`mirari status` would otherwise alarm the user forever).
    b.sync()
    assert sorted(b.rows("tasks")) == sorted(ids)
    assert b.scalar("SELECT count(*) FROM sync_quarantine") == 0 and b.engine.status()["quarantined"] == 0


def test_a_row_stamped_far_past_the_servers_clock_cannot_poison_the_cursor(devices, api, supabase_stack):
    """A broken endpoint hands out a row stamped in 2099. Taken as the cursor it would hide every row the
    server writes until 2099; instead it is quarantined and the cursor stays before it."""
    b = devices("b")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, row_id in enumerate(ids):
        api.all("insert into public.tasks (id, title) values (%s, %s)", (row_id, f"t{i}"))
    rows = _as_json(api.all("select * from public.tasks where id = any(%s) order by updated_at", (ids,)))
    rows[2]["updated_at"] = "2099-01-01T00:00:00+00:00"
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, rows)
    result = b.sync()
    assert result.quarantined == 1 and "more than a day after the server's own time" in b.alerts[0]
    assert sorted(b.rows("tasks")) == sorted(ids[:2])
    assert b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'tasks'") == rows[1]["updated_at"]
    later = str(uuid.uuid4())
    api.all("insert into public.tasks (id, title) values (%s, 'written after')", (later,))
    b.sync()
    assert sorted(b.rows("tasks")) == sorted([*ids, later])
    assert b.rows("tasks")[ids[2]]["updated_at"] != "2099-01-01T00:00:00+00:00"
    assert b.scalar("SELECT count(*) FROM sync_quarantine") == 0


def test_without_a_date_header_the_heads_bound_the_stamps(devices, api, supabase_stack):
    """No Date header (or an unreadable one): the heads this cycle read bound the stamps instead, so a row
    stamped 9999 cannot become the cursor (the table would never pull again); a sane row is stored."""
    b = devices("b")
    dated, later = str(uuid.uuid4()), str(uuid.uuid4())
    api.all("insert into public.tasks (id, title) values (%s, 'dated')", (dated,))
    rows = _as_json(api.all("select * from public.tasks where id = %s", (dated,)))
    real_stamp = rows[0]["updated_at"]
    rows[0]["updated_at"] = "9999-12-31T23:59:59.999999+00:00"
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, rows, headers={"Date": "not a date"})
    result = b.sync()
    assert result.quarantined == 1 and "more than a day after the server's own time" in b.alerts[0]
    assert b.rows("tasks") == {} and b.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'tasks'") is None
    api.all("insert into public.tasks (id, title) values (%s, 'written after')", (later,))
    b.sync()
    assert sorted(b.rows("tasks")) == sorted([dated, later])
    from sync.stamps import server_stamp

    assert server_stamp(b.rows("tasks")[dated]["updated_at"]) == server_stamp(real_stamp)  # the real one
    # And a sane reply without a Date header is stored as always.
    api.all("update public.tasks set title = 'edited' where id = %s", (dated,))
    rows = _as_json(api.all("select * from public.tasks where id = %s", (dated,)))
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, rows, headers={"Date": "not a date"})
    assert b.sync().quarantined == 0 and b.rows("tasks")[dated]["title"] == "edited"


def _as_json(rows: list[dict]) -> list[dict]:
    return [{k: (str(v) if k in ("id", "user_id") and v else v.isoformat() if hasattr(v, "isoformat") else v)
             for k, v in r.items()} for r in rows]


def test_malformed_reply_is_a_clear_error_and_loses_nothing(devices, supabase_stack, user):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="keep me"))
        s.commit()
    supabase_stack.faults.fail_next("POST", "/rest/v1/tasks", 201, "<html>proxy error</html>")
    bad = a.sync(expect_state="error")
    assert "not JSON" in bad.error
    assert a.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'") == 1
    supabase_stack.faults.fail_next("GET", "/rest/v1/tasks", 200, {"rows": "not a list"})
    bad_pull = a.sync(expect_state="error")
    assert "expected a JSON array" in bad_pull.error and bad_pull.pushed == 1
    assert a.scalar("SELECT cursor FROM sync_cursors WHERE table_name = 'tasks'") is None
    a.sync()
    assert a.scalar("SELECT count(*) FROM sync_outbox") == 0 and len(a.rows("tasks")) == 1


def test_idle_sync_is_one_request(devices):
    a = devices("a")
    with a.session() as s:
        s.add(Task(title="x"))
        s.commit()
    a.sync()
    a.sync()
    idle = a.sync()
    assert (idle.pushed, idle.pulled, idle.requests) == (0, 0, 1)


def test_child_pulled_before_its_newly_created_parent_catches_the_parents_up(devices, api, supabase_stack):
    """Another device creates a conversation and a message after our conversations page was read but
    before our messages page: the message arrives without its parent. The puller catches the parent
    tables up and applies it, instead of quarantining it or skipping it."""
    b = devices("b")
    old_conv, new_conv, msg = (str(uuid.uuid4()) for _ in range(3))
    api.all("insert into public.conversations (id, title) values (%s, 'old')", (old_conv,))
    api.all("insert into public.messages (conversation_id, role, content) values (%s, 'user', 'old')", (old_conv,))
    supabase_stack.faults.delay("GET", "/rest/v1/messages", 1.5, times=1)  # sent with the other first pages
    written = []

    def write_elsewhere(phase, _count):
        if phase == "pull" and not written:  # runs right after our conversations page was committed
            written.append(True)
            with api.tx() as cur:
                cur.execute("insert into public.conversations (id, title) values (%s, 'new')", (new_conv,))
                cur.execute("insert into public.messages (id, conversation_id, role, content) "
                            "values (%s, %s, 'user', 'child first')", (msg, new_conv))

    b.engine.on_progress = write_elsewhere
    result = b.sync()
    assert written and supabase_stack.faults.hits("delay") == 1
    assert result.requests > 3  # heads and two first pages, then the parents again, then the messages
    assert (result.pulled, result.quarantined, b.alerts) == (4, 0, [])
    assert set(b.rows("conversations")) == {old_conv, new_conv}
    assert b.rows("messages")[msg]["conversation_id"] == new_conv
    from local_schema.search import search_messages

    with b.db.engine.connect() as conn:
        assert [h.message_id for h in search_messages(conn, "child")] == [msg]
    again = b.sync()
    assert (again.pulled, again.requests) == (0, 1)
