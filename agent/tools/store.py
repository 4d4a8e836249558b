"""A `TurnStorage` that writes a tool turn into a thread as it is today (messages ordered by seq).

Each node of the turn — the assistant message with its calls, each `tool` result, the reply — is one
message written in its own transaction as soon as it exists, after everything in the thread (agent.chat.threads
next_seq_in), signed by the connection and model that wrote it like any reply (results carry the connection
too: they belong to its turn). With conversation trees (issue 21) each node's parent is the node written
just before it in the turn (the first one's: the user's message): docs/tools.md.
"""

from __future__ import annotations

from agent.chat.threads import next_seq_in
from agent.storable import clean_text
from local_schema.database import LocalDatabase
from local_schema.models import Conversation, Message

CONTENT_LIMIT = 200_000  # messages.content on the server


class ThreadStorage:
    def __init__(self, db: LocalDatabase, conversation_id: str, *, connection_id: str | None = None,
                 model: str | None = None) -> None:
        self.db, self.conversation_id = db, conversation_id
        self.connection_id, self.model = connection_id, model
        self.written: list[str] = []

    def _add(self, role: str, text: str, **columns) -> str:
        with self.db.write() as session:
            thread = session.get(Conversation, self.conversation_id)
            if thread is None or thread.deleted_at is not None:
                raise ValueError("That thread no longer exists.")
            message = Message(user_id=thread.user_id, conversation_id=thread.id, role=role,
                              content=clean_text(text)[:CONTENT_LIMIT], seq=next_seq_in(session, thread.id),
                              agent_connection_id=self.connection_id, model=self.model, **columns)
            session.add(message)
        self.written.append(message.id)
        return message.id

    def add_assistant(self, text: str, tool_calls: list[dict] | None) -> str:
        return self._add("assistant", text, tool_calls=tool_calls or None)

    def add_tool_result(self, tool_call_id: str, name: str, text: str) -> str:
        return self._add("tool", text, tool_call_id=tool_call_id)
