"""The Atlas across two devices on the stand-in: edits arrive, deletes stay deleted on both, and two
devices reinforcing the same node at once end with the same strength (last writer wins)."""

from datetime import UTC, datetime, timedelta

from agent.memory.atlas import add_node, delete_node, edit_node, get_node, list_nodes, reinforce
from sync.parked import list_parked
from sync.pull import DELETED_ELSEWHERE
from tests.sync.helpers import server_rows

NOW = datetime.now(UTC)


def labels(dev):
    return [(v.node.label, v.node.category, round(v.effective, 2)) for v in list_nodes(dev.db, NOW)]


def test_an_atlas_edit_on_one_device_appears_on_the_other(devices):
    a, b = devices("a"), devices("b")
    node = add_node(a.db, "Prefers tea over coffee", "preference", 0.8, now=NOW).node
    a.sync()
    b.sync()
    assert labels(b) == [("Prefers tea over coffee", "preference", 0.8)]

    edit_node(b.db, node.id, label="Prefers green tea over coffee", category="style", strength=0.9, now=NOW)
    b.sync()
    a.sync()
    assert labels(a) == [("Prefers green tea over coffee", "style", 0.9)]
    # the no-duplicates rule sees the synced node: adding it again on A reinforces it, everywhere
    assert add_node(a.db, "prefers green tea over coffee", now=NOW).reinforced
    a.sync()
    b.sync()
    assert labels(b) == [("Prefers green tea over coffee", "style", 0.95)]
    assert a.rows("memory_nodes") == b.rows("memory_nodes")


def test_a_deleted_node_stays_deleted_on_both(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    node = add_node(a.db, "Temporary fact", now=NOW).node
    keep = add_node(a.db, "Lasting fact", now=NOW).node
    a.sync()
    b.sync()

    delete_node(a.db, node.id)
    reinforce(b.db, [node.id], NOW + timedelta(minutes=1))  # B used it before hearing of the delete
    a.sync()
    result = b.sync()
    assert result.parked == 1  # B's reinforcement is not pushed over the tombstone...
    assert [p.message for p in list_parked(b.db)] == [DELETED_ELSEWHERE]
    assert node.id not in b.rows("memory_nodes")  # ...and does not bring the node back
    [server] = [r for r in server_rows(supabase_stack, "memory_nodes", user[2]) if str(r["id"]) == node.id]
    assert server["deleted_at"] is not None

    for dev in (a, b, a, b):  # more cycles change nothing
        dev.sync()
    assert [v.id for v in list_nodes(a.db, NOW)] == [v.id for v in list_nodes(b.db, NOW)] == [keep.id]
    # adding the same fact again later makes a new node; the old one stays deleted
    again = add_node(b.db, "Temporary fact", now=NOW)
    assert not again.reinforced and again.node.id != node.id
    b.sync()
    a.sync()
    assert sorted(v.node.label for v in list_nodes(a.db, NOW)) == ["Lasting fact", "Temporary fact"]
    assert node.id not in a.rows("memory_nodes")


def test_concurrent_reinforcement_is_last_writer_wins(devices):
    """What the user sees: both devices end with the strength of the device that synced last; two
    reinforcements made at the same time on two devices count once."""
    a, b = devices("a"), devices("b")
    node = add_node(a.db, "Lives in Lisbon", strength=0.8, now=NOW).node
    a.sync()
    b.sync()

    reinforce(a.db, [node.id], NOW)  # 0.80 -> 0.85 on A
    reinforce(b.db, [node.id], NOW)  # 0.80 -> 0.85 on B, before either syncs
    a.sync()
    b.sync()
    a.sync()
    assert get_node(a.db, node.id, NOW).effective == get_node(b.db, node.id, NOW).effective == 0.85

    reinforce(a.db, [node.id], NOW)  # A: 0.90
    reinforce(b.db, [node.id], NOW)
    reinforce(b.db, [node.id], NOW)  # B: 0.95
    b.sync()  # B first ...
    a.sync()  # ... A last: A's 0.90 wins on both, B's second step is gone
    b.sync()
    assert get_node(a.db, node.id, NOW).effective == get_node(b.db, node.id, NOW).effective == 0.9
    assert a.rows("memory_nodes") == b.rows("memory_nodes")
