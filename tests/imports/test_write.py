"""Importing into a real database: trees, the active path, ids, idempotence, one transaction per
conversation (a cut-off file, a refused row, Cancel), and what is stored of odd content."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlmodel import select

from agent.chat.threads import delete_thread
from agent.chat.turn import MESSAGE_LIMIT
from agent.imports import ids, run
from agent.imports.model import ImportFailed
from agent.imports.run import ImportSummary, import_export
from agent.jobs import JobCancelled, JobContext
from local_schema.models import Conversation, Message
from local_schema.timestamps import to_micros
from tests.imports.conftest import FIXTURES

CHATGPT_JSON = FIXTURES / "chatgpt_conversations.json"
CLAUDE_JSON = FIXTURES / "claude_conversations.json"


def _import(db, path, source="chatgpt", account=None, ctx=None):
    return import_export(db, path, source, ctx or JobContext(), account_id=account)


def _threads(db) -> dict[str, Conversation]:
    with db.session() as s:
        return {c.title: c for c in s.exec(select(Conversation)).all()}


def _messages(db, conversation_id) -> dict[str, Message]:
    with db.session() as s:
        return {m.content: m for m in s.exec(select(Message).where(Message.conversation_id == conversation_id)).all()}


def _active_path(db, conversation: Conversation) -> list[str]:
    """The contents from the root to the thread's active leaf, walking parent_id."""
    with db.session() as s:
        by_id = {m.id: m for m in s.exec(select(Message).where(Message.conversation_id == conversation.id)).all()}
    path, at = [], conversation.active_leaf_id
    while at is not None:
        path.append(by_id[at].content)
        at = by_id[at].parent_id
    return path[::-1]


def _counts(db) -> tuple[int, int, int, int]:
    with db.engine.connect() as conn:
        return tuple(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                     for t in ("conversations", "messages", "sync_outbox", "sync_meta"))


def test_a_chatgpt_export_becomes_trees_whose_active_path_is_the_current_node_chain(db):
    summary = _import(db, CHATGPT_JSON)
    assert (summary.threads_added, summary.messages_added, summary.messages_skipped) == (3, 14, 5)
    trip = _threads(db)["Trip to Lisbon"]
    assert _active_path(db, trip) == ["Plan three days in Lisbon.", "Day 1: Belém.\n\nDay 2: Sintra.",
                                      "And day 3?", "Day 3: Cascais."]
    messages = _messages(db, trip.id)
    assert len(messages) == 7  # every branch: the other answer, the edited question and its answer
    first, other = messages["Plan three days in Lisbon."], messages["Plan two days in Lisbon."]
    assert first.parent_id is None and other.parent_id is None  # the hidden nodes above them are gone
    assert messages["Day 1: Alfama."].parent_id == first.id == messages["Day 1: Belém.\n\nDay 2: Sintra."].parent_id
    assert messages["Day 1: Alfama."].model == "gpt-4" and messages["Day 3: Cascais."].model == "gpt-4o"
    assert first.model is None and first.agent_connection_id is None
    assert first.created_at == "2023-11-14T22:13:30.000000+00:00" and trip.created_at == "2023-11-14T22:13:20.000000+00:00"
    for message in messages.values():  # a reply always follows what it answers
        if message.parent_id:
            parent = next(m for m in messages.values() if m.id == message.parent_id)
            assert message.seq > parent.seq
    assert messages["And day 3?"].seq == messages["Day 1: Belém.\n\nDay 2: Sintra."].seq + 1  # no time of its own


def test_agent_tree_reads_the_imported_tree_as_the_export_shows_it(db):
    from agent.chat import tree

    _import(db, CHATGPT_JSON)
    trip = _threads(db)["Trip to Lisbon"]
    with db.session() as s:
        path = tree.active_path_in(s, trip.id)
        assert [m.content for m in path] == _active_path(db, trip)
        answers = tree.siblings_in(s, path[1])  # the regenerated answers, oldest first
        assert [m.content for m in answers] == ["Day 1: Alfama.", "Day 1: Belém.\n\nDay 2: Sintra."]
        firsts = tree.siblings_in(s, path[0])  # the edited first question is a sibling at the top
        assert [m.content for m in firsts] == ["Plan three days in Lisbon.", "Plan two days in Lisbon."]
    leaf = tree.switch(db, trip.id, _messages(db, trip.id)["Plan two days in Lisbon."].id)
    with db.session() as s:
        assert [m.content for m in tree.active_path_in(s, trip.id)] == ["Plan two days in Lisbon.", "Day 1: Baixa."]
        assert s.get(Message, leaf).content == "Day 1: Baixa."


def test_claude_exports_with_and_without_parent_uuids(db, tmp_path):
    archive = tmp_path / "claude-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(CLAUDE_JSON, "conversations.json")
        z.writestr("projects.json", "[]")
        z.writestr("users.json", "[]")
    summary = _import(db, archive, "claude")
    assert (summary.threads_added, summary.messages_added, summary.messages_skipped) == (2, 9, 1)
    threads = _threads(db)
    assert _active_path(db, threads["Poem about rain"]) == [
        "Write a poem about rain.\n\n[attachment: notes.txt]\n```\nrain, grey, umbrella\n```\n\n[file omitted: photo.png]",
        "Drops on the pane,\n\ngrey again.\n\n[tool use: web_search]", "Shorter, please.", "Rain."]
    colours = threads["Name a colour."]
    assert _active_path(db, colours) == ["Name a colour.", "Green.", "Why green?"]
    messages = _messages(db, colours.id)
    assert messages["Blue."].parent_id == messages["Green."].parent_id == messages["Name a colour."].id
    assert [m.role for m in messages.values()].count("user") == 3


def test_importing_the_same_file_again_adds_nothing(db, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(CHATGPT_JSON, "conversations.json")
    _import(db, CHATGPT_JSON)
    before = _counts(db)
    for path in (CHATGPT_JSON, archive):  # the ZIP holds the same conversations: the same rows
        summary = _import(db, path)
        assert (summary.threads_added, summary.threads_unchanged, summary.messages_added) == (0, 3, 0)
        assert summary.messages_skipped == 0
        assert _counts(db) == before  # no row, no outbox entry, no record


def test_a_later_export_adds_only_what_is_new_and_moves_the_active_leaf(db, tmp_path):
    _import(db, CHATGPT_JSON)
    trip = _threads(db)["Trip to Lisbon"]
    with db.write() as s:
        s.get(Conversation, trip.id).title = "Lisbon (renamed here)"
    items = json.loads(CHATGPT_JSON.read_text())
    mapping = items[0]["mapping"]
    mapping["a2"]["children"] = ["u3"]
    mapping["u3"] = {"id": "u3", "parent": "a2", "children": [], "message": {
        "id": "u3", "author": {"role": "user"}, "create_time": 1700000100.0,
        "content": {"content_type": "text", "parts": ["Thanks!"]}}}
    items[0]["current_node"] = "u3"
    later = tmp_path / "later.json"
    later.write_text(json.dumps(items))
    summary = _import(db, later)
    assert (summary.threads_added, summary.threads_updated, summary.threads_unchanged) == (0, 1, 2)
    assert summary.messages_added == 1
    trip = _threads(db)["Lisbon (renamed here)"]  # the title given here stays
    assert _active_path(db, trip)[-2:] == ["Day 3: Cascais.", "Thanks!"]


def test_a_thread_deleted_after_its_import_stays_deleted(db):
    _import(db, CHATGPT_JSON)
    trip = _threads(db)["Trip to Lisbon"]
    delete_thread(db, trip.id)
    summary = _import(db, CHATGPT_JSON)
    assert (summary.threads_added, summary.threads_skipped, summary.threads_unchanged) == (0, 1, 2)
    assert "Trip to Lisbon" not in _threads(db)
    assert "1 conversation skipped (deleted here" in summary.summary()


def test_a_branch_deleted_here_comes_back_only_with_a_changed_export(db, tmp_path):
    _import(db, CHATGPT_JSON)
    trip = _threads(db)["Trip to Lisbon"]
    messages = _messages(db, trip.id)
    with db.write() as s:  # the person deleted the edited question and its answer here
        for content in ("Day 1: Baixa.", "Plan two days in Lisbon."):
            s.delete(s.get(Message, messages[content].id))
    items = json.loads(CHATGPT_JSON.read_text())
    items[0]["mapping"]["a1e"]["children"] = ["u9"]
    items[0]["mapping"]["u9"] = {"id": "u9", "parent": "a1e", "children": [], "message": {
        "author": {"role": "user"}, "create_time": 1700000200.0, "content": {"content_type": "text", "parts": ["Later"]}}}
    later = tmp_path / "later.json"
    later.write_text(json.dumps(items))
    assert _import(db, CHATGPT_JSON).threads_unchanged == 3  # the same export brings nothing back
    assert "Day 1: Baixa." not in _messages(db, trip.id)
    summary = _import(db, later)
    # a changed export is looked at message by message: messages are not remembered one by one, so
    # the deleted ones are added again with the new one under them (signed in, the next sync finds
    # them deleted on the server and deletes them here again: tests/sync/test_import_sync.py)
    assert (summary.threads_updated, summary.messages_added) == (1, 3)
    messages = _messages(db, trip.id)
    assert messages["Later"].parent_id == messages["Day 1: Baixa."].id


def test_ids_are_deterministic_per_account_and_differ_between_people(tmp_path):
    from local_schema.database import open_database

    def conversation_ids(name, account):
        database = open_database(tmp_path / name / "db.sqlite3")
        try:
            _import(database, CHATGPT_JSON, account=account)
            with database.session() as s:
                return sorted(s.exec(select(Conversation.id)).all()), sorted(s.exec(select(Message.id)).all())
        finally:
            database.close()

    alice = "11111111-1111-4111-8111-111111111111"
    laptop, desktop = conversation_ids("laptop", alice), conversation_ids("desktop", alice)
    assert laptop == desktop  # one person, two devices: the same rows, recognised as one by sync
    bob = conversation_ids("bob", "22222222-2222-4222-8222-222222222222")
    assert not set(bob[0]) & set(laptop[0]) and not set(bob[1]) & set(laptop[1])
    out1, out2 = conversation_ids("out1", None), conversation_ids("out2", None)  # signed out: a random salt
    assert not set(out1[0]) & set(out2[0]) and not set(out1[0]) & set(laptop[0])


def test_a_signed_out_import_claimed_by_an_account_is_still_recognised(tmp_path):
    from local_schema.database import open_database
    from sync.accounts import _claim_signed_out_rows

    account = "33333333-3333-4333-8333-333333333333"
    path = tmp_path / "local.sqlite3"
    with open_database(path) as database:
        _import(database, CHATGPT_JSON)  # signed out: ids from this database's salt
    _claim_signed_out_rows(path, account)  # what the first sign-in does to the file
    with open_database(path) as database:
        before = _counts(database)
        summary = _import(database, CHATGPT_JSON, account=account)
        assert (summary.threads_added, summary.threads_unchanged) == (0, 3)
        assert _counts(database) == before


def test_a_truncated_file_keeps_the_conversations_before_the_cut_and_a_rerun_adds_the_rest(db, tmp_path):
    text = CHATGPT_JSON.read_text()
    cut = tmp_path / "conversations.json"
    cut.write_text(text[:text.index('"conv-untimed"') + 40])
    with pytest.raises(ImportFailed) as caught:
        _import(db, cut)
    message = str(caught.value)
    assert message.startswith("conversations.json is cut off or malformed in conversation 3 (read up to byte ")
    assert message.endswith("The 2 conversations before it are imported; once the file is fixed, importing it "
                            "again adds only the rest")
    assert sorted(_threads(db)) == ["Content types", "Trip to Lisbon"]  # nothing of the third
    cut.write_text(text)  # fixed
    summary = _import(db, cut)
    assert (summary.threads_added, summary.threads_unchanged, summary.messages_added) == (1, 2, 2)


def test_a_conversation_the_database_refuses_is_not_half_written(db):
    with db.engine.begin() as conn:  # a real refusal in the middle of the first conversation's rows
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.content = 'Day 3: Cascais.' "
                             "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END")
    with pytest.raises(ImportFailed, match="chatgpt_conversations.json: conversation 1 “Trip to Lisbon” could not "
                                           "be stored .*refused for the test.*nothing of it was written. Nothing was "
                                           "imported$"):
        _import(db, CHATGPT_JSON)
    assert _counts(db)[:3] == (0, 0, 0)


def test_cancel_between_conversations_keeps_those_stored(db, monkeypatch):
    monkeypatch.setattr(run, "PROGRESS_EVERY", 0)
    summary = ImportSummary("chatgpt", CHATGPT_JSON.name)
    ctx = JobContext()
    ctx.on_progress = lambda *_: ctx.cancel.cancel() if summary.conversations_read == 1 else None
    with pytest.raises(JobCancelled):
        import_export(db, CHATGPT_JSON, "chatgpt", ctx, summary=summary)
    assert list(_threads(db)) == ["Trip to Lisbon"] and summary.threads_added == 1
    assert _import(db, CHATGPT_JSON).threads_added == 2  # again: the rest


def test_a_huge_message_and_nul_are_stored_within_what_the_server_takes(db, tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"id": "big", "title": "Big\u0000 one", "mapping": {
        "q": {"id": "q", "parent": None, "message": {"author": {"role": "user"}, "create_time": 1700000000,
                                                      "content": {"content_type": "text", "parts": ["a\u0000b\ud83d"]}}},
        "r": {"id": "r", "parent": "q", "message": {"author": {"role": "assistant"}, "create_time": 1700000001,
                                                     "content": {"content_type": "text", "parts": ["z" * (MESSAGE_LIMIT * 2)]}}},
    }}]))
    summary = _import(db, path)
    assert summary.messages_truncated == 1 and "1 message cut to the size limit" in summary.summary()
    thread = _threads(db)["Big one"]
    messages = sorted(_messages(db, thread.id).values(), key=lambda m: m.seq)
    # NUL dropped; the lone surrogate replaced (yajl writes "?", agent.storable.clean_text U+FFFD)
    assert messages[0].content in ("ab?", "ab\ufffd")
    assert len(messages[1].content) <= MESSAGE_LIMIT and messages[1].content.endswith(
        f"the original has {MESSAGE_LIMIT * 2:,} characters; a message keeps at most {MESSAGE_LIMIT:,}]")


def test_a_non_export_is_a_clear_error_and_writes_nothing(db):
    with pytest.raises(ImportFailed, match="not_an_export.json is not a conversations export"):
        _import(db, FIXTURES / "not_an_export.json")
    with pytest.raises(ImportFailed, match="has no `mapping`.*use `claude`.*Nothing was imported"):
        _import(db, CLAUDE_JSON, "chatgpt")
    assert _counts(db)[:3] == (0, 0, 0)


def test_imported_rows_are_captured_for_sync(db):
    _import(db, CLAUDE_JSON, "claude")
    with db.engine.connect() as conn:
        queued = dict(conn.exec_driver_sql("SELECT table_name, count(*) FROM sync_outbox WHERE kind = 'insert' "
                                           "GROUP BY table_name").fetchall())
    assert queued == {"conversations": 2, "messages": 9}


def test_times_and_order_of_untimed_messages(db):
    _import(db, CHATGPT_JSON)
    untimed = _threads(db)["No times anywhere in this one, and no title either."]
    messages = sorted(_messages(db, untimed.id).values(), key=lambda m: m.seq)
    assert [m.content for m in messages] == ["No times anywhere in this one, and no title either.", "Understood."]
    assert messages[0].created_at == messages[1].created_at == untimed.created_at
    assert to_micros(messages[1].created_at) < messages[1].seq  # one microsecond after its question


def test_the_salt_is_local_and_made_once(db):
    _import(db, CLAUDE_JSON, "claude")
    with db.session() as s:
        salt = ids.database_salt_in(s, create=False)
    assert salt and len(salt) == 32
    _import(db, CHATGPT_JSON)
    with db.session() as s:
        assert ids.database_salt_in(s, create=False) == salt
