"""Strength rules of the Atlas: decay with a fixed clock, reinforcement, glyphs, "the reply uses it"."""

import pytest

from agent.memory.atlas import effective_strength, reinforce_node, strength_glyph
from agent.memory.text import reply_uses_node
from local_schema.models import MemoryNode
from local_schema.timestamps import format_timestamp
from tests.agent.conftest import NOW, ts


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
    assert reinforce_node(n, NOW) == (0.7, 0.75)
    assert n.strength == 0.75 and n.last_referenced_at == format_timestamp(NOW)
    assert effective_strength(n, NOW) == 0.75
    top = node(0.98)
    reinforce_node(top, NOW)
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
