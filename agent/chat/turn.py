"""One Console turn without Qt: store, ask, stream, store, reinforce. Driven by a GUI worker thread.

    turn = ChatTurn(db, conversation_id, api_key=key, on_delta=..., on_done=..., on_error=...)
    result = turn.send("Hello")     # blocking: run it in a worker thread
    turn.cancel()                   # Stop, from any thread: the partial reply is kept

Conversations are trees (agent.chat.tree, docs/console.md): every turn adds messages under a parent and
nothing is ever replaced. `send` puts the question under the thread's active leaf; `regenerate` asks
again for a reply and makes the new one a sibling of the old; `retry` does the same for a failed reply
(or a question that never got one); `edit_and_resend` makes a sibling of a question with new text and
asks it; `reply_to` asks for a reply under a stored question with any connection (`compare` does it for
several). The new message becomes the active leaf, so the transcript shows it; the old branch stays.

The callbacks run in the calling (worker) thread; a GUI forwards them to its own thread with signals.
Every reply records the connection and the model that wrote it (messages.agent_connection_id, .model;
see agent.chat.authorship). Guarantees: the user's message is committed before the request leaves; the reply
row appears with the first token (status "stopped" until the model finishes, so a crash or Stop keeps
what arrived, marked as cut off) and is rewritten at most every `flush_interval` seconds; a failed call
is kept as a reply with status "error" and the reason (Retry makes a sibling), never sent in a prompt.
With `tools` (agent.chat.tool_turn.TurnTools) the turn may call tools: agent.tools.loop.ToolLoop runs it and
each call, result and the reply is a node of the tree under the one before it (docs/tools.md).
Every call is also a check of the connection (agent.connections.check.record_turn): a reply sets it
online, a failure offline or error with the reason, as Bind's Test would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.chat import tree
from agent.chat.threads import default_title, next_seq_in
from agent.connections.check import record_turn
from agent.llm import errors
from agent.llm.client import CancelToken, LLMClient
from agent.llm.errors import LLMError
from agent.memory.atlas import reinforce_used
from agent.prompt import assemble_prompt_in
from agent.storable import clean_text
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Message

log = logging.getLogger(__name__)

DONE, STOPPED, FAILED = "done", "stopped", "failed"
MESSAGE_LIMIT = tree.MESSAGE_LIMIT  # messages.content on the server: a longer message would never sync
MODEL_LIMIT = 500  # messages.model (and agent_connections.model) on the server
ERROR_LIMIT = 2000  # messages.error on the server


@dataclass
class TurnResult:
    status: str  # done | stopped | failed
    conversation_id: str
    user_message_id: str  # the question the reply answers
    reply_message_id: str | None = None  # None when nothing was stored (Stop before the first token)
    text: str = ""  # the reply as stored
    error: LLMError | None = None  # set when status == failed; the stored reply carries error.message
    # Messages that left the active path with this turn (kept in the tree as siblings): the transcript
    # stops showing them. The old reply for regenerate/retry; the old question and what followed it for
    # edit & resend. Empty when the active leaf did not move (Stop before the first token).
    superseded_ids: list[str] = field(default_factory=list)
    reinforced_node_ids: list[str] = field(default_factory=list)
    connection_status_changed: bool = False  # the turn moved its connection's synced status
    connection_id: str | None = None  # what wrote the reply (stored with it: messages.agent_connection_id)
    model: str | None = None  # … and the model it ran (messages.model)
    # With tools (agent.chat.tool_turn): every node the turn stored, in order (calls, results, the reply),
    # the calls with their decisions and results, the rounds made, and whether the limit of rounds ended it.
    message_ids: list[str] = field(default_factory=list)
    calls: list = field(default_factory=list)  # agent.tools.loop.CallRecord
    rounds: int = 0
    limit_reached: bool = False


class ChatTurn:
    def __init__(self, db: LocalDatabase, conversation_id: str, *, api_key: str | None = "",
                 connection_id: str | None = None, bind: bool = True, activate: bool = True,
                 on_delta: Callable[[str], None] | None = None,
                 on_done: Callable[[TurnResult], None] | None = None,
                 on_error: Callable[[TurnResult], None] | None = None,
                 flush_interval: float = 0.5, read_timeout: float = 120.0, tools=None) -> None:
        self.db = db
        self.tools = tools  # agent.chat.tool_turn.TurnTools: the turn may call these tools (None: it talks only)
        self.conversation_id = conversation_id
        self.connection_id = connection_id  # the connection that answers (default: the thread's)
        self.bind = bind  # … and the thread talks to it from now on (False: a one-off, e.g. compare)
        self.activate = activate  # the reply becomes the active leaf (False: compare's other replies)
        self._key = api_key or ""
        self.on_delta, self.on_done, self.on_error = on_delta, on_done, on_error
        self.flush_interval = flush_interval
        self.read_timeout = read_timeout
        self._cancel = CancelToken()
        self._author: tuple[str | None, str | None] = (None, None)  # (connection id, model) of the reply

    def __repr__(self) -> str:
        return f"ChatTurn(conversation={self.conversation_id!r})"

    # -- what the GUI calls ----------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop streaming (any thread). The turn ends with status 'stopped' and keeps the partial reply."""
        self._cancel.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.cancelled

    def send(self, text: str) -> TurnResult:
        """Store `text` as the user's message under the active leaf (committed before the call), then ask."""
        return self._ask(self.add_question(text), [])

    def add_question(self, text: str) -> str:
        """Store `text` as a user message under the thread's active leaf and make it the leaf; its id."""
        text = tree.checked_text(text)  # a pasted NUL (or a broken surrogate from argv) could never sync
        with self.db.write() as session:
            conversation = self._conversation(session)
            message = Message(user_id=conversation.user_id, conversation_id=conversation.id, role="user",
                              content=text, seq=next_seq_in(session, conversation.id),
                              parent_id=tree.active_leaf_in(session, conversation))
            if not (conversation.title or "").strip():
                conversation.title = default_title(text)
            conversation.active_leaf_id = message.id
            session.add(message)
            session.add(conversation)
        return message.id

    def reply_to(self, question_id: str) -> TurnResult:
        """Ask for a reply under a stored message (its siblings, if any, stay)."""
        with self.db.session() as session:
            tree.live_message_in(session, self.conversation_id, question_id)
        return self._ask(question_id, [])

    def retry(self, message_id: str | None = None) -> TurnResult:
        """Ask again after a failure: `message_id` (default: the active leaf) is a failed reply — its new
        sibling is asked for — or a question that never got a reply."""
        with self.db.write() as session:  # a connection_id given for the retry is kept
            conversation = self._conversation(session)
            target = self._target(session, conversation, message_id, "There is no message to ask again.")
            if target.role == "user":
                question, superseded = target.id, []
            else:
                question, superseded = self._replacing(session, conversation, target)
        return self._ask(question, superseded)

    def regenerate(self, message_id: str | None = None) -> TurnResult:
        """Ask again for the reply `message_id` (default: the active leaf); the new one is its sibling and
        becomes the active leaf when its first token arrives (or, failed, with its error and Retry); the old
        reply stays beside it. Stop before the first token changes nothing."""
        with self.db.write() as session:
            conversation = self._conversation(session)
            target = self._target(session, conversation, message_id, "There is no reply to regenerate.")
            if target.role != "assistant":
                raise ValueError("There is no reply to regenerate.")
            question, superseded = self._replacing(session, conversation, target)
        return self._ask(question, superseded)

    def edit_and_resend(self, message_id: str, text: str) -> TurnResult:
        """Save & resend: a sibling of the user message `message_id` with `text`, and a new reply to it.
        The old question and everything below it stay, as another branch."""
        text = tree.checked_text(text)
        with self.db.write() as session:
            conversation = self._conversation(session)
            old = tree.live_message_in(session, self.conversation_id, message_id)
            if old.role != "user":
                raise ValueError("Only your own messages can be edited and sent again.")
            superseded = self._below_on_path(session, conversation, old.id)
            question = Message(user_id=conversation.user_id, conversation_id=conversation.id, role="user",
                               content=text, seq=next_seq_in(session, conversation.id), parent_id=old.parent_id)
            conversation.active_leaf_id = question.id
            session.add(question)
            session.add(conversation)
        result = self._ask(question.id, [])
        result.superseded_ids = superseded + [i for i in result.superseded_ids if i not in superseded]
        return result

    # -- internals -------------------------------------------------------------------------------
    def _conversation(self, session) -> Conversation:
        conversation = tree.live_thread_in(session, self.conversation_id)
        if self.bind and self.connection_id and conversation.agent_connection_id != self.connection_id:
            conversation.agent_connection_id = self.connection_id
            session.add(conversation)
        return conversation

    def _target(self, session, conversation: Conversation, message_id: str | None, missing: str) -> Message:
        leaf = message_id or tree.active_leaf_in(session, conversation)
        if leaf is None:
            raise ValueError(missing)
        return tree.live_message_in(session, self.conversation_id, leaf)

    def _replacing(self, session, conversation: Conversation, reply: Message) -> tuple[str, list[str]]:
        """(the question a new sibling of `reply` answers, what leaves the path when it arrives)."""
        if reply.parent_id is None:
            raise ValueError("That reply answers no message here, so there is nothing to ask again.")
        tree.live_message_in(session, self.conversation_id, reply.parent_id)
        return reply.parent_id, self._below_on_path(session, conversation, reply.id)

    @staticmethod
    def _below_on_path(session, conversation: Conversation, message_id: str) -> list[str]:
        """`message_id` and what follows it on the active path ([] when it is not on the path)."""
        ids = tree.path_ids_in(session, conversation.id, tree.active_leaf_in(session, conversation), stop_at=message_id)
        return ids if ids and ids[0] == message_id else []

    def _ask(self, question_id: str, superseded: list[str]) -> TurnResult:
        result = TurnResult(FAILED, self.conversation_id, question_id)
        with self.db.session() as session:
            conversation = tree.live_thread_in(session, self.conversation_id)
            question = tree.live_message_in(session, self.conversation_id, question_id)
            wanted = self.connection_id or conversation.agent_connection_id
            connection = session.get(AgentConnection, wanted) if wanted else None
            owner = conversation.user_id
            if connection is None or connection.deleted_at is not None:
                self._author = (None, None)
                err = LLMError(errors.INVALID, "This thread has no connection: choose one in Bind, then retry.")
                self._keep_failure(result, owner, "", err, superseded)
                return self._fail(result, err)
            prompt = assemble_prompt_in(session, connection, self.conversation_id, question)
            base_url, model, connection_id = connection.base_url, connection.model, connection.id
            # The reply is signed by what writes it, not by whatever the thread is bound to later.
            self._author = result.connection_id, result.model = (connection.id, model[:MODEL_LIMIT])
        try:
            client = LLMClient(base_url, model, self._key, read_timeout=self.read_timeout)
        except LLMError as err:
            self._check_connection(result, connection_id, err)
            self._keep_failure(result, owner, "", err, superseded)
            return self._fail(result, err)
        if self.tools is not None and self.tools.toolset:
            from agent.chat.tool_turn import run_with_tools

            return run_with_tools(self, result, client, prompt, owner, connection_id, superseded)
        parts: list[str] = []
        last_flush = time.monotonic()
        try:
            for delta in client.stream_chat(prompt.messages, cancel=self._cancel, **prompt.options):
                parts.append(delta)
                if result.reply_message_id is None:
                    self._start_reply(result, owner, "".join(parts), superseded)
                    last_flush = time.monotonic()
                elif time.monotonic() - last_flush >= self.flush_interval:
                    self._save_reply(result, "".join(parts))
                    last_flush = time.monotonic()
                if self.on_delta:
                    self.on_delta(delta)
        except LLMError as err:
            self._check_connection(result, connection_id, err)
            self._keep_failure(result, owner, "".join(parts) or err.partial, err, superseded)
            return self._fail(result, err)
        finally:
            client.close()
        text = "".join(parts)
        if text or not self.cancelled:  # Stop before the first token says nothing about the endpoint
            self._check_connection(result, connection_id, None)
        if self.cancelled:
            result.status = STOPPED
            if text:
                self._keep(result, owner, text, superseded, STOPPED)
        else:
            result.status = DONE
            self._keep(result, owner, text, superseded, DONE)  # an empty reply is stored too: it is what came
            result.reinforced_node_ids = reinforce_used(self.db, prompt.memory_node_ids, text, datetime.now(UTC))
        if self.on_done:
            self.on_done(result)
        return result

    def _check_connection(self, result: TurnResult, connection_id: str, err: LLMError | None) -> None:
        try:
            result.connection_status_changed = record_turn(self.db, connection_id, err)
        except Exception:  # noqa: BLE001 - the status is a side note: never let it break the turn
            log.exception("could not record the connection's status after a chat turn")

    def _fail(self, result: TurnResult, err: LLMError) -> TurnResult:
        result.status, result.error = FAILED, err
        if self.on_error:
            self.on_error(result)
        return result

    def _keep(self, result: TurnResult, owner: str | None, text: str, superseded: list[str], status: str) -> None:
        if result.reply_message_id is None:
            self._start_reply(result, owner, text, superseded, status)
        else:
            self._save_reply(result, text, status)

    def _keep_failure(self, result: TurnResult, owner: str | None, text: str, err: LLMError,
                      superseded: list[str]) -> None:
        """A failed call stays in the tree: the reply (what arrived, maybe nothing) with status 'error'."""
        reason = clean_text(err.message or "The request failed.").strip()[:ERROR_LIMIT] or "The request failed."
        if result.reply_message_id is None:
            self._start_reply(result, owner, text, superseded, "error", reason)
        else:
            self._save_reply(result, text, "error", reason)

    def _start_reply(self, result: TurnResult, owner: str | None, text: str, superseded: list[str],
                     status: str = STOPPED, error: str | None = None) -> None:
        # The new reply appears and (when it is to be shown) becomes the active leaf in one transaction.
        with self.db.write() as session:
            conversation = session.get(Conversation, self.conversation_id)
            if conversation is None or conversation.deleted_at is not None:  # thread deleted mid-stream
                self.cancel()
                return
            # After everything in the thread, so after its question on every device, whatever the clocks.
            reply = Message(user_id=owner, conversation_id=self.conversation_id, role="assistant", content=text,
                            seq=next_seq_in(session, self.conversation_id), parent_id=result.user_message_id,
                            agent_connection_id=self._author[0], model=self._author[1], status=status,
                            error=error)
            session.add(reply)
            if self.activate:
                conversation.active_leaf_id = reply.id
                session.add(conversation)
        result.reply_message_id, result.text = reply.id, text
        if self.activate:
            result.superseded_ids = list(superseded)

    def _save_reply(self, result: TurnResult, text: str, status: str | None = None, error: str | None = None) -> None:
        if text == result.text and status is None:
            return
        with self.db.write() as session:
            reply = session.get(Message, result.reply_message_id)
            if reply is None:  # deleted meanwhile (thread deleted during the stream): nothing to keep
                return
            reply.content = text
            if status is not None:
                reply.status, reply.error = status, error
            session.add(reply)
        result.text = text


def compare(db: LocalDatabase, conversation_id: str, text: str, connection_ids: list[str],
            api_keys: dict[str, str], *, on_start: Callable[[str], None] | None = None,
            on_delta: Callable[[str], None] | None = None, read_timeout: float = 120.0) -> list[TurnResult]:
    """Compare: ask one question of two or more connections. The question is stored once (under the active
    leaf); each connection's reply is a sibling under it, signed by its connection and model, asked one
    after the other (`on_start(connection_id)` before each). The first reply that succeeded becomes the
    active leaf (the first one when none did); the thread keeps its own connection."""
    wanted = list(dict.fromkeys(connection_ids))
    if len(wanted) < 2:
        raise ValueError("Compare needs at least two different connections.")
    with db.session() as session:
        for connection_id in wanted:
            connection = session.get(AgentConnection, connection_id)
            if connection is None or connection.deleted_at is not None:
                raise ValueError(f"Connection {connection_id} no longer exists.")
    question = ChatTurn(db, conversation_id).add_question(text)
    results = []
    for i, connection_id in enumerate(wanted):
        if on_start:
            on_start(connection_id)
        turn = ChatTurn(db, conversation_id, api_key=api_keys.get(connection_id, ""), connection_id=connection_id,
                        bind=False, activate=i == 0, on_delta=on_delta, read_timeout=read_timeout)
        results.append(turn.reply_to(question))
    chosen = next((r for r in results if r.status == DONE and r.reply_message_id), results[0])
    if chosen is not results[0] and chosen.reply_message_id:
        tree.switch(db, conversation_id, chosen.reply_message_id)
    return results
