"""Reading exports: the streamed file and the conversion of one conversation, on hand-made exports."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from agent.chat.turn import MESSAGE_LIMIT
from agent.imports import chatgpt, claude, source
from agent.imports.model import ImportFailed
from agent.imports.source import ExportFile, detect_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
CHATGPT_JSON = FIXTURES / "chatgpt_conversations.json"
CLAUDE_JSON = FIXTURES / "claude_conversations.json"


def _conversations(path) -> list:
    with ExportFile(path) as export:
        return [c for _n, c in export.conversations()]


def _chatgpt(index: int):
    return chatgpt.convert(json.loads(CHATGPT_JSON.read_text())[index], index + 1)


def _claude(index: int):
    return claude.convert(json.loads(CLAUDE_JSON.read_text())[index], index + 1)


def _by_id(thread) -> dict:
    return {m.source_id: m for m in thread.messages}


def _path_to(thread, leaf: str) -> list[str]:
    by_id, path = _by_id(thread), []
    while leaf is not None:
        path.append(leaf)
        leaf = by_id[leaf].parent_source_id
    return path[::-1]


# --- ChatGPT --------------------------------------------------------------------------------------------
def test_chatgpt_keeps_every_branch_and_reattaches_past_system_nodes():
    thread = _chatgpt(0)
    by_id = _by_id(thread)
    assert list(by_id) == ["u1", "a1a", "a1b", "u2", "a2", "u1e", "a1e"]  # every parent before its children
    # root (no message), the system node and the hidden custom instructions are not imported; the two
    # first questions (an edit made a sibling) hang where the hidden nodes were: at the top.
    assert by_id["u1"].parent_source_id is None and by_id["u1e"].parent_source_id is None
    assert by_id["a1a"].parent_source_id == by_id["a1b"].parent_source_id == "u1"  # a regenerated answer
    assert thread.skipped == 2
    assert "I like trains" not in " ".join(m.content for m in thread.messages)
    assert thread.active_leaf == "a2"
    assert _path_to(thread, thread.active_leaf) == ["u1", "a1b", "u2", "a2"]  # the current_node chain


def test_chatgpt_roles_models_times_and_title():
    thread = _chatgpt(0)
    by_id = _by_id(thread)
    assert thread.title == "Trip to Lisbon"
    assert [by_id[i].role for i in ("u1", "a1a", "u2")] == ["user", "assistant", "user"]
    assert by_id["a1a"].model == "gpt-4" and by_id["a1b"].model == "gpt-4o"
    assert by_id["a2"].model == "gpt-4o"  # no model_slug of its own: the conversation's default
    assert by_id["u1"].model is None
    assert by_id["a1b"].content == "Day 1: Belém.\n\nDay 2: Sintra."  # text parts joined
    assert by_id["u1"].created_at.timestamp() == 1700000010.0
    # u2 has no create_time: the conversation's time, but never before the answer it follows
    assert by_id["u2"].created_at == by_id["a1b"].created_at


def test_chatgpt_content_types_are_flattened_and_unknown_ones_noted():
    thread = _chatgpt(1)
    by_id = _by_id(thread)
    assert list(by_id) == ["q", "code", "out", "quote", "unk"]
    assert thread.skipped == 3  # thoughts, reasoning_recap, an empty answer
    assert by_id["q"].content == ("[image omitted]\n\nWhat is in this picture?\n\nspoken words\n\n"
                                  "[mystery_part omitted]")
    # a fence longer than any run of backticks in the code, with its language
    assert by_id["code"].content == "````python\nprint(6 * 7)\n```not a fence end```\n````"
    assert by_id["code"].parent_source_id == "q"  # the reasoning nodes between them are skipped
    assert by_id["out"].content == "[tool: python]\n\n> 42\n> done"  # execution output, as a quote
    assert by_id["out"].role == "assistant"
    assert by_id["quote"].parent_source_id == "out"  # past the empty answer
    assert by_id["quote"].content.startswith("[tool: browser]\n\n> Example · https://example.com")
    assert by_id["unk"].content == "[content of type fancy_widget omitted]"
    assert thread.active_leaf == "unk"


def test_chatgpt_without_times_or_title():
    thread = _chatgpt(2)
    assert thread.title == "No times anywhere in this one, and no title either."  # from the first question
    assert all(m.created_at == thread.created_at for m in thread.messages)
    assert thread.active_leaf == "a"  # no current_node: the newest leaf


def test_chatgpt_current_node_that_is_skipped_points_at_its_nearest_kept_ancestor():
    conversation = json.loads(CHATGPT_JSON.read_text())[1]
    conversation["current_node"] = "empty"
    assert chatgpt.convert(conversation, 1).active_leaf == "out"


def test_chatgpt_odd_shapes_never_crash():
    conversation = {"id": "odd", "mapping": {
        "a": {"id": "a", "parent": "b", "children": [], "message": {"author": {"role": "user"},
                                                                   "content": {"content_type": "text", "parts": ["x"]}}},
        "b": {"id": "b", "parent": "a", "children": [], "message": {"author": {"role": "user"},
                                                                   "content": {"content_type": "text", "parts": ["y"]}}},
        "c": {"id": "c", "parent": "gone", "children": [], "message": {"author": "nobody", "content": None}},
        "d": {"id": "d", "parent": None, "children": [], "message": {"author": {"role": "user"},
                                                                    "content": {"content_type": "text",
                                                                                "parts": [None, 7, ["z"]]}}},
        "e": "not a node",
    }, "current_node": 12, "create_time": "yesterday"}
    thread = chatgpt.convert(conversation, 1)
    assert [m.source_id for m in thread.messages] == ["d"]  # a, b: a parent cycle; c: no role
    assert thread.messages[0].content == '7\n\n["z"]'
    assert thread.skipped == 3
    assert thread.active_leaf == "d"


def test_a_deep_chain_is_no_problem():
    mapping = {"n0": {"id": "n0", "parent": None, "children": [], "message": None}}
    for i in range(1, 20_001):
        mapping[f"n{i}"] = {"id": f"n{i}", "parent": f"n{i - 1}", "children": [], "message": {
            "author": {"role": "user" if i % 2 else "assistant"}, "create_time": 1700000000 + i,
            "content": {"content_type": "text", "parts": [f"turn {i}"]}}}
    thread = chatgpt.convert({"id": "deep", "mapping": mapping, "current_node": "n20000"}, 1)
    assert len(thread.messages) == 20_000 and thread.active_leaf == "n20000"


def test_a_huge_message_is_cut_with_a_marker_and_nul_is_removed():
    text = "a\x00b" + "x" * (MESSAGE_LIMIT + 50) + "\ud800"
    thread = chatgpt.convert({"id": "big", "mapping": {"m": {"id": "m", "parent": None, "message": {
        "author": {"role": "user"}, "content": {"content_type": "text", "parts": [text]}}}}}, 1)
    message = thread.messages[0]
    assert message.truncated and len(message.content) <= MESSAGE_LIMIT
    assert message.content.startswith("abxxx") and "\x00" not in message.content
    assert f"the original has {MESSAGE_LIMIT + 53:,} characters" in message.content
    message.content.encode("utf-8")  # no lone surrogate left


def test_a_claude_conversation_is_not_a_chatgpt_one():
    with pytest.raises(ImportFailed, match="conversation 4 has no `mapping`.*use `claude`"):
        chatgpt.convert(json.loads(CLAUDE_JSON.read_text())[0], 4)


# --- Claude ---------------------------------------------------------------------------------------------
def test_claude_linear_roles_text_and_attachments():
    thread = _claude(0)
    by_id = _by_id(thread)
    assert thread.title == "Poem about rain"
    assert [(m.source_id, m.parent_source_id, m.role) for m in thread.messages] == [
        ("m1", None, "user"), ("m2", "m1", "assistant"), ("m3", "m2", "user"), ("m4", "m3", "assistant")]
    assert by_id["m1"].content == ("Write a poem about rain.\n\n[attachment: notes.txt]\n```\nrain, grey, umbrella\n```"
                                   "\n\n[file omitted: photo.png]")
    assert by_id["m2"].content == "Drops on the pane,\n\ngrey again.\n\n[tool use: web_search]"  # no thinking
    assert by_id["m3"].content == "Shorter, please."  # no content parts: the text
    assert by_id["m1"].created_at.isoformat() == "2024-03-01T10:00:01.123456+00:00"
    assert by_id["m4"].created_at == by_id["m3"].created_at  # an unreadable time: never before its question
    assert thread.active_leaf == "m4"


def test_claude_with_parent_uuids_keeps_branches_and_the_current_leaf():
    thread = _claude(1)
    by_id = _by_id(thread)
    assert by_id["t1"].parent_source_id is None  # the all-zero root id is not a message
    assert by_id["t2a"].parent_source_id == by_id["t2b"].parent_source_id == "t1"
    assert by_id["t3a"].parent_source_id == "t2a" and by_id["t3b"].parent_source_id == "t2b"
    assert "sys" not in by_id and thread.skipped == 1  # an unknown sender
    assert thread.active_leaf == "t3b"
    assert _path_to(thread, "t3b") == ["t1", "t2b", "t3b"]
    assert thread.title == "Name a colour."  # an empty name: the first question


def test_a_chatgpt_conversation_is_not_a_claude_one():
    with pytest.raises(ImportFailed, match="conversation 2 has no `chat_messages`.*use `chatgpt`"):
        claude.convert(json.loads(CHATGPT_JSON.read_text())[0], 2)


# --- the file -------------------------------------------------------------------------------------------
def test_zip_and_bare_json_read_the_same(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("chat.html", "<html></html>")
        z.write(CHATGPT_JSON, "conversations.json")
        z.writestr("backup/conversations.json", "[]")  # a copy in a folder is not the export
    assert _conversations(archive) == _conversations(CHATGPT_JSON) == json.loads(CHATGPT_JSON.read_text())
    with ExportFile(archive) as export:
        assert export.total_bytes == CHATGPT_JSON.stat().st_size


def test_split_conversation_files_are_read_in_order(tmp_path):
    items = json.loads(CLAUDE_JSON.read_text())
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("conversations-001.json", json.dumps(items[1:]))
        z.writestr("conversations-000.json", json.dumps(items[:1]))
    assert _conversations(archive) == items


def test_a_bom_is_skipped(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_bytes(b"\xef\xbb\xbf  " + CLAUDE_JSON.read_bytes())
    assert len(_conversations(path)) == 2


def test_formats_are_detected():
    assert detect_source(CHATGPT_JSON) == "chatgpt"
    assert detect_source(CLAUDE_JSON) == "claude"


@pytest.mark.parametrize(("content", "problem"), [
    (None, "not_an_export.json is not a conversations export.*starts with “{”"),
    (b"", "is not a conversations export.*starts with nothing"),
    (b"hello", "starts with “h”"),
])
def test_what_is_not_an_export_is_said_in_one_line(tmp_path, content, problem):
    path = FIXTURES / "not_an_export.json" if content is None else tmp_path / "conversations.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFailed, match=problem) as caught:
        _conversations(path)
    assert "\n" not in str(caught.value)


def test_a_zip_without_conversations_and_a_broken_zip(tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", b"x")
    with pytest.raises(ImportFailed, match="photos.zip holds no conversations.json"):
        ExportFile(archive)
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(cut, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(CHATGPT_JSON, "conversations.json")
    data = cut.read_bytes()
    cut.write_bytes(data[:len(data) // 2])  # the central directory is gone: not readable as a ZIP at all
    with pytest.raises(ImportFailed, match="cut.zip is a damaged or incomplete ZIP"):
        ExportFile(cut)
    with pytest.raises(ImportFailed, match="no such file"):
        ExportFile(tmp_path / "missing.zip")


def test_a_truncated_file_yields_the_conversations_before_the_cut_then_says_where(tmp_path):
    text = CHATGPT_JSON.read_text()
    path = tmp_path / "conversations.json"
    cut_at = text.index('"conv-untimed"') + 40
    path.write_text(text[:cut_at])
    got = []
    broken = r"conversations.json is cut off or malformed in conversation 3 \(read up to byte [\d,]+\): parse error: premature EOF$"
    with pytest.raises(ImportFailed, match=broken), ExportFile(path) as export:
        got.extend(n for n, _c in export.conversations())
    assert got == [1, 2]


def test_a_conversation_too_big_to_parse_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "CONVERSATION_BYTES", 200_000)
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"id": "small", "mapping": {}}, {"id": "big", "mapping": {"x": "y" * 600_000}}]))
    got = []
    with pytest.raises(ImportFailed, match="conversation 2 is larger than 0 MB"), ExportFile(path) as export:
        got.extend(n for n, _c in export.conversations())
    assert got == [1]
