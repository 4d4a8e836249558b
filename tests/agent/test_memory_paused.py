"""A paused fact (memory_nodes.paused) is kept and listed but never injected into a prompt, does not count
against the cap of 40, keeps its strength, and comes back as it was when resumed."""

from __future__ import annotations

from agent.memory.atlas import (
    MEMORY_LIMIT,
    PAUSED_GLYPH,
    AtlasError,
    add_node,
    get_node,
    list_nodes,
    set_paused,
)
from agent.prompt import memory_block
from tests.agent.conftest import NOW


def test_a_paused_fact_is_listed_but_never_injected(db):
    strong = add_node(db, "Has a tea allergy", "fact", 0.95, now=NOW).node
    add_node(db, "Prefers green tea", "preference", 0.9, now=NOW)
    set_paused(db, strong.id, True)
    block = memory_block(db, None, NOW)
    assert "tea allergy" not in block.block and "Prefers green tea" in block.block
    assert "tea allergy" not in block.system
    view = get_node(db, strong.id, NOW)
    assert (view.glyph, view.injected, view.effective) == (PAUSED_GLYPH, False, 0.95)
    assert view.to_json()["paused"] is True
    set_paused(db, strong.id, False)
    assert "tea allergy" in memory_block(db, None, NOW).block
    assert get_node(db, strong.id, NOW).glyph == "✶"


def test_paused_facts_leave_room_under_the_cap(db):
    ids = [add_node(db, f"Fact number {i}", "fact", 0.9 - i / 1000, now=NOW).node.id for i in range(MEMORY_LIMIT + 2)]
    assert len(memory_block(db, None, NOW).over_cap) == 2
    for node_id in ids[:2]:
        set_paused(db, node_id, True)
    block = memory_block(db, None, NOW)
    assert len(block.injected) == MEMORY_LIMIT and block.over_cap == []
    assert len(list_nodes(db, NOW)) == MEMORY_LIMIT + 2


def test_pausing_a_missing_fact_is_an_error(db):
    import pytest

    with pytest.raises(AtlasError, match="No memory node"):
        set_paused(db, "nope", True)
