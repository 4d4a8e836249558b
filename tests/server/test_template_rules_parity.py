"""agent.templates.payload mirrors the server's template rules exactly: PostgreSQL's own jsonb size, the
1,000,000-byte limit to the byte, and the shape check; and the new skills.source column's limit."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import errors

from agent.templates.payload import PAYLOAD_BYTES_LIMIT, jsonb_text_size, payload_problems, template_problems
from tests.server.rows import make
from tests.server.test_constraints import BAD

SAMPLES = [
    {"skills": [], "seed_memory": []},
    {"skills": [{"name": "Summarise", "description": None, "category": "writing",
                 "template_prompt": "Be brief.\n\t\"Quote\" \\ back\\slash \b\f\r \x01\x1f \x7f"}],
     "seed_memory": [{"label": "likes tea", "category": "preference", "strength": 0.8}]},
    {"skills": [{"name": "é ü 中文 emoji 🎉 \u2028 \ufeff", "template_prompt": "p"}],
     "seed_memory": [{"label": "ß", "strength": 1}]},
    {"skills": [], "seed_memory": [{"label": "small", "strength": s} for s in
                                   (0.1, 0.5, 1e-05, 1.5e-07, 0.0, -0.0, 1.0, 0.30000000000000004, 1)]},
    {"skills": [{"name": "n", "extra": {"nested": [1, 2.5, True, False, None, {"k": "v"}], "z": 1e16,
                                        "big": 123456789012345678901234567890, "neg": -3.25e-3}}],
     "seed_memory": [], "zzz": {"": "", "a b": []}},
]


def _server_size(conn, payload) -> int:
    # Sent exactly as push sends it (compact json.dumps), measured as the check measures it.
    return conn.execute("select octet_length(%s::jsonb::text)", [json.dumps(payload, separators=(",", ":"))]
                        ).fetchone()[0]


@pytest.mark.parametrize("payload", SAMPLES, ids=range(len(SAMPLES)))
def test_the_jsonb_size_is_postgresqls_own(server_db, payload):
    with psycopg.connect(server_db) as conn:
        assert jsonb_text_size(payload) == _server_size(conn, payload)


def _payload_of_size(size: int, char: str) -> dict:
    """A payload whose jsonb text is exactly `size` bytes, padded with `char` (1 to 4 UTF-8 bytes)."""
    base = {"skills": [{"name": "pad", "template_prompt": ""}], "seed_memory": []}
    width = len(char.encode())
    room = size - jsonb_text_size(base)
    fill = char * (room // width) + "x" * (room % width)
    return {"skills": [{"name": "pad", "template_prompt": fill}], "seed_memory": []}


@pytest.mark.parametrize("char", ["x", "é", "中"])
def test_the_size_limit_is_the_servers_to_the_byte(alice, server_db, char):
    at_limit = _payload_of_size(PAYLOAD_BYTES_LIMIT, char)
    over = _payload_of_size(PAYLOAD_BYTES_LIMIT + 1, char)
    with psycopg.connect(server_db) as conn:
        assert _server_size(conn, at_limit) == PAYLOAD_BYTES_LIMIT
        assert _server_size(conn, over) == PAYLOAD_BYTES_LIMIT + 1
    # The per-field limit of template_prompt (20,000) is ours for installs; here only the size matters.
    assert not [p for p in payload_problems(at_limit) if "bytes" in p]
    assert [p for p in payload_problems(over) if "bytes" in p]
    make(alice, "templates", payload=at_limit)
    with pytest.raises(errors.CheckViolation):
        make(alice, "templates", payload=over)


TEMPLATE_BAD = [values for table, values in BAD if table == "templates"]


@pytest.mark.parametrize("values", TEMPLATE_BAD, ids=range(len(TEMPLATE_BAD)))
def test_what_the_server_refuses_is_refused_here_first(alice, values):
    row = {"name": "Starter", "description": None, "category": None, **values}
    assert template_problems(row["name"], row["description"], row["category"], row["payload"])
    with pytest.raises(errors.CheckViolation):
        make(alice, "templates", **values)


@pytest.mark.parametrize("values", [{"name": "x" * 501}, {"description": "x" * 20_001}, {"category": "x" * 501}])
def test_column_limits_match(alice, values):
    row = {"name": "Starter", "description": None, "category": None, **values}
    assert template_problems(row["name"], row["description"], row["category"], {"skills": [], "seed_memory": []})
    with pytest.raises(errors.CheckViolation):
        make(alice, "templates", **values)
    at_limit = {key: value[:-1] for key, value in values.items()}
    row.update(at_limit)
    assert not template_problems(row["name"], row["description"], row["category"], {"skills": [], "seed_memory": []})
    make(alice, "templates", **at_limit)


@pytest.mark.parametrize("payload", SAMPLES[1:4], ids=range(3))
def test_what_passes_here_is_stored_by_the_server(alice, payload):
    assert payload_problems(payload) == []
    assert make(alice, "templates", payload=payload)["payload"] is not None


def test_text_the_server_cannot_store_is_refused_here(alice):
    payload = {"skills": [{"name": "nul \x00 inside"}], "seed_memory": []}
    assert any("NUL" in p for p in payload_problems(payload))
    with pytest.raises(psycopg.Error):
        make(alice, "templates", payload=payload)


def test_skills_source_is_bounded_like_memory_sources(alice):
    source = "template:" + "x" * 491
    assert make(alice, "skills", source=source)["source"] == source
    with pytest.raises(errors.CheckViolation):
        make(alice, "skills", source=source + "x")


@pytest.mark.parametrize(("skills", "memories"), [(200, 2000), (201, 0), (0, 2001)])
def test_the_item_caps_are_the_servers(alice, skills, memories):
    from agent.templates.payload import MEMORY_LIMIT, SKILLS_LIMIT

    payload = {"skills": [{"name": f"s{i}", "template_prompt": "p"} for i in range(skills)],
               "seed_memory": [{"label": f"m{i}", "strength": 0.5} for i in range(memories)]}
    over = skills > SKILLS_LIMIT or memories > MEMORY_LIMIT
    assert bool([p for p in payload_problems(payload) if "at most" in p]) == over
    if over:
        with pytest.raises(errors.CheckViolation, match="templates_payload_items"):
            make(alice, "templates", payload=payload)
    else:
        assert make(alice, "templates", payload=payload)["payload"] == payload
