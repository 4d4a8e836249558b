"""The Atlas API on a real SQLite mirror: add with the no-duplicates rule, reinforce, edit, delete
(tombstone capture), the memory block with the cap of 40, and promote drafts."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from agent.memory.atlas import (
    AtlasError,
    add_node,
    add_nodes,
    delete_node,
    edit_node,
    get_node,
    list_nodes,
    promote_draft,
    reinforce,
    reinforce_used,
)
from agent.prompt import memory_block
from local_schema.models import MemoryNode
from local_schema.timestamps import format_timestamp
from tests.agent.conftest import NOW, add_connection, add_message, add_skill, add_thread, ts


def outbox(db, node_id):
    with db.engine.connect() as conn:
        return [k for (k,) in conn.execute(text("SELECT kind FROM sync_outbox WHERE row_id = :i ORDER BY op_seq"),
                                           {"i": node_id})]


def count(db):
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM memory_nodes")).scalar()


def test_add_then_duplicate_reinforces_the_existing_node(db):
    first = add_node(db, "  Prefers   tea over coffee ", "preference", now=NOW)
    assert not first.reinforced and first.node.label == "Prefers tea over coffee"
    assert (first.node.category, first.node.strength, first.node.source) == ("preference", 0.5, "manual")
    later = NOW + timedelta(days=1)
    again = add_node(db, "prefers TEA over coffee!", "fact", 0.9, now=later)
    assert again.reinforced and again.node.id == first.node.id
    assert "reinforced it, 0.50 → 0.55" in again.message and "Prefers tea over coffee" in again.message
    view = get_node(db, first.node.id, later)
    assert view.node.strength == 0.55 and view.node.category == "preference"  # kept, not overwritten
    assert view.node.last_referenced_at == format_timestamp(later)
    assert count(db) == 1
    assert outbox(db, first.node.id) == ["insert", "update"]  # the reinforcement syncs


@pytest.mark.parametrize("first, second", [
    ("Prefers tea over coffee", "Prefers coffee over tea"),  # the order of the compared terms
    ("Prefers coffee over tea", "Prefers tea over coffee"),
    ("Trusts Ana more than Ben", "Trusts Ben more than Ana"),
    ("Runs 5 km on Sundays", "Runs 10 km on Sundays"),  # a number
    ("Works at the children's hospital in Porto", "Does not work at the children's hospital in Porto"),  # a negation
    ("Doesn't drink coffee", "Drinks coffee"),
])
def test_facts_that_differ_in_order_number_or_negation_are_both_kept(db, first, second):
    a = add_node(db, first, now=NOW)
    b = add_node(db, second, now=NOW)
    assert not a.reinforced and not b.reinforced, b.message
    assert b.message.startswith("Added to the Atlas") and a.node.id != b.node.id
    with db.session() as s:
        assert {n.label: n.strength for n in s.exec(select(MemoryNode))} == {first: 0.5, second: 0.5}  # none reinforced


def test_a_rephrasing_is_still_one_fact(db):
    first = add_node(db, "Prefers the window seat on long flights", now=NOW)
    for wording in ("prefers a window seat on long flights.", "**Prefers** window seat, on long flights"):
        assert add_node(db, wording, now=NOW).node.id == first.node.id
    assert add_node(db, "Doesn't eat meat", now=NOW).node.id == add_node(db, "does not eat meat", now=NOW).node.id
    assert count(db) == 2


def test_the_index_follows_every_write_to_memory_nodes(db):
    """The keys are kept in memory_dedup_keys (local migration v10): a relabel, a delete and a row written
    with raw SQL (as sync's pull does) are all seen by the next add."""
    node = add_node(db, "Likes jazz", now=NOW).node
    edit_node(db, node.id, label="Likes opera", now=NOW)
    assert not add_node(db, "likes JAZZ", now=NOW).reinforced  # the old wording is free again
    assert add_node(db, "likes opera!", now=NOW).node.id == node.id
    delete_node(db, node.id)
    assert not add_node(db, "Likes opera", now=NOW).reinforced
    with db.write() as s:
        s.execute(text("INSERT INTO memory_nodes (id, label, strength) VALUES ('pulled', 'Plays the cello', 0.6)"))
    assert add_node(db, "plays cello", now=NOW).node.id == "pulled"
    with db.engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT node_id, key FROM memory_dedup_keys")).all())
    with db.session() as s:
        live = {n.id for n in s.exec(select(MemoryNode))}
    assert set(keys) == live and keys["pulled"] == "plays cello"
    assert outbox(db, "pulled") == ["insert", "update"]  # the row and its reinforcement, nothing of the index
    with db.engine.connect() as conn:  # the index is local: never captured for sync
        assert conn.execute(text("SELECT count(*) FROM sync_outbox WHERE table_name NOT IN ('memory_nodes')")).scalar() == 0


def test_invalid_adds_write_nothing(db):
    for label, category, strength, source, match in [
        ("   ", "fact", 0.5, "manual", "needs a label"),
        ("x" * 2001, "fact", 0.5, "manual", "limit is 2,000"),
        ("ok", "c" * 501, 0.5, "manual", "category is too long"),
        ("ok", "fact", 1.5, "manual", "between 0 and 1"),
        ("ok", "fact", "lots", "manual", "must be a number"),
        ("ok", "fact", 0.5, "from a friend", "Unknown memory source"),
    ]:
        with pytest.raises(AtlasError, match=match):
            add_node(db, label, category, strength, source)
    assert count(db) == 0


def test_batch_add_checks_items_against_each_other_and_is_all_or_nothing(db):
    results = add_nodes(db, [{"label": "Likes jazz"}, {"label": "likes JAZZ", "strength": 0.9},
                             {"label": "Goal: run 10k", "category": "goal"}], source="manual", now=NOW)
    assert [r.reinforced for r in results] == [False, True, False]
    assert count(db) == 2
    with pytest.raises(AtlasError):
        add_nodes(db, [{"label": "fine"}, {"label": ""}])
    assert count(db) == 2


def test_reinforce_and_reinforce_used(db):
    a = add_node(db, "Lives in Lisbon Portugal", strength=0.8, now=NOW).node
    b = add_node(db, "Plays the cello", strength=0.98, now=NOW).node
    assert reinforce(db, [a.id, b.id, a.id, "00000000-0000-4000-8000-000000000000"], NOW) == [a.id, b.id]
    assert get_node(db, a.id, NOW).node.strength == 0.85 and get_node(db, b.id, NOW).node.strength == 1.0
    assert reinforce_used(db, [a.id, b.id], "You live in Lisbon, Portugal is lovely.", NOW) == [a.id]
    assert reinforce(db, [], NOW) == [] and reinforce_used(db, [a.id], "   ", NOW) == []


def test_edit_strength_resets_decay_and_label_cannot_duplicate(db):
    old = NOW - timedelta(days=30)
    node = add_node(db, "Likes tea", strength=0.8, now=old).node
    with db.write() as s:
        s.get(MemoryNode, node.id).created_at = format_timestamp(old)
    assert get_node(db, node.id, NOW).effective == 0.7  # two full 14-day periods
    edit_node(db, node.id, strength=0.8, now=NOW)
    assert get_node(db, node.id, NOW).effective == 0.8  # what the user set is what they see
    other = add_node(db, "Likes coffee", now=NOW).node
    with pytest.raises(AtlasError, match="would duplicate “Likes tea”"):
        edit_node(db, other.id, label="likes tea")
    edited = edit_node(db, other.id, label="Likes black coffee", category=" style ")
    assert (edited.label, edited.category) == ("Likes black coffee", "style")
    with pytest.raises(AtlasError, match="Nothing to change"):
        edit_node(db, other.id)
    with pytest.raises(AtlasError, match="between 0 and 1"):
        edit_node(db, other.id, strength=-0.1)
    assert get_node(db, other.id).node.label == "Likes black coffee"


def test_delete_is_a_captured_delete_and_then_gone(db):
    node = add_node(db, "Temporary fact", now=NOW).node
    assert delete_node(db, node.id).label == "Temporary fact"
    assert count(db) == 0 and outbox(db, node.id) == ["insert", "delete"]
    for action in (lambda: delete_node(db, node.id), lambda: edit_node(db, node.id, label="x"),
                   lambda: get_node(db, node.id)):
        with pytest.raises(AtlasError, match="No memory node"):
            action()
    # the same fact can be added again afterwards: a new node, the deleted one stays deleted
    assert add_node(db, "Temporary fact").node.id != node.id


def test_list_order_search_and_injected_flag(db, session):
    add_node(db, "weak", strength=0.3, now=NOW)
    add_node(db, "strong", strength=0.9, category="preference", now=NOW)
    add_node(db, "middle", strength=0.6, now=NOW)
    views = list_nodes(db, NOW)
    assert [(v.node.label, v.glyph, v.injected) for v in views] == [
        ("strong", "✶", True), ("middle", "◌", False), ("weak", "·", False)]
    assert [v.node.label for v in list_nodes(db, NOW, query="PREF")] == ["strong"]
    data = views[0].to_json()
    assert {"id", "label", "category", "strength", "source", "last_referenced_at", "created_at", "updated_at",
            "deleted_at", "user_id"} <= set(data)
    assert (data["effective_strength"], data["glyph"], data["injected"], data["source_title"]) == (
        0.9, "✶", True, "manual")


def test_memory_block_with_the_cap_of_40(db, session):
    conn = add_connection(session, system_prompt="You are Hermes.")
    add_skill(session, "Terse", "Answer in one line.")
    for i in range(45):
        add_node(db, f"fact number {i:02d}", strength=round(0.75 + i * 0.005, 3), now=NOW)
    add_node(db, "below the threshold", strength=0.74, now=NOW)
    block = memory_block(db, conn.id, NOW)
    lines = block.block.splitlines()
    assert lines[:2] == ["## Memory", "What you remember about the user, strongest first:"]
    assert lines[2] == "- fact number 44 (fact)" and lines[-1] == "- fact number 05 (fact)" and len(lines) == 42
    assert [v.node.label for v in block.over_cap] == [f"fact number {i:02d}" for i in (4, 3, 2, 1, 0)]
    assert block.system == "You are Hermes.\n\n" + block.block + "\n\n## Skills\n### Terse\nAnswer in one line."
    assert block.chars == len(block.block) and block.tokens == (len(block.block) + 3) // 4
    assert block.system_chars == len(block.system) and block.connection_name == "Test"
    assert sum(v.injected for v in list_nodes(db, NOW)) == 40
    with pytest.raises(AtlasError, match="No connection"):
        memory_block(db, "00000000-0000-4000-8000-000000000000", NOW)
    assert memory_block(db, None, NOW).system.startswith("## Memory")


def test_decay_moves_a_node_out_of_the_block_without_any_write(db):
    node = add_node(db, "Decays", strength=0.8, now=NOW).node
    with db.write() as s:
        s.get(MemoryNode, node.id).created_at = ts(0)
    assert [v.id for v in memory_block(db, None, NOW).injected] == [node.id]
    later = NOW + timedelta(days=28)
    assert memory_block(db, None, later).injected == [] and get_node(db, node.id, later).effective == 0.7
    assert outbox(db, node.id) == ["insert"]  # nothing was written by the passing of time


def test_promote_draft_strips_markdown_and_names_the_message(db, session):
    thread = add_thread(session)
    msg = add_message(session, thread, "assistant", "You prefer **green tea**.\n\n```\ncode\n```")
    draft = promote_draft(db, msg.id)
    assert (draft.label, draft.category, draft.shortened) == ("You prefer green tea. code", "fact", False)
    assert draft.source == f"conversation:{thread.id}#{msg.id}"
    result = add_node(db, draft.label, draft.category, source=draft.source)
    assert get_node(db, result.node.id).source_title == "Console · untitled"
    long = add_message(session, thread, "user", " ".join(f"word{i}" for i in range(1000)))
    assert promote_draft(db, long.id).shortened and len(promote_draft(db, long.id).label) <= 2000
    blank = add_message(session, thread, "user", "```\n```")
    with pytest.raises(AtlasError, match="empty message"):
        promote_draft(db, blank.id)
    with pytest.raises(AtlasError, match="no longer exists"):
        promote_draft(db, "00000000-0000-4000-8000-000000000000")
