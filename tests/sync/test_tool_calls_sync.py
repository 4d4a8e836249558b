"""Tool calls are synced messages: two devices see the same turn (the assistant's calls, each result with
its call's id, the reply) through the stand-in, and the next request built on the other device is one an
endpoint accepts. A fact paused on one device is paused on the other and kept out of its prompt."""

import json
from datetime import UTC, datetime

from agent.chat.threads import new_thread
from agent.memory.atlas import add_node, set_paused
from agent.prompt import assemble_prompt_in, memory_block
from agent.tools.store import ThreadStorage
from local_schema.models import AgentConnection
from standin.model import tools_problem
from tests.sync.helpers import server_rows

NOW = datetime.now(UTC)
CALL = {"id": "call_1", "type": "function", "function": {"name": "files__read_file", "arguments": '{"path": "/a"}'}}


def test_two_devices_see_the_same_tool_calls(devices, supabase_stack, user):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="Hermes", provider="hermes", base_url="http://127.0.0.1:9/v1", model="hermes3")
        s.add(connection)
    thread = new_thread(a.db, connection.id).id
    store = ThreadStorage(a.db, thread, connection_id=connection.id, model="hermes3")
    store._add("user", "What is in /a?")
    store.add_assistant("Let me look.", [CALL])
    store.add_tool_result("call_1", "files__read_file", "tea at five")
    store.add_assistant("It says: tea at five.", None)
    a.sync()
    b.sync()
    on_b = sorted(b.rows("messages").values(), key=lambda m: m["seq"])
    assert [(m["role"], m["content"], m["tool_call_id"]) for m in on_b] == [
        ("user", "What is in /a?", None), ("assistant", "Let me look.", None), ("tool", "tea at five", "call_1"),
        ("assistant", "It says: tea at five.", None)]
    assert json.loads(on_b[1]["tool_calls"]) == [CALL]

    def parsed(rows):  # the JSON text may be spaced differently on each device; its value is the same
        return [{**m, "tool_calls": json.loads(m["tool_calls"]) if m["tool_calls"] else None} for m in rows]

    assert parsed(on_b) == parsed(sorted(a.rows("messages").values(), key=lambda m: m["seq"]))
    server = {r["role"]: r for r in server_rows(supabase_stack, "messages", user[2])}
    assert server["assistant"]["tool_calls"] in ([CALL], None)  # jsonb on the server (the reply has none)
    assert server["tool"]["tool_call_id"] == "call_1"
    with b.session() as s:
        prompt = assemble_prompt_in(s, s.get(AgentConnection, connection.id), thread, "And now?")
    assert tools_problem({"messages": prompt.messages}) is None
    assert prompt.messages[-3] == {"role": "tool", "tool_call_id": "call_1", "content": "tea at five"}


def test_a_fact_paused_on_one_device_is_paused_on_the_other(devices):
    a, b = devices("a"), devices("b")
    node = add_node(a.db, "Has a tea allergy", "fact", 0.9, now=NOW).node
    a.sync()
    b.sync()
    assert "tea allergy" in memory_block(b.db, None, NOW).block
    set_paused(b.db, node.id, True)
    b.sync()
    a.sync()
    assert a.rows("memory_nodes")[node.id]["paused"] == 1
    assert "tea allergy" not in memory_block(a.db, None, NOW).block
