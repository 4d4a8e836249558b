"""`mirari threads …` and the tree forms of `mirari chat` (edit, regenerate, retry, compare) against the
fake OpenAI endpoint, checking exactly what each request carries and what the tree holds afterwards."""

from __future__ import annotations

import json

import pytest

from standin.model import Reply
from tests.commands.conftest import one_error_line


def add_connection(mirari, fake_llm, name="Fake", model="fake-model") -> str:
    result = mirari("connections", "add", "--name", name, "--base-url", fake_llm.base_url, "--model", model)
    assert result.code == 0, result.err
    return result.out.strip()


@pytest.fixture
def chat(mirari, fake_llm):
    """A thread with one turn: q1 -> "a1". Returns (connection id, thread id)."""
    cid = add_connection(mirari, fake_llm)
    fake_llm.reply(text="a1")
    first = mirari("chat", "--connection", cid, "--json", "q1")
    assert first.code == 0, first.err
    return cid, json.loads(first.out)["thread_id"]


def show(mirari, thread, *extra) -> list[dict]:
    result = mirari("threads", "show", thread, "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def path(mirari, thread) -> list[str]:
    return [m["content"] for m in show(mirari, thread)]


def sent(fake_llm) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake_llm.chat_requests[-1].messages]


def test_a_thread_continues_with_its_own_connection_and_lists_as_columns(mirari, fake_llm, chat):
    cid, thread = chat
    fake_llm.reply(text="a2")
    assert mirari("chat", "--thread", thread[:8], "q2").out == "a2\n"  # no --connection: the thread's
    assert sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    [row] = json.loads(mirari("threads", "list", "--json").out)
    assert (row["id"], row["agent_connection_id"], row["message_count"], row["title"]) == (thread, cid, 4, "q1")
    assert {"active_leaf_id", "temperature", "max_tokens", "stop_sequences", "system_addition", "deleted_at",
            "last_activity"} <= set(row)
    assert thread[:8] in mirari("threads", "list").out


def test_regenerate_makes_a_sibling_and_asks_exactly_the_question(mirari, fake_llm, chat):
    _, thread = chat
    fake_llm.reply(text="a1 again")
    result = mirari("chat", "--thread", thread, "--regenerate", "--json")
    assert result.code == 0, result.err
    assert sent(fake_llm) == [("user", "q1")]
    assert path(mirari, thread) == ["q1", "a1 again"]
    everything = show(mirari, thread, "--all")
    assert [(m["content"], m["siblings"], m["sibling_index"], m["on_path"]) for m in everything] == [
        ("q1", 1, 1, True), ("a1", 2, 1, False), ("a1 again", 2, 2, True)]
    q1 = everything[0]["id"]
    assert everything[1]["parent_id"] == everything[2]["parent_id"] == q1 and everything[0]["parent_id"] is None
    assert json.loads(result.out)["superseded_ids"] == [everything[1]["id"]]


def test_edit_and_resend_branches_and_the_old_branch_stays(mirari, fake_llm, chat):
    _, thread = chat
    fake_llm.reply(text="a2")
    mirari("chat", "--thread", thread, "q2 with a tpyo")
    q2 = show(mirari, thread)[2]["id"]
    fake_llm.reply(text="a2 fixed")
    result = mirari("chat", "--thread", thread, "--edit", q2[:8], "q2 without a typo")
    assert result.code == 0, result.err
    assert sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2 without a typo")]
    assert path(mirari, thread) == ["q1", "a1", "q2 without a typo", "a2 fixed"]
    branches = {m["content"]: m for m in show(mirari, thread, "--all")}
    assert branches["q2 with a tpyo"]["parent_id"] == branches["q2 without a typo"]["parent_id"]
    assert branches["a2"]["parent_id"] == q2 and not branches["a2"]["on_path"]


def test_edit_in_place_fixes_the_text_and_asks_nothing(mirari, fake_llm, chat):
    _, thread = chat
    q1 = show(mirari, thread)[0]["id"]
    requests = len(fake_llm.chat_requests)
    result = mirari("chat", "--thread", thread, "--edit", q1, "--in-place", "q1 (fixed)")
    assert (result.code, result.out) == (0, "")
    assert path(mirari, thread) == ["q1 (fixed)", "a1"] and len(fake_llm.chat_requests) == requests
    assert len(show(mirari, thread, "--all")) == 2


def test_switch_makes_another_branch_active_and_the_next_turn_continues_it(mirari, fake_llm, chat):
    _, thread = chat
    fake_llm.reply(text="a1 again")
    mirari("chat", "--thread", thread, "--regenerate")
    first_reply = show(mirari, thread, "--all")[1]
    q1 = show(mirari, thread)[0]["id"]
    switched = mirari("threads", "switch", thread, first_reply["id"][:8])
    assert (switched.code, switched.out.strip()) == (0, first_reply["id"])
    assert path(mirari, thread) == ["q1", "a1"]
    fake_llm.reply(text="a2")
    mirari("chat", "--thread", thread, "q2")
    assert sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    # The branch through q1 is now the newest leaf under it: the one just written.
    assert mirari("threads", "switch", thread, q1).out.strip() == show(mirari, thread)[-1]["id"]


def test_compare_asks_each_connection_and_their_replies_are_signed_siblings(mirari, fake_llm, chat):
    cid, thread = chat
    other = add_connection(mirari, fake_llm, name="Other", model="other-model")
    fake_llm.enqueue(Reply(text="from fake"), Reply(text="from other"))
    result = mirari("chat", "--thread", thread, "--compare", f"{cid[:8]},{other[:8]}", "Which is better?")
    assert result.code == 0, result.err
    assert result.out == "── Fake · fake-model\nfrom fake\n── Other · other-model\nfrom other\n"
    first, second = fake_llm.chat_requests[-2:]
    assert (first.body["model"], second.body["model"]) == ("fake-model", "other-model")
    assert first.messages == second.messages == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                                                 {"role": "user", "content": "Which is better?"}]
    replies = [m for m in show(mirari, thread, "--all") if m["content"].startswith("from ")]
    assert [(m["agent_connection_id"], m["model"], m["siblings"]) for m in replies] == [
        (cid, "fake-model", 2), (other, "other-model", 2)]
    assert path(mirari, thread)[-1] == "from fake"  # the first connection's reply is shown
    assert json.loads(mirari("threads", "list", "--json").out)[0]["agent_connection_id"] == cid  # not rebound


def test_compare_keeps_a_failed_reply_and_shows_the_one_that_came(mirari, fake_llm, chat):
    cid, thread = chat
    other = add_connection(mirari, fake_llm, name="Other", model="other-model")
    fake_llm.enqueue(Reply(status=500, error_json={"error": {"message": "down"}}), Reply(text="from other"))
    result = mirari("chat", "--thread", thread, "--compare", f"{cid},{other}", "Hello?")
    assert result.code == 1 and "1 of 2 replies failed" in result.err and "down" in result.err
    assert path(mirari, thread)[-1] == "from other"
    failed = next(m for m in show(mirari, thread, "--all") if m["status"] == "error")
    assert failed["model"] == "fake-model" and "down" in failed["error"]


def test_thread_settings_go_into_every_request_and_default_clears_them(mirari, fake_llm, chat):
    _, thread = chat
    result = mirari("threads", "set", thread, "--temperature", "0.2", "--max-tokens", "64", "--stop", "END",
                    "--stop", "\n\nUser:", "--system", "Answer in French.", "--json")
    assert result.code == 0, result.err
    [settings] = json.loads(result.out)
    assert (settings["temperature"], settings["max_tokens"], settings["stop_sequences"]) == (
        pytest.approx(0.2), 64, ["END", "\n\nUser:"])
    fake_llm.reply(text="ok")
    mirari("chat", "--thread", thread, "q2")
    body = fake_llm.chat_requests[-1].body
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (pytest.approx(0.2), 64, ["END", "\n\nUser:"])
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    mirari("threads", "set", thread, "--temperature", "default", "--max-tokens", "default", "--no-stop",
           "--system", "")
    mirari("chat", "--thread", thread, "q3")
    body = fake_llm.chat_requests[-1].body
    assert body["temperature"] == 0.7 and "max_tokens" not in body and "stop" not in body
    assert body["messages"][0]["role"] == "user"
    assert "(connection default)" in mirari("threads", "set", thread, "--no-stop").out


@pytest.mark.parametrize("argv, says", [
    (("--temperature", "3"), "from 0 to 2"),
    (("--temperature", "warm"), "must be a number"),
    (("--max-tokens", "0"), "from 1 to 1,000,000"),
    (("--max-tokens", "1.5"), "whole number"),
    (("--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e"), "At most 4"),
    (("--stop", "x" * 201), "at most 200 characters"),
    (("--system", "s" * 20_001), "20,000"),
    (("--stop", "a", "--no-stop"), "not both"),
    ((), "nothing to set"),
    (("--connection", "nope"), "no connection nope"),
])
def test_bad_settings_are_one_error_line_and_change_nothing(mirari, chat, argv, says):
    _, thread = chat
    before = json.loads(mirari("threads", "list", "--json").out)
    assert says in one_error_line(mirari("threads", "set", thread, "--temperature", "0.5", *argv)
                                  if argv and argv[0] != "--temperature" else mirari("threads", "set", thread, *argv))
    assert json.loads(mirari("threads", "list", "--json").out) == before


def test_retry_after_a_failure_asks_a_sibling(mirari, fake_llm, chat):
    _, thread = chat
    fake_llm.enqueue(Reply(status=503, error_json={"error": {"message": "overloaded"}}))
    assert "overloaded" in one_error_line(mirari("chat", "--thread", thread, "q2"))
    shown = mirari("threads", "show", thread).out
    assert "⚠ failed:" in shown and "overloaded" in shown
    fake_llm.reply(text="a2")
    assert mirari("chat", "--thread", thread, "--retry").out == "a2\n"
    assert sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    assert path(mirari, thread) == ["q1", "a1", "q2", "a2"]
    assert [m["status"] for m in show(mirari, thread, "--all")] == ["done", "done", "done", "error", "done"]


def test_fork_copies_the_path_into_a_new_thread(mirari, fake_llm, chat):
    _, thread = chat
    fake_llm.reply(text="a2")
    mirari("chat", "--thread", thread, "q2")
    a1 = show(mirari, thread)[1]["id"]
    forked = mirari("threads", "fork", thread, a1, "--title", "Side quest")
    assert forked.code == 0, forked.err
    copy = forked.out.strip()
    copied = show(mirari, copy)
    assert [m["content"] for m in copied] == ["q1", "a1"] and copied[1]["parent_id"] == copied[0]["id"]
    assert {m["id"] for m in copied}.isdisjoint(m["id"] for m in show(mirari, thread, "--all"))
    assert path(mirari, thread) == ["q1", "a1", "q2", "a2"]  # the original is untouched
    fake_llm.reply(text="b2")
    mirari("chat", "--thread", copy, "another way")
    assert sent(fake_llm) == [("user", "q1"), ("assistant", "a1"), ("user", "another way")]


def test_delete_a_branch_rename_export_and_delete_the_thread(mirari, fake_llm, chat, tmp_path):
    _, thread = chat
    fake_llm.reply(text="a1 again")
    mirari("chat", "--thread", thread, "--regenerate")
    fake_llm.reply(text="a2")
    mirari("chat", "--thread", thread, "q2")
    again = show(mirari, thread)[1]["id"]
    deleted = mirari("threads", "delete", thread, "--message", again)
    assert deleted.code == 0 and "deleted 3 messages" in deleted.err
    assert path(mirari, thread) == ["q1", "a1"]  # the sibling that stays is shown
    assert mirari("threads", "rename", thread, "  Tea   talk ").out == "Tea talk\n"
    target = tmp_path / "t.json"
    assert mirari("threads", "export", thread, str(target), "--all").code == 0
    doc = json.loads(target.read_text("utf-8"))
    assert doc["whole_tree"] and [m["parent_id"] is None for m in doc["messages"]] == [True, False]
    assert "JSON only" in one_error_line(mirari("threads", "export", thread, str(tmp_path / "t.md"), "--all"))
    assert mirari("threads", "export", thread, str(tmp_path / "t.md")).code == 0
    assert (tmp_path / "t.md").read_text("utf-8").startswith("# Tea talk")
    assert mirari("threads", "delete", thread).code == 0
    assert "no thread" in one_error_line(mirari("threads", "show", thread))


@pytest.mark.parametrize("argv, says", [
    (("chat", "--thread", "ffffffff", "--regenerate"), "no thread ffffffff"),
    (("chat", "--regenerate"), "need --thread"),
    (("chat", "--thread", "{t}", "--regenerate", "text"), "take no TEXT"),
    (("chat", "--thread", "{t}", "--in-place", "text"), "--in-place goes with --edit"),
    (("chat", "--thread", "{t}", "--edit", "{t}", "text"), "no message"),
    (("chat", "--thread", "{t}", "--compare", "{c}", "text"), "at least two different connections"),
    (("chat", "--thread", "{t}", "--compare", "{c},nope", "text"), "no connection nope"),
    (("chat", "hello"), "give --connection"),
    (("chat", "--thread", "{t}"), "give the message TEXT"),
    (("threads", "switch", "{t}", "00000000"), "no message"),
    (("threads", "fork", "{t}", "ffffffff"), "no message"),
])
def test_chat_and_thread_errors_are_one_line_and_write_nothing(mirari, fake_llm, chat, argv, says):
    cid, thread = chat
    before = show(mirari, thread, "--all")
    requests = len(fake_llm.chat_requests)
    argv = [a.format(t=thread, c=cid) for a in argv]
    assert says in one_error_line(mirari(*argv))
    assert show(mirari, thread, "--all") == before and len(fake_llm.chat_requests) == requests


def test_a_message_of_another_thread_is_refused(mirari, fake_llm, chat):
    cid, thread = chat
    fake_llm.reply(text="elsewhere")
    other = json.loads(mirari("chat", "--connection", cid, "--json", "other thread").out)
    message = other["user_message_id"]
    assert "is not in thread" in one_error_line(mirari("threads", "switch", thread, message))
    assert "is not in thread" in one_error_line(mirari("chat", "--thread", thread, "--edit", message, "x"))
