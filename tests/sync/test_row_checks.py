"""Pulled rows -> SQLite parameters and the checks before they are stored (the per-row fast paths)."""

from sync.dbutil import table_info
from sync.pull_rows import problem as _problem

USER = "8d0f6c1e-0000-4000-8000-000000000001"


def message(**changes):
    row = {"id": "m1", "user_id": USER, "conversation_id": "c1", "role": "user", "content": "hi",
           "created_at": "2026-11-26T10:00:00.000001+00:00", "updated_at": "2026-11-26T10:00:00.000002+00:00",
           "deleted_at": None, "seq": 1795651200000001, "agent_connection_id": None, "model": None,
           "parent_id": None, "status": "done", "error": None}
    row.update(changes)
    return row


def test_encode_keeps_column_order_and_stores_null_for_a_column_the_server_left_out():
    info = table_info("messages")
    assert info.encode(message()) == tuple(message()[c] for c in info.columns)
    partial = message()
    del partial["deleted_at"]
    assert info.encode(partial)[info.columns.index("deleted_at")] is None


def test_encode_converts_json_and_booleans():
    info = table_info("templates")
    row = {c: None for c in info.columns} | {"payload": {"skills": []}, "is_public": True}
    encoded = dict(zip(info.columns, info.encode(row), strict=True))
    assert (encoded["payload"], encoded["is_public"]) == ('{"skills":[]}', 1)


def test_problem_names_every_missing_required_column_and_accepts_tombstones():
    info = table_info("messages")
    assert _problem(info, message(), USER) is None
    assert _problem(info, message(content=None, role=None), USER) == \
        "missing required columns ['content', 'role']"
    without = message()
    del without["conversation_id"]
    assert _problem(info, without, USER) == "missing required columns ['conversation_id']"
    assert _problem(info, message(content=None, deleted_at="2026-11-26T11:00:00+00:00"), USER) is None
    assert "not the signed-in user" in _problem(info, message(user_id="someone else"), USER)


def test_a_page_is_prepared_on_the_fetching_thread_only_when_the_fast_check_holds():
    from sync.pull_rows import prepare, prepared_after, scan
    from sync.rest import Rows

    info = table_info("messages")

    def page(*rows):
        return Rows([message(id=f"m{i}", updated_at=f"2026-11-26T10:00:0{i}+00:00", **r) for i, r in rows])

    backwards = page((1, {}), (3, {}), (2, {}))  # stamps must increase
    prepare(info, backwards, None, USER)
    assert getattr(backwards, "prepared", None) is None
    good = page((1, {}), (2, {}), (3, {}))
    prepare(info, good, "2026-11-26T10:00:00+00:00", USER)
    assert good.prepared.ids == ["m1", "m2", "m3"]
    assert [v[0] for v in good.prepared.values] == ["m1", "m2", "m3"]  # encoded, sorted by id
    # Its check holds for the cursor it was fetched after and any earlier one, not a later one.
    assert prepared_after(good, "2026-11-26T10:00:00+00:00") is good.prepared
    assert prepared_after(good, "2026-11-25T10:00:00+00:00") is good.prepared
    assert prepared_after(good, "2026-11-26T10:00:01+00:00") is None
    # ... and then the writer checks the page itself: the first row is not after the cursor.
    import pytest

    from sync.errors import RequestFailed

    with pytest.raises(RequestFailed, match="made no progress"):
        scan(info, good, "2026-11-26T10:00:01+00:00", USER)
    for odd in (page((1, {}), (2, {"deleted_at": "2026-11-26T10:00:02+00:00"})),  # a tombstone
                page((1, {}), (2, {"user_id": "someone else"})),  # not the user's
                page((1, {}), (2, {"content": None}))):  # a required column missing
        prepare(info, odd, None, USER)
        assert getattr(odd, "prepared", None) is None
