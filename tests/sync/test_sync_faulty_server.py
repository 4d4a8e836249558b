"""A server that misbehaves on a real socket (tests/faulty_proxy.py in front of the stand-in): it accepts
and never answers, dribbles its reply a byte at a time, sends a Date in year 9999 or JSON nested
thousands deep, or refuses the anon key. Each ends the cycle with a sentence; the changes keep waiting."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest

from local_schema.models import Task
from standin.impersonate import ApiSession
from sync import engine as engine_module
from sync import rest
from tests.sync.helpers import Device

DEEP = b"[" * 200_000 + b"]" * 200_000  # what made json.loads raise RecursionError


@pytest.fixture
def behind_proxy(faulty_proxy, supabase_stack, tmp_path, user):
    """A device signed in through the faulty proxy."""
    device = Device(SimpleNamespace(url=faulty_proxy.url, anon_key=supabase_stack.anon_key), tmp_path / "dev")
    device.engine.sign_in(*user[:2])
    device.sync()
    yield device
    faulty_proxy.clear()
    device.close()


def _write_task(device, title: str = "waits") -> None:
    with device.session() as s:
        s.add(Task(title=title))
        s.commit()


def _pending(device) -> int:
    return device.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'")


def test_a_server_that_accepts_and_never_answers_ends_the_cycle_offline(behind_proxy, faulty_proxy, monkeypatch):
    monkeypatch.setattr(rest, "REQUEST_DEADLINE", 1.0, raising=False)
    _write_task(behind_proxy)
    faulty_proxy.hang("/rest/v1/")
    started = time.monotonic()
    result = behind_proxy.sync(expect_state="offline")
    assert time.monotonic() - started < 5  # httpx alone waits 30 s per read
    assert "did not answer in time" in result.error and faulty_proxy.hung == 1
    assert _pending(behind_proxy) == 1  # the change waits
    faulty_proxy.clear()
    assert behind_proxy.sync().pushed == 1 and _pending(behind_proxy) == 0


def test_a_reply_sent_one_byte_at_a_time_has_a_total_deadline(behind_proxy, faulty_proxy, monkeypatch):
    """Every read gets its byte well within httpx's read timeout: only a total deadline ends it."""
    monkeypatch.setattr(rest, "REQUEST_DEADLINE", 1.5, raising=False)
    _write_task(behind_proxy)
    faulty_proxy.dribble("/rest/v1/", delay=0.02)  # ~300 bytes of headers alone: 6 s a request
    started = time.monotonic()
    result = behind_proxy.sync(expect_state="offline")
    assert time.monotonic() - started < 4
    assert "did not answer in time" in result.error and _pending(behind_proxy) == 1


def test_a_cycle_has_a_deadline_of_its_own(behind_proxy, faulty_proxy, monkeypatch):
    """Each request in time, but the cycle as a whole too slow: it ends at its deadline, offline."""
    monkeypatch.setattr(engine_module, "CYCLE_DEADLINE", 1.0, raising=False)
    for i in range(3):
        _write_task(behind_proxy, f"task {i}")
    faulty_proxy.dribble("/rest/v1/", delay=0.004)  # a request takes ~1.5 s, under its own deadline
    result = behind_proxy.sync(expect_state="offline")
    assert "the sync cycle ran out of time" in result.error and result.duration_s < 3.5
    assert _pending(behind_proxy) == 3
    faulty_proxy.clear()
    assert behind_proxy.sync().pushed == 3


def test_mirari_sync_against_a_hung_server_ends_with_one_line(behind_proxy, faulty_proxy, monkeypatch, capsys):
    from mirari.main import main

    monkeypatch.setattr(rest, "REQUEST_DEADLINE", 1.0, raising=False)
    _write_task(behind_proxy)
    behind_proxy.close()
    faulty_proxy.hang("/rest/v1/")
    started = time.monotonic()
    code = main(["--data-dir", str(behind_proxy.data_dir), "sync"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 5
    assert err.splitlines()[-1].startswith("mirari: error: no response: the server did not answer in time")
    assert "Traceback" not in err


def test_a_date_in_year_9999_does_not_crash_the_cycle(behind_proxy, faulty_proxy, supabase_stack, user):
    """Date + a day overflowed (OverflowError: the cycle crashed); the bound is clamped, and the heads
    this cycle read still bound the stamps."""
    api = ApiSession(supabase_stack.db_url, user[2])
    try:
        row_id = str(uuid.uuid4())
        api.all("insert into public.tasks (id, title) values (%s, 'dated')", (row_id,))
        faulty_proxy.headers("/rest/v1/", {"Date": "Fri, 31 Dec 9999 23:59:59 GMT"}, times=None)
        result = behind_proxy.sync()
        assert (result.pulled, result.quarantined, result.error) == (1, 0, None)
        assert list(behind_proxy.rows("tasks")) == [row_id]
    finally:
        api.close()


def test_deeply_nested_json_from_sync_heads_is_a_malformed_reply(behind_proxy, faulty_proxy, caplog):
    _write_task(behind_proxy)
    faulty_proxy.answer("/rest/v1/rpc/sync_heads", 200, DEEP)
    result = behind_proxy.sync(expect_state="error")
    assert "nested too deeply" in result.error and "RecursionError" not in result.error
    assert not [r for r in caplog.records if r.exc_info]  # said in a sentence, no traceback in the log
    assert _pending(behind_proxy) == 1
    assert behind_proxy.sync().pushed == 1


def test_deeply_nested_page_bounds_fall_back_to_plain_paging(behind_proxy, faulty_proxy, supabase_stack, user):
    """Page bounds are only a shortcut: a reply nested thousands deep is ignored, every row still comes."""
    api = ApiSession(supabase_stack.db_url, user[2])
    try:
        conv = str(uuid.uuid4())
        with api.tx() as cur:
            cur.execute("insert into public.conversations (id, title) values (%s, 'bulk')", (conv,))
            cur.execute("insert into public.messages (conversation_id, role, content) "
                        "select %s, 'user', 'message ' || i from generate_series(1, 2500) i", (conv,))
    finally:
        api.close()
    faulty_proxy.answer("/rest/v1/rpc/sync_page_bounds", 200, DEEP, times=None)
    result = behind_proxy.sync()
    assert (result.pulled, result.quarantined, result.error) == (2501, 0, None)
    assert behind_proxy.scalar("SELECT count(DISTINCT content) FROM messages") == 2500


def test_a_refused_anon_key_says_the_project_changed_its_key(behind_proxy, supabase_stack):
    """Kong answers 401 "Invalid API key" to every request, the token refresh included: that is not an
    ended session, and signing in again with the same key would not help."""
    from sync import config
    from sync.engine import KEY_REFUSED

    _write_task(behind_proxy)
    config.set_value(behind_proxy.data_dir, "supabase.anon_key", "the-old-key-the-project-replaced")
    behind_proxy.engine.reconfigure()
    result = behind_proxy.sync(expect_state=KEY_REFUSED)
    assert "changed its key" in result.error and "Invalid API key" in result.error
    assert "sign-in needed" not in result.error and _pending(behind_proxy) == 1
    # The session was not touched: with the project's key again, it syncs.
    config.set_value(behind_proxy.data_dir, "supabase.anon_key", supabase_stack.anon_key)
    behind_proxy.engine.reconfigure()
    assert behind_proxy.sync().pushed == 1
