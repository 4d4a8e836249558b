"""A thread with attachments continued on another device, on the stand-in: the rows sync, the bytes go
through Storage, and the second device's turn downloads them (checked) and sends exactly the parts the
first device sent."""

from __future__ import annotations

import io

from PIL import Image

from agent.attachments.reading import prepare_bytes
from agent.chat.turn import DONE, FAILED, ChatTurn
from local_schema.models import AgentConnection, Conversation
from sync import attachments as blobs


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (20, 90, 200)).save(out, "PNG")
    return out.getvalue()


def test_another_device_downloads_and_sends_the_same_parts(devices, fake_llm):
    a, b = devices("a"), devices("b")
    with a.db.write() as s:
        connection = AgentConnection(name="Vision", provider="custom", base_url=fake_llm.base_url, model="m",
                                     accepts_images=True)
        thread = Conversation(agent_connection_id=connection.id)
        s.add(connection)
        s.add(thread)
    image = _png()
    first = ChatTurn(a.db, thread.id).send("Look", [prepare_bytes("photo.png", image),
                                                    prepare_bytes("notes.md", b"kale in bed 2")])
    assert first.status == DONE
    sent = fake_llm.chat_requests[-1].messages[-1]
    assert sent["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    a.sync()  # the rows, then the bytes
    b.sync()
    shas = [r["sha256"] for r in b.rows("attachments").values()]
    assert len(shas) == 2 and not any(blobs.local_copy(blobs.store_root(b.db), sha) for sha in shas)

    no_storage = ChatTurn(b.db, thread.id).send("And without Storage?")  # a clear failure, nothing sent
    assert no_storage.status == FAILED and "photo.png cannot be sent" in no_storage.error.message
    assert len(fake_llm.chat_requests) == 1
    again = ChatTurn(b.db, thread.id, storage=b.engine.storage).send("And now?")
    assert again.status == DONE, again.error
    assert fake_llm.chat_requests[-1].messages[0] == sent  # downloaded, checked, rebuilt the same
    assert all(blobs.local_copy(blobs.store_root(b.db), sha) for sha in shas)
