from agent.prompt import assemble_prompt_in, preview_system_prompt_in
from tests.agent.conftest import NOW, add_connection, add_message, add_node, add_skill, add_thread, ts


def test_system_message_exact_text(session):
    conn = add_connection(session, system_prompt="  You are Hermes.\n")
    add_node(session, "Likes   tea\nin the morning", 0.9, "preference", created_at=ts(1))
    add_node(session, "Name is Ana", 0.8, None, created_at=ts(1))
    add_node(session, "Too weak", 0.74, created_at=ts(1))
    add_skill(session, "Terse", "  Answer in one line.  ", created_at=ts(3))
    add_skill(session, "Cite", "Cite sources.", created_at=ts(2))
    add_skill(session, "Suggested only", "never sent", status="suggested")
    add_skill(session, "Empty", "   ")
    expected = (
        "You are Hermes.\n"
        "\n"
        "## Memory\n"
        "What you remember about the user, strongest first:\n"
        "- Likes tea in the morning (preference)\n"
        "- Name is Ana\n"
        "\n"
        "## Skills\n"
        "### Terse\n"
        "Answer in one line.\n"
        "\n"
        "### Cite\n"
        "Cite sources."
    )
    assert preview_system_prompt_in(session, conn, NOW) == expected
    prompt = assemble_prompt_in(session, conn, add_thread(session, conn).id, "hi", NOW)
    assert prompt.messages == [{"role": "system", "content": expected}, {"role": "user", "content": "hi"}]


def test_memory_threshold_uses_decay_and_skips_tombstones(session):
    conn = add_connection(session)
    add_node(session, "exactly at threshold after one decay", 0.8, created_at=ts(14))
    add_node(session, "decayed below", 0.8, created_at=ts(28))
    add_node(session, "referenced recently", 0.8, created_at=ts(60), last_referenced_at=ts(2))
    add_node(session, "tombstoned", 1.0, deleted_at=ts(1))
    add_node(session, "exactly 0.75", 0.75)
    prompt = assemble_prompt_in(session, conn, add_thread(session).id, None, NOW)
    labels = [line[2:].removesuffix(" (fact)") for line in prompt.system.splitlines() if line.startswith("- ")]
    assert labels == ["referenced recently", "exactly 0.75", "exactly at threshold after one decay"]
    assert len(prompt.memory_node_ids) == 3


def test_at_most_40_nodes_strongest_first(session):
    conn = add_connection(session)
    for i in range(45):
        add_node(session, f"node {i:02d}", 0.75 + i * 0.005, created_at=ts(1))
    system = preview_system_prompt_in(session, conn, NOW)
    lines = [line for line in system.splitlines() if line.startswith("- ")]
    assert len(lines) == 40
    assert lines[0] == "- node 44 (fact)" and lines[-1] == "- node 05 (fact)"


def test_history_is_the_last_40_messages_in_order(session):
    conn = add_connection(session, system_prompt="S")
    thread = add_thread(session, conn)
    other = add_thread(session, conn)
    add_message(session, other, "user", "other thread", ts(0, 1))
    for i in range(50):
        add_message(session, thread, "user" if i % 2 == 0 else "assistant", f"m{i}", ts(1, i))
    new = add_message(session, thread, "user", "the new one", ts(0))
    prompt = assemble_prompt_in(session, conn, thread.id, new, NOW)
    assert [m["content"] for m in prompt.messages] == ["S"] + [f"m{i}" for i in range(10, 50)] + ["the new one"]
    assert prompt.messages[1]["role"] == "user" and prompt.messages[2]["role"] == "assistant"
    # replies stored after the new message (a failed partial) are not history for it
    add_message(session, thread, "assistant", "partial after", ts(0, 5))
    again = assemble_prompt_in(session, conn, thread.id, new, NOW)
    assert again.messages == prompt.messages


def test_no_system_message_when_everything_is_empty(session):
    conn = add_connection(session)
    thread = add_thread(session, conn)
    add_message(session, thread, "user", "earlier", ts(1))
    prompt = assemble_prompt_in(session, conn, thread.id, "now", NOW)
    assert prompt.messages == [{"role": "user", "content": "earlier"}, {"role": "user", "content": "now"}]
