"""One Console turn without Qt: store, ask, stream, store, reinforce. Driven by a GUI worker thread.

    turn = ChatTurn(db, conversation_id, api_key=key, on_delta=..., on_done=..., on_error=...)
    result = turn.send("Hello")     # blocking: run it in a worker thread
    turn.cancel()                   # Stop, from any thread: the partial reply is kept

The callbacks run in the calling (worker) thread; a GUI forwards them to its own thread with signals.
Every reply records the connection and the model that wrote it (messages.agent_connection_id, .model;
see agent.authorship). Guarantees: the user's message is committed before the request leaves; the
reply row appears with the first token and is rewritten at most every `flush_interval` seconds while
streaming, so a crash or Stop keeps what arrived; a failure never removes the user's message (`retry()` re-asks it without
storing it twice). `retry()` and `regenerate()` replace the replies after the user's message only
once the new reply's first token arrives, so a failed regenerate keeps the old answer.
Every call is also a check of the connection (agent.connection_test.record_turn): a reply sets it
online, a failure offline or error with the reason, as Bind's Test would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import tuple_
from sqlmodel import select

from agent import errors
from agent.connection_test import record_turn
from agent.errors import LLMError
from agent.llm_client import CancelToken, LLMClient
from agent.memory import reinforce_used
from agent.prompt import assemble_prompt
from agent.storable import clean_text
from agent.threads import default_title, last_message, next_seq
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, Conversation, Message

log = logging.getLogger(__name__)

DONE, STOPPED, FAILED = "done", "stopped", "failed"
MESSAGE_LIMIT = 200_000  # messages.content on the server: a longer message would be stored, then never sync
MODEL_LIMIT = 500  # messages.model (and agent_connections.model) on the server


@dataclass
class TurnResult:
    status: str  # done | stopped | failed
    conversation_id: str
    user_message_id: str
    reply_message_id: str | None = None  # None when no token arrived
    text: str = ""  # the reply as stored
    error: LLMError | None = None  # set when status == failed; show error.message beside the message
    replaced_message_ids: list[str] = field(default_factory=list)  # old replies removed (retry/regenerate)
    reinforced_node_ids: list[str] = field(default_factory=list)
    connection_status_changed: bool = False  # the turn moved its connection's synced status
    connection_id: str | None = None  # what wrote the reply (stored with it: messages.agent_connection_id)
    model: str | None = None  # … and the model it ran (messages.model)


class ChatTurn:
    def __init__(self, db: LocalDatabase, conversation_id: str, *, api_key: str | None = "",
                 connection_id: str | None = None,
                 on_delta: Callable[[str], None] | None = None,
                 on_done: Callable[[TurnResult], None] | None = None,
                 on_error: Callable[[TurnResult], None] | None = None,
                 flush_interval: float = 0.5, read_timeout: float = 120.0) -> None:
        self.db = db
        self.conversation_id = conversation_id
        self.connection_id = connection_id  # binds the thread to this connection when given
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
        """Store `text` as the user's message (committed before the call), then ask for the reply."""
        text = clean_text(text).strip()  # a pasted NUL (or a broken surrogate from argv) could never sync
        if not text:
            raise ValueError("Type a message first.")
        if len(text) > MESSAGE_LIMIT:
            raise ValueError(f"This message is {len(text):,} characters long; the limit is {MESSAGE_LIMIT:,}. "
                             "Shorten it or split it into several messages.")
        with self.db.write() as session:
            conversation = self._conversation(session)
            message = Message(user_id=conversation.user_id, conversation_id=conversation.id, role="user",
                              content=text, seq=next_seq(session, conversation.id))
            if not (conversation.title or "").strip():
                conversation.title = default_title(text)
            session.add(message)
            session.add(conversation)
        return self._ask(message.id, [])

    def retry(self) -> TurnResult:
        """Re-ask the thread's last user message (after a failure); no second copy of it is stored."""
        return self._reask(require_reply=False)

    def regenerate(self) -> TurnResult:
        """Ask again for the last reply; the old one is replaced when the new one starts arriving."""
        return self._reask(require_reply=True)

    # -- internals -------------------------------------------------------------------------------
    def _conversation(self, session) -> Conversation:
        conversation = session.get(Conversation, self.conversation_id)
        if conversation is None or conversation.deleted_at is not None:
            raise ValueError("That thread no longer exists.")
        if self.connection_id and conversation.agent_connection_id != self.connection_id:
            conversation.agent_connection_id = self.connection_id
            session.add(conversation)
        return conversation

    def _reask(self, require_reply: bool) -> TurnResult:
        with self.db.write() as session:  # a connection_id given for the retry is kept
            self._conversation(session)
            last = last_message(session, self.conversation_id)
            if require_reply and (last is None or last.role != "assistant"):
                raise ValueError("There is no reply to regenerate.")
            user = last_message(session, self.conversation_id, role="user")
            if user is None:
                raise ValueError("There is no message to ask again.")
            later = session.exec(
                select(Message).where(Message.conversation_id == self.conversation_id,
                                      Message.deleted_at.is_(None), Message.role == "assistant",
                                      Message.id != user.id,
                                      tuple_(Message.seq, Message.id) > tuple_(user.seq, user.id))
            ).all()
        return self._ask(user.id, [m.id for m in later])

    def _ask(self, user_message_id: str, replace: list[str]) -> TurnResult:
        result = TurnResult(FAILED, self.conversation_id, user_message_id)
        # A read: send() and _reask() already stored the thread's binding to self.connection_id.
        with self.db.session() as session:
            user = session.get(Message, user_message_id)
            conversation = self._conversation(session)
            connection = (session.get(AgentConnection, conversation.agent_connection_id)
                          if conversation.agent_connection_id else None)
            if connection is None or connection.deleted_at is not None:
                return self._fail(result, LLMError(errors.INVALID, "This thread has no connection: "
                                                                   "choose one in Bind, then retry."))
            prompt = assemble_prompt(session, connection, self.conversation_id, user)
            base_url, model, owner = connection.base_url, connection.model, conversation.user_id
            connection_id = connection.id
            # The reply is signed by what writes it, not by whatever the thread is bound to later.
            self._author = result.connection_id, result.model = (connection.id, model[:MODEL_LIMIT])
        try:
            client = LLMClient(base_url, model, self._key, read_timeout=self.read_timeout)
        except LLMError as err:
            self._check_connection(result, connection_id, err)
            return self._fail(result, err)
        parts: list[str] = []
        last_flush = time.monotonic()
        try:
            for delta in client.stream_chat(prompt.messages, cancel=self._cancel):
                parts.append(delta)
                if result.reply_message_id is None:
                    self._start_reply(result, owner, "".join(parts), replace)
                    last_flush = time.monotonic()
                elif time.monotonic() - last_flush >= self.flush_interval:
                    self._save_reply(result, "".join(parts))
                    last_flush = time.monotonic()
                if self.on_delta:
                    self.on_delta(delta)
        except LLMError as err:
            text = "".join(parts) or err.partial
            if text:
                self._keep(result, owner, text, replace)
            self._check_connection(result, connection_id, err)
            return self._fail(result, err)
        finally:
            client.close()
        text = "".join(parts)
        if text or not self.cancelled:  # Stop before the first token says nothing about the endpoint
            self._check_connection(result, connection_id, None)
        if self.cancelled:
            result.status = STOPPED
            if text:
                self._keep(result, owner, text, replace)
        else:
            result.status = DONE
            self._keep(result, owner, text, replace)  # an empty reply is stored too: it is what came
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

    def _keep(self, result: TurnResult, owner: str | None, text: str, replace: list[str]) -> None:
        if result.reply_message_id is None:
            self._start_reply(result, owner, text, replace)
        else:
            self._save_reply(result, text)

    def _start_reply(self, result: TurnResult, owner: str | None, text: str, replace: list[str]) -> None:
        # The new reply appears and the replies it replaces disappear in one transaction.
        with self.db.write() as session:
            if session.get(Conversation, self.conversation_id) is None:  # thread deleted mid-stream
                self.cancel()
                return
            # After everything in the thread, so after its question on every device, whatever the clocks.
            reply = Message(user_id=owner, conversation_id=self.conversation_id, role="assistant", content=text,
                            seq=next_seq(session, self.conversation_id),
                            agent_connection_id=self._author[0], model=self._author[1])
            session.add(reply)
            for old_id in replace:
                old = session.get(Message, old_id)
                if old is not None:
                    session.delete(old)
        result.reply_message_id, result.text = reply.id, text
        result.replaced_message_ids = list(replace)

    def _save_reply(self, result: TurnResult, text: str) -> None:
        if text == result.text:
            return
        with self.db.write() as session:
            reply = session.get(Message, result.reply_message_id)
            if reply is None:  # deleted meanwhile (thread deleted during the stream): nothing to keep
                return
            reply.content = text
            session.add(reply)
        result.text = text
