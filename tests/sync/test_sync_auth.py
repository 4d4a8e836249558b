"""Session: expiry mid-cycle, single-flight refresh, revoked refresh token, account isolation, claiming."""

import contextlib
import threading
import time
import uuid

import pytest

from local_schema import paths
from local_schema.database import open_database
from local_schema.models import Message, Task
from tests.sync.helpers import Device, server_rows


def test_access_token_expiring_mid_cycle(devices, supabase_stack, user):
    supabase_stack.set_access_token_ttl(2)
    supabase_stack.set_jwt_clock_skew(0)
    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title=f"t{i}") for i in range(1500)])
        s.commit()
    # The heads call, 3 POSTs and the pull of tasks, one after the other, 0.5 s each: the 2-second token
    # expires mid-cycle. (The pull does not download the 1,500 rows the push stored from the replies.)
    supabase_stack.faults.delay("*", "/rest/v1/", 0.5)
    result = a.sync()
    assert result.pushed == 1500 and result.pulled == 0 and result.requests >= 5
    assert a.engine.sessions.refresh_count >= 1
    assert len(server_rows(supabase_stack, "tasks", user[2])) == 1500


def test_token_close_to_expiry_is_refreshed_before_use_not_after_a_401(devices, supabase_stack):
    supabase_stack.set_access_token_ttl(2)  # refreshed in its last quarter: after 1.5 s
    supabase_stack.set_jwt_clock_skew(0)
    a = devices("a")
    supabase_stack.set_access_token_ttl(3600)  # the refreshed token lasts: one refresh, however slow the box
    old = a.engine.sessions.current().access_token
    time.sleep(1.6)  # still valid on the server for a moment, but too close to expiry to send
    result = a.sync()
    assert a.engine.sessions.refresh_count == 1 and a.engine.sessions.current().access_token != old
    # No request went out with the old token and came back 401 (that would have been sent twice): the idle
    # cycle is its one heads request.
    assert result.requests == 1


def test_401_refresh_is_single_flight_across_threads(devices, supabase_stack):
    a = devices("a")
    supabase_stack.set_refresh_token_reuse_interval(0)  # a second use of the token would kill the session
    sessions = a.engine.sessions
    stale = sessions.access_token()
    time.sleep(1.05)  # so the refreshed JWT differs from the stale one (iat has one-second resolution)
    results, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(sessions.refresh(stale))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sessions.refresh_count == 1 and len(set(results)) == 1 and results[0] != stale
    a.sync()  # and the session is still alive


def test_revoked_refresh_token_pauses_sync_and_resumes_after_sign_in(devices, supabase_stack, user):
    supabase_stack.set_access_token_ttl(1)
    supabase_stack.set_jwt_clock_skew(0)
    a = devices("a")
    with a.session() as s:
        s.add_all([Task(title=f"queued {i}") for i in range(5)])
        s.commit()
    supabase_stack.revoke_refresh_tokens(user[2])
    time.sleep(1.2)
    paused = a.sync(expect_state="sign-in needed")
    assert "sign-in needed" in paused.error
    assert a.engine.status()["pending"] == 5  # outbox intact
    assert server_rows(supabase_stack, "tasks", user[2]) == []
    supabase_stack.set_access_token_ttl(3600)
    a.engine.sign_in(user[0], user[1])
    result = a.sync()
    assert result.pushed == 5 and len(server_rows(supabase_stack, "tasks", user[2])) == 5


def test_account_switch_never_shows_or_pushes_the_other_accounts_rows(supabase_stack, tmp_path):
    alice, bob = supabase_stack.new_user(), supabase_stack.new_user()
    dev = Device(supabase_stack, tmp_path / "shared-laptop")
    try:
        dev.engine.sign_in(alice[0], alice[1])
        with dev.session() as s:
            s.add(Task(title="alice synced"))
            s.commit()
        dev.sync()
        dev.engine.sign_out()
        with dev.session() as s:  # still Alice's data, edited while signed out
            s.add(Task(title="alice offline"))
            s.commit()
        dev.engine.sign_in(bob[0], bob[1])
        assert dev.rows("tasks") == {}
        with dev.session() as s:
            s.add(Task(title="bob"))
            s.commit()
        dev.sync()
        assert [r["title"] for r in server_rows(supabase_stack, "tasks", bob[2])] == ["bob"]
        assert [r["title"] for r in server_rows(supabase_stack, "tasks", alice[2])] == ["alice synced"]
        dev.engine.sign_out()
        dev.engine.sign_in(alice[0], alice[1])
        dev.sync()
        assert {r["title"] for r in dev.rows("tasks").values()} == {"alice synced", "alice offline"}
        assert {r["title"] for r in server_rows(supabase_stack, "tasks", alice[2])} == {"alice synced",
                                                                                       "alice offline"}
        path = dev.engine.sign_out(remove_data=True)
        assert path == paths.database_path(dev.data_dir) and dev.rows("tasks") == {}
        assert dev.sync(expect_state="signed out").requests == 0
    finally:
        dev.close()


def test_first_sign_in_claims_and_pushes_rows_made_while_signed_out(supabase_stack, tmp_path, user):
    dev = Device(supabase_stack, tmp_path / "new-laptop")
    try:
        with dev.session() as s:
            from local_schema.models import Conversation

            conv = Conversation(title="before account")
            s.add(conv)
            s.flush()
            s.add_all([Message(conversation_id=conv.id, role="user", content=f"m{i}") for i in range(3)])
            s.commit()
        assert dev.sync(expect_state="signed out").pushed == 0
        dev.engine.sign_in(user[0], user[1])
        assert dev.sync().pushed == 4
        assert len(server_rows(supabase_stack, "messages", user[2])) == 3
        assert {r["user_id"] for r in dev.rows("messages").values()} == {user[2]}
    finally:
        dev.close()


def test_a_refused_first_sign_in_keeps_no_session(supabase_stack, tmp_path, user):
    # The desktop app holds the signed-out database: the claim is refused, and no session is left behind
    # that could sync the unclaimed rows.
    from sync import accounts
    from sync.errors import SyncError

    dev = Device(supabase_stack, tmp_path / "laptop")
    try:
        with dev.session() as s:
            s.add(Task(title="made offline"))
            s.commit()
        dev.engine.close_database()
        app = accounts.app_lock(dev.data_dir)
        app.acquire(timeout=0)
        try:
            with pytest.raises(SyncError, match="close it, then sign in again"):
                dev.engine.sign_in(user[0], user[1])
        finally:
            app.release()
        assert dev.engine.sessions.current() is None
        assert dev.sync(expect_state="signed out").pushed == 0
        dev.engine.sign_in(user[0], user[1])
        assert dev.sync().pushed == 1
    finally:
        dev.close()


def test_device_clock_a_day_off_changes_nothing(devices, supabase_stack, user):
    import datetime as dt

    import local_schema.timestamps as ts
    import sync.session

    a, b = devices("a"), devices("b")
    tid = str(uuid.uuid4())

    @contextlib.contextmanager
    def skewed(days):
        """Skew the DEVICE's wall clock only: the modules that read it (timestamps, session expiry).
        Not `time.time` itself: the stand-in server runs in this process, and uvicorn stamps its Date
        header (the server's clock, which pull trusts) from time.time once a second; patching it made
        that header a day off whenever a tick fell inside the skewed window."""
        offset = days * 86400

        class SkewedDatetime(dt.datetime):
            @staticmethod
            def now(tz=None):
                return dt.datetime.fromtimestamp(time.time() + offset, tz or dt.UTC)

        class SkewedTime:
            def __getattr__(self, name):
                return getattr(time, name)

            @staticmethod
            def time():
                return time.time() + offset

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ts, "datetime", SkewedDatetime)
            patch.setattr(sync.session, "time", SkewedTime())
            yield

    with a.session() as s:
        s.add(Task(id=tid, title="base"))
        s.commit()
    a.sync()
    b.sync()
    with skewed(+1):  # device A's clock runs a day ahead while it edits
        ahead = ts.utc_now()
        assert ts.parse_timestamp(ahead).timestamp() - time.time() > 86000
        a.execute("UPDATE tasks SET title = 'from A', updated_at = ? WHERE id = ?", ahead, tid)
    a.sync()
    with skewed(-1):  # device B is a day behind and edits later: it arrives last, so it wins
        b.execute("UPDATE tasks SET title = 'from B', updated_at = ? WHERE id = ?", ts.utc_now(), tid)
        b.sync()
    a.sync()
    assert a.rows("tasks")[tid]["title"] == b.rows("tasks")[tid]["title"] == "from B"
    assert a.snapshot() == b.snapshot()
    [server] = server_rows(supabase_stack, "tasks", user[2])
    assert abs(server["updated_at"].timestamp() - time.time()) < 60  # the server's clock, not a device's


def test_outbox_stays_bound_to_its_database(tmp_path):
    """Signed-out rows never leak into another account's database file (checked at the file level)."""
    db = open_database(paths.database_path(tmp_path))
    with db.session() as s:
        s.add(Task(title="local"))
        s.commit()
    db.close()
    other = open_database(paths.database_path(tmp_path, str(uuid.uuid4())))
    with other.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sync_outbox").scalar() == 0
    other.close()


@pytest.mark.parametrize("body", [
    "<html><body><h1>502 Bad Gateway</h1></body></html>",  # a proxy's page, answered with 200
    '{"access_token": "eyJhbGciOi", "token_type": "bearer", "expires_in": 36',  # JSON cut short
], ids=["html", "truncated-json"])
def test_a_refresh_answered_with_garbage_is_one_clear_sentence(devices, supabase_stack, caplog, body):
    a = devices("a")
    a.engine.sessions.current().expires_at = 0  # the token must be refreshed before the next request
    supabase_stack.faults.fail_next("POST", "/auth/v1/token", 200, body)
    with caplog.at_level("DEBUG"):
        result = a.sync(expect_state="error")
    assert result.error.startswith("server unreachable or misconfigured: the auth server's answer is not "
                                   "Supabase Auth's")
    assert "validation" not in result.error.lower() and "\n" not in result.error
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged
    assert a.sync().state == "idle"  # the session was kept: the next refresh works
