"""A chat turn with tools: what ChatTurn does when tools are on for the turn (docs/tools.md).

The turn is agent.tools.loop.ToolLoop — the one tool loop — with a storage that writes into the
conversation tree: each node of the turn (the assistant message with its calls, each `tool` result, the
reply) is stored as soon as it exists, in its own transaction, as the child of the node written just
before it (the first one's parent: the question), signed by the connection and model of the turn, and
becomes the thread's active leaf (unless the turn is one of compare's other replies).

    tools = turn_tools(db, host, approve, only=["files"], max_rounds=8)
    ChatTurn(db, thread, api_key=key, tools=tools).send("What is in ~/notes?")

A failure of the model keeps what was stored (every call already has its result) and adds the failed
reply, with status "error" and what arrived of it, under the last node: Retry asks again from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.chat import tree
from agent.chat.threads import next_seq_in
from agent.llm.errors import LLMError
from agent.memory.atlas import reinforce_used
from agent.storable import clean_text
from agent.tools.config import list_servers, set_always_allow
from agent.tools.loop import DEFAULT_MAX_ROUNDS, CallRecord, PendingCall, RunTool, ToolLoop, host_runner
from agent.tools.toolset import ToolSet, build_toolset
from local_schema.models import Conversation, Message


@dataclass(frozen=True)
class StoredNode:
    """A call or a result the turn stored (for a GUI showing the turn as it goes)."""

    id: str
    role: str  # assistant (with tool_calls) | tool
    content: str
    tool_calls: list | None
    tool_call_id: str | None
    streamed: int  # characters of text the turn had streamed (on_delta) when it was stored


@dataclass
class TurnTools:
    """What a turn needs to use tools. `approve` runs in the turn's (worker) thread and may block."""

    toolset: ToolSet
    run_tool: RunTool
    approve: Callable[[PendingCall], str]
    remember_always: Callable[[str, str], None] | None = None
    max_rounds: int = DEFAULT_MAX_ROUNDS
    call_timeout: float = 60.0
    on_node: Callable[[StoredNode], None] | None = None  # a call or a result was stored
    on_call: Callable[[CallRecord], None] | None = None  # a call got its result


def turn_tools(db, host, approve: Callable[[PendingCall], str], *, only: list[str] | None = None, secrets=None,
               max_rounds: int = DEFAULT_MAX_ROUNDS, call_timeout: float = 60.0) -> TurnTools:
    """The enabled tools of this device's enabled servers (of `only` these servers when given) for a turn;
    a server is started when the model first calls it; "Always for this tool" is kept in its tool config."""
    servers = {s.name: s for s in list_servers(db)}
    toolset = build_toolset(servers.values(), only=only)

    def remember(server: str, tool: str) -> None:
        set_always_allow(db, server, tool, True)

    return TurnTools(toolset, host_runner(host, servers, secrets), approve, remember, max_rounds, call_timeout)


class ThreadGone(Exception):
    """The thread was deleted while the turn ran."""


class TreeStorage:
    """agent.tools.loop.TurnStorage over the conversation tree: each node under the one before it."""

    def __init__(self, turn, result, owner: str | None, superseded: list[str]) -> None:
        self.turn, self.result, self.owner, self.superseded = turn, result, owner, superseded
        self.parent = result.user_message_id
        self.streamed = 0  # characters streamed so far (kept by the turn's on_delta)
        self.round_text: list[str] = []  # what streamed since the last node (kept if the model then fails)
        self.reply_id: str | None = None  # the final reply (no calls)

    def add(self, role: str, text: str, *, tool_calls: list | None = None, tool_call_id: str | None = None,
            status: str = "done", error: str | None = None) -> str:
        turn = self.turn
        author_id, model = turn._author
        with turn.db.write() as session:
            conversation = session.get(Conversation, turn.conversation_id)
            if conversation is None or conversation.deleted_at is not None:
                raise ThreadGone
            message = Message(user_id=self.owner, conversation_id=conversation.id, role=role,
                              content=clean_text(text)[:tree.MESSAGE_LIMIT], parent_id=self.parent,
                              seq=next_seq_in(session, conversation.id), agent_connection_id=author_id, model=model,
                              status=status, error=error, tool_calls=tool_calls or None, tool_call_id=tool_call_id)
            session.add(message)
            if turn.activate:
                conversation.active_leaf_id = message.id
                session.add(conversation)
        if not self.result.message_ids and turn.activate:
            self.result.superseded_ids = list(self.superseded)
        self.result.message_ids.append(message.id)
        self.parent = message.id
        self.round_text.clear()
        return message.id

    # -- agent.tools.loop.TurnStorage ---------------------------------------------------------------
    def add_assistant(self, text: str, tool_calls: list[dict] | None) -> str:
        if tool_calls:
            return self._node("assistant", text, tool_calls=tool_calls)
        self.reply_id = self.add("assistant", text, status="stopped" if self.turn.cancelled else "done")
        return self.reply_id

    def add_tool_result(self, tool_call_id: str, name: str, text: str) -> str:
        return self._node("tool", text, tool_call_id=tool_call_id)

    def _node(self, role: str, text: str, **columns) -> str:
        message_id = self.add(role, text, **columns)
        tools = self.turn.tools
        if tools.on_node is not None:
            tools.on_node(StoredNode(message_id, role, text, columns.get("tool_calls"), columns.get("tool_call_id"),
                                     self.streamed))
        return message_id


def run_with_tools(turn, result, client, prompt, owner: str | None, connection_id: str, superseded: list[str]):
    """ChatTurn._ask when tools are on: the ToolLoop on `prompt`, stored into the tree; returns `result`."""
    from agent.chat.turn import DONE, ERROR_LIMIT, STOPPED

    tools = turn.tools
    storage = TreeStorage(turn, result, owner, superseded)

    def on_delta(delta: str) -> None:
        storage.streamed += len(delta)
        storage.round_text.append(delta)
        if turn.on_delta:
            turn.on_delta(delta)

    loop = ToolLoop(client, tools.toolset, run_tool=tools.run_tool, approve=tools.approve, storage=storage,
                    remember_always=tools.remember_always, max_rounds=tools.max_rounds,
                    call_timeout=tools.call_timeout, cancel=turn._cancel, on_delta=on_delta,
                    on_call=tools.on_call, options=prompt.options)
    try:
        outcome = loop.run(prompt.messages)
    except LLMError as err:
        turn._check_connection(result, connection_id, err)
        reason = clean_text(err.message or "The request failed.").strip()[:ERROR_LIMIT] or "The request failed."
        text = "".join(storage.round_text) or err.partial
        try:
            result.reply_message_id = storage.add("assistant", text, status="error", error=reason)
            result.text = text
        except ThreadGone:
            pass
        return turn._fail(result, err)
    except ThreadGone:
        turn.cancel()
        outcome = None
    finally:
        client.close()
    if outcome is not None:
        result.rounds, result.calls, result.limit_reached = outcome.rounds, outcome.calls, outcome.limit_reached
    result.reply_message_id, result.text = storage.reply_id, outcome.text if outcome else ""
    if result.message_ids or not turn.cancelled:
        turn._check_connection(result, connection_id, None)
    if turn.cancelled or outcome is None or outcome.status == STOPPED:
        result.status = STOPPED
    else:
        result.status = DONE
        result.reinforced_node_ids = reinforce_used(turn.db, prompt.memory_node_ids, result.text, datetime.now(UTC))
    if turn.on_done:
        turn.on_done(result)
    return result

