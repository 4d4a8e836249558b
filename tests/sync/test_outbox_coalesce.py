"""Coalescing the outbox into one request per row, and the error classification table."""

import pytest

from sync.errors import Kind, classify
from sync.outbox import coalesce


def ops(*items):
    # (op_seq, table, row_id, kind, changed_columns, attempts)
    return [(i + 1, "tasks", row, kind, changed, attempts) for i, (row, kind, changed, attempts) in enumerate(items)]


def test_insert_then_updates_is_one_insert():
    net = coalesce(ops(("a", "insert", None, 0), ("a", "update", '["title"]', 0), ("a", "update", '["status"]', 0)))
    assert [(n.kind, n.op_seqs) for n in net] == [("insert", [1, 2, 3])]


def test_updates_merge_changed_columns():
    net = coalesce(ops(("a", "update", '["title"]', 0), ("b", "update", '["title"]', 0),
                       ("a", "update", '["status"]', 0)))
    assert [(n.row_id, n.kind, n.columns, n.op_seqs) for n in net] == [
        ("a", "update", {"title", "status"}, [1, 3]), ("b", "update", {"title"}, [2])]


def test_insert_then_delete_never_sent_is_dropped():
    net = coalesce(ops(("a", "insert", None, 0), ("a", "update", '["title"]', 0), ("a", "delete", None, 0)))
    assert [(n.kind, n.op_seqs) for n in net] == [("noop", [1, 2, 3])]


def test_insert_sent_before_then_delete_becomes_a_tombstone():
    # The insert may have landed (lost response): the delete must still reach the server.
    net = coalesce(ops(("a", "insert", None, 1), ("a", "delete", None, 0)))
    assert [(n.kind, n.op_seqs) for n in net] == [("delete", [1, 2])]


def test_update_then_delete_is_a_delete_and_never_merges_across_a_reinsert():
    net = coalesce(ops(("a", "update", '["title"]', 0), ("a", "delete", None, 0), ("a", "insert", None, 0),
                       ("a", "update", '["title"]', 0)))
    assert [(n.kind, n.op_seqs) for n in net] == [("delete", [1, 2]), ("insert", [3, 4])]


@pytest.mark.parametrize("status,code,kind", [
    (401, "PGRST303", Kind.AUTH), (401, "42501", Kind.AUTH), (403, "42501", Kind.REJECTED),
    (400, "23514", Kind.REJECTED), (400, "22P02", Kind.REJECTED), (400, "P0001", Kind.REJECTED),
    (400, "23502", Kind.REJECTED), (409, "23505", Kind.DUPLICATE), (409, "23503", Kind.FK_MISSING),
    (400, "PGRST204", Kind.SCHEMA), (404, "PGRST205", Kind.SCHEMA), (503, "PGRST001", Kind.TRANSIENT),
    (429, None, Kind.TRANSIENT), (504, None, Kind.TRANSIENT), (500, "40P01", Kind.TRANSIENT),
    (500, "XX000", Kind.SERVER), (413, None, Kind.TOO_LARGE), (503, "08006", Kind.TRANSIENT),
])
def test_classification(status, code, kind):
    assert classify(status, code) is kind
