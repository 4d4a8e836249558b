import pytest
from sqlalchemy import text
from sqlmodel import select

from agent.memory import (
    PromoteError,
    effective_strength,
    promote_message,
    reinforce,
    reply_uses_node,
    strength_glyph,
)
from local_schema.models import MemoryNode
from local_schema.timestamps import format_timestamp
from tests.agent.conftest import NOW, add_message, add_thread, ts


def node(strength=0.8, created_days=0.0, referenced_days=None):
    return MemoryNode(label="x", strength=strength, created_at=ts(created_days),
                      last_referenced_at=None if referenced_days is None else ts(referenced_days))


@pytest.mark.parametrize("days, expected", [
    (0, 0.8), (13.99, 0.8), (14, 0.75), (27.9, 0.75), (28, 0.7), (70, 0.55),
])
def test_decay_is_005_per_full_14_days_since_creation(days, expected):
    assert effective_strength(node(0.8, created_days=days), NOW) == expected


def test_last_reference_wins_over_creation_time():
    assert effective_strength(node(0.8, created_days=100, referenced_days=15), NOW) == 0.75


def test_floor_cap_future_and_float4_noise():
    assert effective_strength(node(0.1, created_days=365), NOW) == 0.0
    assert effective_strength(node(1.7, created_days=0), NOW) == 1.0
    assert effective_strength(node(0.8, created_days=-30), NOW) == 0.8  # clock skew: no decay
    assert effective_strength(node(0.800000011920929, created_days=14), NOW) == 0.75  # real -> double


def test_reinforce_adds_to_the_effective_strength_caps_and_stamps():
    n = node(0.8, created_days=28)  # effective 0.70
    reinforce(n, NOW)
    assert n.strength == 0.75 and n.last_referenced_at == format_timestamp(NOW)
    assert effective_strength(n, NOW) == 0.75
    top = node(0.98)
    reinforce(top, NOW)
    assert top.strength == 1.0


def test_glyphs():
    assert [strength_glyph(s) for s in (0.75, 0.74, 0.4, 0.39)] == ["✶", "◌", "◌", "·"]


@pytest.mark.parametrize("reply, label, used", [
    ("Here is a Python snippet for your data pipeline.", "Prefers Python for data work", True),
    ("Here is a Python snippet.", "Prefers Python for data work", False),  # 1 of 4 words
    ("Nice to meet you, Ana!", "Name is Ana", False),  # needs 2 of {name, ana}
    ("Your name is Ana, right?", "Name is Ana", True),
    ("Berlin is lovely in May.", "Lives in Berlin", False),  # 1 of {live, berlin}: not enough
    ("You live in Berlin, so…", "Lives in Berlin", True),  # plural/3rd-person s ignored
    ("anything at all", "the user is a", False),  # no content words
    ("Rust.", "Rust", True),  # a one-word label needs its one word
    ("RUST and more", "rust", True),  # case-insensitive
])
def test_reply_uses_node(reply, label, used):
    assert reply_uses_node(reply, label) is used


def test_promote_message_makes_a_fact_node(db):
    with db.session() as session:
        thread = add_thread(session)
        msg = add_message(session, thread, "assistant", "  I live in Lisbon.\n ")
    promoted = promote_message(db, msg.id)
    with db.session() as session:
        stored = session.get(MemoryNode, promoted.id)
        assert (stored.label, stored.category, stored.strength, stored.source) == (
            "I live in Lisbon.", "fact", 0.5, f"conversation:{thread.id}")
        kinds = session.execute(text("SELECT kind FROM sync_outbox WHERE row_id = :i"), {"i": promoted.id}).all()
    assert [k for (k,) in kinds] == ["insert"]  # it will sync


def test_promote_rejects_blank_and_missing(db):
    with db.session() as session:
        thread = add_thread(session)
        blank = add_message(session, thread, "user", "   ")
    with pytest.raises(PromoteError, match="empty message"):
        promote_message(db, blank.id)
    with pytest.raises(PromoteError, match="no longer exists"):
        promote_message(db, "00000000-0000-4000-8000-000000000000")
    with db.session() as session:
        assert session.exec(select(MemoryNode)).all() == []


def test_promoting_a_long_message_shortens_the_label_to_what_the_server_accepts(db):
    # memory_nodes.label is capped at 2000 characters on the server; a longer label would be a row that
    # sync can never push. The node keeps the start of the message, cut at a word, with an ellipsis.
    with db.session() as session:
        thread = add_thread(session)
        ids = [add_message(session, thread, role, text).id for role, text in (
            ("assistant", " ".join(f"word{i}" for i in range(1000))), ("user", "x" * 5000), ("user", "y" * 2000))]
    long_text = " ".join(f"word{i}" for i in range(1000))  # ~6,900 characters
    stored = promote_message(db, ids[0])
    assert len(stored.label) <= 2000 and stored.label.endswith("…")
    assert long_text.startswith(stored.label[:-1]) and stored.label[-2] != " "
    assert len(stored.label) > 1800  # shortened, not gutted

    hard = promote_message(db, ids[1])  # "x" * 5000: no word boundary near the limit, cut hard
    assert len(hard.label) == 2000 and hard.label == "x" * 1999 + "…"

    assert promote_message(db, ids[2]).label == "y" * 2000
