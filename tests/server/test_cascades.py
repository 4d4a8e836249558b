"""Tombstone cascades: each cascaded write is a real update with its own new updated_at, so it reaches
every device through the ordinary pull."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.server.rows import get, make, patch


def test_tombstoned_conversation_tombstones_its_messages(alice):
    thread = make(alice, "conversations")
    # Siblings: a message's tombstone takes the messages below it (test_message_trees.py), not these.
    messages = [make(alice, "messages", conversation_id=thread["id"], content=f"m{i}", parent_id=None)
                for i in range(3)]
    already_gone = patch(alice, "messages", messages[0]["id"], deleted_at="now")
    other_thread_message = make(alice, "messages")

    tombstoned = patch(alice, "conversations", thread["id"], deleted_at="now")

    cascaded = [get(alice, "messages", m["id"]) for m in messages[1:]]
    for message in cascaded:
        assert message["deleted_at"] == message["updated_at"] > tombstoned["updated_at"]
    assert len({m["updated_at"] for m in cascaded}) == 2  # each its own stamp
    assert get(alice, "messages", messages[0]["id"]) == already_gone  # not restamped
    assert get(alice, "messages", other_thread_message["id"]) == other_thread_message


def test_tombstoned_connection_clears_references(alice):
    connection = make(alice, "agent_connections")
    other = make(alice, "agent_connections", name="other")
    thread = make(alice, "conversations", agent_connection_id=connection["id"])
    task = make(alice, "tasks", connection_id=connection["id"])
    report = make(alice, "mirror_reports", agent_connection_id=connection["id"])
    untouched = make(alice, "tasks", connection_id=other["id"])

    tombstoned = patch(alice, "agent_connections", connection["id"], deleted_at="now")

    after = {"conversations": get(alice, "conversations", thread["id"]), "tasks": get(alice, "tasks", task["id"]),
             "mirror_reports": get(alice, "mirror_reports", report["id"])}
    assert after["conversations"]["agent_connection_id"] is None
    assert after["tasks"]["connection_id"] is None
    assert after["mirror_reports"]["agent_connection_id"] is None
    stamps = [row["updated_at"] for row in after.values()]
    assert len(set(stamps)) == 3 and min(stamps) > tombstoned["updated_at"]
    assert all(row["deleted_at"] is None for row in after.values())  # only the reference goes
    assert get(alice, "tasks", untouched["id"]) == untouched


def test_repeated_tombstone_does_not_cascade_again(alice):
    thread = make(alice, "conversations")
    message = make(alice, "messages", conversation_id=thread["id"])
    patch(alice, "conversations", thread["id"], deleted_at="now")
    cascaded = get(alice, "messages", message["id"])
    patch(alice, "conversations", thread["id"], deleted_at="now", title="renamed after deletion")
    assert get(alice, "messages", message["id"]) == cascaded


def test_late_message_into_a_deleted_conversation_is_refused(alice):
    """A device that was offline pushes a message into a thread deleted elsewhere: 23503, not an orphan."""
    thread = make(alice, "conversations")
    patch(alice, "conversations", thread["id"], deleted_at="now")
    with pytest.raises(errors.ForeignKeyViolation, match="is deleted"):
        make(alice, "messages", conversation_id=thread["id"])
    # Its tombstone may still arrive (create + delete while offline).
    assert make(alice, "messages", conversation_id=thread["id"], deleted_at="now")["deleted_at"] is not None


def test_late_reference_to_a_deleted_connection_is_cleared(alice):
    connection = make(alice, "agent_connections")
    patch(alice, "agent_connections", connection["id"], deleted_at="now")
    assert make(alice, "conversations", agent_connection_id=connection["id"])["agent_connection_id"] is None
    assert make(alice, "tasks", connection_id=connection["id"])["connection_id"] is None
    assert make(alice, "mirror_reports", agent_connection_id=connection["id"])["agent_connection_id"] is None
    task = make(alice, "tasks")
    assert patch(alice, "tasks", task["id"], connection_id=connection["id"]) == task  # a no-op
