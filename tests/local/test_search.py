"""Full-text search over messages: kept current by triggers, robust to whatever the user types."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from local_schema.models import Conversation, Message
from local_schema.search import (
    MARK_END,
    MARK_START,
    build_match_expression,
    rebuild_search_index,
    search_messages,
)


@pytest.fixture
def thread(db):
    with db.session() as session:
        conv = Conversation(title="t")
        session.add(conv)
        session.flush()
        messages = [
            Message(conversation_id=conv.id, role="user", content="How do I brew green tea properly?"),
            Message(
                conversation_id=conv.id,
                role="assistant",
                content="Green tea likes water at 80 °C, not boiling.",
            ),
            Message(conversation_id=conv.id, role="user", content="And coffee? Café crème, s'il vous plaît."),
        ]
        session.add_all(messages)
        session.commit()
    return conv, messages


def _ids(db, query, **kwargs):
    with db.session() as session:
        return [hit.message_id for hit in search_messages(session, query, **kwargs)]


def test_hits_carry_ids_role_snippet_and_time(db, thread):
    conv, messages = thread
    with db.session() as session:
        hits = search_messages(session, "boiling")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.message_id, hit.conversation_id, hit.role) == (messages[1].id, conv.id, "assistant")
    assert hit.created_at == messages[1].created_at
    assert f"{MARK_START}boiling{MARK_END}" in hit.snippet
    assert "<b>boiling</b>" in hit.snippet_html()
    assert hit.snippet_plain() == messages[1].content


def test_all_words_must_match_prefixes_and_diacritics(db, thread):
    _conv, messages = thread
    assert set(_ids(db, "green tea")) == {messages[0].id, messages[1].id}
    assert _ids(db, "green brew") == [messages[0].id]
    assert _ids(db, "bre") == [messages[0].id]  # the last word is a prefix: search as you type
    assert _ids(db, "bre green") == []  # earlier words are whole words
    assert _ids(db, "cafe creme") == [messages[2].id]  # diacritics folded
    assert _ids(db, "green coffee") == []


def test_ranked_best_first_and_limited(db, thread):
    conv, _messages = thread
    with db.session() as session:
        best = Message(conversation_id=conv.id, role="user", content="tea tea tea tea")
        session.add(best)
        session.commit()
    assert _ids(db, "tea")[0] == best.id
    assert len(_ids(db, "tea", limit=2)) == 2
    assert _ids(db, "tea", limit=0) == []


@pytest.mark.parametrize(
    "query",
    ['foo"', "AND(", '"', "NEAR(a b", "tea OR", "*", "-", "^tea", "col:tea", ")(", "tea\x00", "'; DROP"],
)
def test_hostile_input_never_raises(db, thread, query):
    assert isinstance(_ids(db, query), list)


def test_operators_are_searched_as_words_not_syntax(db, thread):
    _conv, messages = thread
    assert _ids(db, "tea OR") == []  # "OR" is a word here, and no message contains it
    assert set(_ids(db, '"green" tea')) == {messages[0].id, messages[1].id}
    assert _ids(db, "80 °C") == [messages[1].id]


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "!!! ??"])
def test_empty_queries_return_nothing(db, thread, query):
    assert _ids(db, query) == []
    assert build_match_expression(query) is None


def test_index_follows_update_and_delete(db, thread, db_path):
    _conv, messages = thread
    with db.session() as session:
        session.execute(
            text("UPDATE messages SET content = 'now about oolong' WHERE id = :id"), {"id": messages[0].id}
        )
        session.commit()
    assert _ids(db, "brew") == []
    assert _ids(db, "oolong") == [messages[0].id]
    raw = sqlite3.connect(db_path)  # raw SQL keeps it current too
    raw.execute("DELETE FROM messages WHERE id = ?", (messages[0].id,))
    raw.execute(
        "INSERT INTO messages (conversation_id, role, content) VALUES (?, 'user', 'oolong again')",
        (_conv.id,),
    )
    raw.commit()
    raw.close()
    assert len(_ids(db, "oolong")) == 1 and _ids(db, "oolong") != [messages[0].id]
    with db.session() as session:
        session.execute(
            text("DELETE FROM conversations")
        )  # cascade removes the messages and their index entries
        session.commit()
        assert search_messages(session, "tea") == []
        # FTS5's own consistency check between the index and the messages table.
        session.execute(text("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"))


def test_rebuild_after_vacuum(db, thread, db_path):
    _conv, messages = thread
    raw = sqlite3.connect(db_path)
    raw.execute("VACUUM")
    raw.close()
    with db.session() as session:
        rebuild_search_index(session)
        session.commit()
        session.execute(text("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"))
    assert _ids(db, "boiling") == [messages[1].id]
